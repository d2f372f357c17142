package graph

import (
	"strings"
	"time"
)

// A small $filter: conditions joined by "and", each "property op value".
// Properties: internetMessageId, conversationId, subject, isRead, isDraft,
// receivedDateTime, sentDateTime, from/emailAddress/address.

type condition struct {
	field string
	op    string
	str   string
	t     time.Time
}

type filter []condition

func invalidFilter() *graphError {
	return badRequest("ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
}

func parseFilter(raw string) (filter, *graphError) {
	var out filter
	rest := strings.TrimSpace(raw)
	for rest != "" {
		var c condition
		var ok bool
		c.field, rest, ok = nextToken(rest)
		if !ok {
			return nil, invalidFilter()
		}
		c.field = canonicalFilterField(c.field)
		if c.field == "" {
			return nil, invalidFilter()
		}
		c.op, rest, ok = nextToken(rest)
		c.op = strings.ToLower(c.op)
		if !ok || !strings.Contains(" eq ne ge gt le lt ", " "+c.op+" ") {
			return nil, invalidFilter()
		}
		if strings.HasPrefix(rest, "'") {
			v, after, ok := quoted(rest)
			if !ok {
				return nil, invalidFilter()
			}
			c.str, rest = v, strings.TrimSpace(after)
		} else {
			c.str, rest, _ = nextToken(rest)
		}
		if strings.HasSuffix(c.field, "DateTime") {
			t, err := time.Parse(time.RFC3339, c.str)
			if err != nil {
				return nil, invalidFilter()
			}
			c.t = t
		} else if c.op != "eq" && c.op != "ne" {
			return nil, invalidFilter()
		}
		out = append(out, c)
		if rest == "" {
			break
		}
		var and string
		and, rest, _ = nextToken(rest)
		if !strings.EqualFold(and, "and") || rest == "" {
			return nil, invalidFilter()
		}
	}
	return out, nil
}

func nextToken(s string) (tok, rest string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", false
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], strings.TrimSpace(s[i+1:]), true
	}
	return s, "", true
}

// quoted reads an OData string literal ('it”s').
func quoted(s string) (string, string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

func canonicalFilterField(f string) string {
	for _, name := range []string{"internetMessageId", "conversationId", "subject", "isRead", "isDraft", "receivedDateTime", "sentDateTime", "from/emailAddress/address"} {
		if strings.EqualFold(f, name) {
			return name
		}
	}
	return ""
}

func (f filter) match(m *message) bool {
	for _, c := range f {
		if !c.match(m) {
			return false
		}
	}
	return true
}

func (c condition) match(m *message) bool {
	var t time.Time
	var s string
	switch c.field {
	case "internetMessageId":
		s = m.internetID
	case "conversationId":
		s = m.conversationID
	case "subject":
		s = m.subject
	case "isRead":
		s = boolString(m.isRead)
	case "isDraft":
		s = boolString(m.isDraft)
	case "from/emailAddress/address":
		s = strings.ToLower(addrOf(m.from))
		c.str = strings.ToLower(c.str)
	case "receivedDateTime":
		t = m.received
	case "sentDateTime":
		t = m.sent
	}
	if !c.t.IsZero() {
		cmp := t.Compare(c.t)
		switch c.op {
		case "eq":
			return cmp == 0
		case "ne":
			return cmp != 0
		case "ge":
			return cmp >= 0
		case "gt":
			return cmp > 0
		case "le":
			return cmp <= 0
		default:
			return cmp < 0
		}
	}
	if c.op == "ne" {
		return s != c.str
	}
	return s == c.str
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
