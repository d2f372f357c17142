package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The gateway decodes each REST request (path, query, body) into the
// service's request message before calling it. grpc-gateway reports a
// failure as InvalidArgument carrying the library's text (protojson,
// strconv) and no field; here the decoders say what is wrong in Tandem's
// words and name the field, and handleError turns that into the stable
// error shape.

// requestError is a request the gateway could not decode. It passes
// through grpc-gateway's generated code only as text (status.Errorf with
// %v), so Error is a private format that parseRequestError reads back.
type requestError struct {
	// Field is the field or parameter, as a proto path or as the client
	// wrote it; empty when the problem is the request as a whole.
	Field       string
	Description string
}

const requestErrorPrefix = "tandem: undecodable request\x1f"

func (e requestError) Error() string { return requestErrorPrefix + e.Field + "\x1f" + e.Description }

func parseRequestError(msg string) (requestError, bool) {
	rest, ok := strings.CutPrefix(msg, requestErrorPrefix)
	if !ok {
		return requestError{}, false
	}
	field, desc, ok := strings.Cut(rest, "\x1f")
	return requestError{Field: field, Description: desc}, ok
}

// detail is the error shape for e.
func (e requestError) detail() ErrorDetail {
	d := ErrorDetail{Code: http.StatusBadRequest, Status: statusNames[codes.InvalidArgument], Message: e.Description}
	if e.Field != "" {
		d.Message = e.Field + " " + e.Description
		d.Fields = []FieldViolation{{Field: e.Field, Description: e.Description}}
	}
	return d
}

// invalidRequest is what a client learns of a request the gateway could not
// decode for a reason it has no words of its own for.
const invalidRequest = "the request is not valid"

// upstreamMark records whether a request reached a service, so that an
// InvalidArgument is known to be the gateway's own decoding failure.
type upstreamMark struct{ sent atomic.Bool }

type upstreamMarkKey struct{}

func withUpstreamMark(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), upstreamMarkKey{}, &upstreamMark{}))
}

// decodedLocally reports whether the request failed before any service saw
// it. Without a mark, it says no.
func decodedLocally(ctx context.Context) bool {
	m, ok := ctx.Value(upstreamMarkKey{}).(*upstreamMark)
	return ok && !m.sent.Load()
}

func markUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if m, ok := ctx.Value(upstreamMarkKey{}).(*upstreamMark); ok {
		m.sent.Store(true)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func markStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if m, ok := ctx.Value(upstreamMarkKey{}).(*upstreamMark); ok {
		m.sent.Store(true)
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// validPathParams refuses path parameters that are not UTF-8: proto strings
// must be, and the gRPC client would fail to marshal them (Internal).
func validPathParams(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		for _, k := range sortedKeys(params) {
			if !utf8.ValidString(params[k]) {
				writeDetail(r.Context(), w, requestError{Field: k, Description: "must be valid UTF-8"}.detail())
				return
			}
		}
		next(w, r, params)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonMarshaler is grpc-gateway's JSON marshaler with Tandem's decode
// errors.
type jsonMarshaler struct {
	runtime.JSONPb
}

func (m *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return &jsonDecoder{dec: json.NewDecoder(r), pb: &m.JSONPb}
}

type jsonDecoder struct {
	dec *json.Decoder
	pb  *runtime.JSONPb
}

func (d *jsonDecoder) Decode(v any) error {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return err // an empty body, which the generated code accepts
		}
		return requestError{Description: "the request body is not valid JSON"}
	}
	if err := d.pb.Unmarshal(raw, v); err != nil {
		msg := target(v)
		if msg == nil {
			return requestError{Description: invalidRequest}
		}
		if e, ok := bodyError(msg.ProtoReflect().Descriptor(), raw, "", d.pb.UnmarshalOptions); ok {
			return e
		}
		return requestError{Description: invalidRequest}
	}
	return nil
}

// target is the message v decodes into: v itself, or a new one for a
// pointer to a message field (a rule with body: "field").
func target(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Pointer {
		if m, ok := reflect.New(rv.Elem().Type().Elem()).Interface().(proto.Message); ok {
			return m
		}
	}
	return nil
}

// bodyError finds the first field of a JSON object (by name) that does not
// decode into md, decoding each field alone with protojson so its rules
// (enum names, 64-bit integers as strings, timestamps) are the ones that
// judge. It descends into nested messages to name the innermost field.
func bodyError(md protoreflect.MessageDescriptor, raw json.RawMessage, path string, opts protojson.UnmarshalOptions) (requestError, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		if path == "" {
			return requestError{Description: "the request body must be a JSON object"}, true
		}
		return requestError{Field: path, Description: "must be an object"}, true
	}
	for _, k := range sortedKeys(obj) {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k))
		}
		if fd == nil {
			if opts.DiscardUnknown {
				continue
			}
			return requestError{Field: join(path, strings.ToValidUTF8(k, "\uFFFD")), Description: "is not a field of this request"}, true
		}
		key, _ := json.Marshal(k) //nolint:errcheck // a string always encodes (invalid UTF-8 is replaced)
		one := append(append(append([]byte("{"), key...), ':'), obj[k]...)
		if err := opts.Unmarshal(append(one, '}'), dynamicpb.NewMessage(md)); err == nil {
			continue
		}
		name := join(path, string(fd.Name()))
		if fd.Kind() == protoreflect.MessageKind && fd.Cardinality() != protoreflect.Repeated && !wellKnown(fd.Message()) {
			if e, ok := bodyError(fd.Message(), obj[k], name, opts); ok {
				return e, true
			}
		}
		return requestError{Field: name, Description: expectation(fd, obj[k])}, true
	}
	return requestError{}, false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func wellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

// expectation says what a field's JSON value must be.
func expectation(fd protoreflect.FieldDescriptor, raw json.RawMessage) string {
	switch {
	case fd.IsMap():
		return "must be an object whose values are each " + noun(fd.MapValue())
	case fd.IsList():
		if len(raw) > 0 && raw[0] == '[' {
			return "must be a list whose items are each " + noun(fd)
		}
		return "must be a list"
	case fd.Kind() == protoreflect.StringKind && len(raw) > 0 && raw[0] == '"':
		return "must be valid UTF-8"
	}
	return "must be " + noun(fd)
}

func noun(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "base64-encoded bytes"
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		names := make([]string, 0, vals.Len())
		for i := range vals.Len() {
			names = append(names, string(vals.Get(i).Name()))
		}
		return "one of " + strings.Join(names, ", ")
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "a whole number from -2147483648 to 2147483647"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "a whole number from 0 to 4294967295"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "a whole number"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a whole number, not negative"
	}
	switch fd.Message().FullName() {
	case "google.protobuf.Timestamp":
		return `a timestamp such as "2026-01-02T15:04:05Z"`
	case "google.protobuf.Duration":
		return `a duration such as "1.5s"`
	case "google.protobuf.FieldMask":
		return "a comma-separated list of field names"
	}
	if wellKnown(fd.Message()) {
		if v := fd.Message().Fields().ByName("value"); v != nil && fd.Message().Fields().Len() == 1 {
			return noun(v) // a wrapper
		}
	}
	return "an object"
}

// queryParser is grpc-gateway's query parser with Tandem's errors.
type queryParser struct{ runtime.DefaultQueryParser }

func (p queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := sortedKeys(values)
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return requestError{Field: strings.ToValidUTF8(k, "\uFFFD"), Description: "is not a valid parameter name"}
		}
		for _, v := range values[k] {
			if !utf8.ValidString(v) {
				return requestError{Field: k, Description: "must be valid UTF-8"}
			}
		}
	}
	if err := p.DefaultQueryParser.Parse(msg, values, filter); err == nil {
		return nil
	}
	for _, k := range keys {
		if err := p.DefaultQueryParser.Parse(msg.ProtoReflect().New().Interface(), url.Values{k: values[k]}, filter); err != nil {
			if fd := queryField(msg.ProtoReflect().Descriptor(), k); fd != nil {
				return requestError{Field: k, Description: "must be " + noun(fd)}
			}
			return requestError{Field: k, Description: "is not valid"}
		}
	}
	return requestError{Description: invalidRequest}
}

// queryField is the field a dotted query parameter names.
func queryField(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for part := range strings.SplitSeq(key, ".") {
		if md == nil {
			return nil
		}
		if fd = md.Fields().ByJSONName(part); fd == nil {
			if fd = md.Fields().ByName(protoreflect.Name(part)); fd == nil {
				return nil
			}
		}
		md = fd.Message()
	}
	return fd
}
