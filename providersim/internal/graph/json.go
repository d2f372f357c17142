package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// kv and obj build JSON objects whose keys keep their order, as Graph's do.
type kv struct {
	k string
	v any
}

type obj []kv

// MarshalJSON writes the object in order, without HTML escaping.
func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshal(f.k)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshal(f.v)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// odataBool is an Edm.Boolean in a request body. Graph's OData reader takes
// a JSON boolean or the same literal in a string ("false", as in Microsoft's
// own sendMail sample), in any case.
type odataBool bool

func (b *odataBool) UnmarshalJSON(raw []byte) error {
	var v bool
	if err := json.Unmarshal(raw, &v); err == nil {
		*b = odataBool(v)
		return nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return errors.New("not a boolean")
	}
	switch strings.ToLower(strings.TrimSpace(str)) {
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return errors.New("not a boolean")
	}
	return nil
}
