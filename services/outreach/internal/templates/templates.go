// Package templates renders the subjects and bodies recruiters write for
// flow steps: Liquid (github.com/osteele/liquid, ADR 21), sandboxed to
// variables, filters and conditionals. A template is checked when its step
// is saved: a syntax error, a tag outside the sandbox or a variable the
// context does not have is refused with its line, so nothing fails at send
// time. Values that land in an HTML body are HTML-escaped.
package templates

import (
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"sync"
	"unicode"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"
)

// MaxOutput bounds what one template renders to. Without loops the output
// grows linearly with the source, but a value repeated by a long template
// must not build an e-mail the mailbox would refuse (1 MB).
const MaxOutput = 512 << 10

// Error is a template refused: where and why.
type Error struct {
	// Line is the 1-based line of the template; 0 when unknown.
	Line int
	// Variable is the unknown variable, when that is the reason.
	Variable string
	Reason   string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// Fields are the variables a template may use, by object: "candidate" ->
// {"first_name", ...}. CustomFields are the organization's custom field
// keys, used as candidate.custom_fields.<key>.
type Fields struct {
	Objects      map[string][]string
	CustomFields []string
}

// Standard are the objects and fields every organization's templates have.
var Standard = map[string][]string{
	"candidate":    {"name", "first_name", "last_name", "email", "title", "company", "location"},
	"sender":       {"name", "first_name", "email"},
	"job":          {"title", "location"},
	"organization": {"name"},
}

// allowedTags are the tags of the sandbox: conditionals and comments. No
// include (the file system), no loops (unbounded work), no assign or
// capture (names the check cannot follow).
var allowedTags = map[string]bool{"if": true, "elsif": true, "else": true, "unless": true, "case": true, "when": true, "comment": true, "raw": true}

// Engine parses and renders templates; safe for concurrent use.
type Engine struct {
	liquid *liquid.Engine
	// parsed caches templates by source: every send of a step renders
	// the same two, and parsing costs more than rendering.
	mu     sync.Mutex
	parsed map[string]*liquid.Template
}

// maxParsed bounds the cache; past it the cache starts again, which
// costs a parse per template and nothing else.
const maxParsed = 4096

// parse returns the parsed template of src, from the cache when it can.
func (e *Engine) parse(src string) (*liquid.Template, error) {
	e.mu.Lock()
	t, ok := e.parsed[src]
	e.mu.Unlock()
	if ok {
		return t, nil
	}
	t, serr := e.liquid.ParseTemplateLocation([]byte(src), "", 1)
	if serr != nil {
		return nil, &Error{Line: serr.LineNumber(), Reason: "syntax error: " + causeText(serr)}
	}
	e.mu.Lock()
	if len(e.parsed) >= maxParsed {
		e.parsed = map[string]*liquid.Template{}
	}
	e.parsed[src] = t
	e.mu.Unlock()
	return t, nil
}

// errSandbox is what a refused tag does if a template gets past the check.
var errSandbox = errors.New("tag not allowed")

// New returns the sandboxed engine.
func New() *Engine {
	e := liquid.NewEngine()
	// The check refuses these tags; replacing them makes sure a template
	// that somehow escaped the check still cannot read a file.
	for _, tag := range []string{"include", "cycle", "assign"} {
		e.RegisterTag(tag, func(render.Context) (string, error) { return "", errSandbox })
	}
	return &Engine{liquid: e, parsed: map[string]*liquid.Template{}}
}

// Check parses src and refuses what the sandbox or the fields do not
// allow, then renders it once with every field set, which catches unknown
// filters and bad filter arguments.
func (e *Engine) Check(src string, f Fields) error {
	t, serr := e.liquid.ParseTemplateLocation([]byte(src), "", 1)
	if serr != nil {
		return &Error{Line: serr.LineNumber(), Reason: "syntax error: " + causeText(serr)}
	}
	if err := checkNode(t.GetRoot(), f); err != nil {
		return err
	}
	probe := Values{Objects: map[string]map[string]string{}, CustomFields: map[string]string{}}
	for obj, names := range f.Objects {
		probe.Objects[obj] = map[string]string{}
		for _, n := range names {
			probe.Objects[obj][n] = "x"
		}
	}
	for _, k := range f.CustomFields {
		probe.CustomFields[k] = "x"
	}
	if _, err := e.render(t, probe, false); err != nil {
		return err
	}
	return nil
}

// Values are what a template is rendered with: the fields of each object
// and the candidate's custom fields. A field without a value is "", which
// the default filter replaces.
type Values struct {
	Objects      map[string]map[string]string
	CustomFields map[string]string
}

// RenderText renders a plain-text template (a subject).
func (e *Engine) RenderText(src string, v Values) (string, error) {
	t, err := e.parse(src)
	if err != nil {
		return "", err
	}
	return e.render(t, v, false)
}

// RenderHTML renders an HTML template (a body): every value is escaped,
// so a candidate named "<b>" shows as text and cannot inject markup. The
// template's own markup (and its literal defaults) is the author's.
func (e *Engine) RenderHTML(src string, v Values) (string, error) {
	t, err := e.parse(src)
	if err != nil {
		return "", err
	}
	return e.render(t, v, true)
}

func (e *Engine) render(t *liquid.Template, v Values, escape bool) (string, error) {
	esc := func(s string) string { return s }
	if escape {
		esc = html.EscapeString
	}
	b := map[string]any{}
	for obj, fields := range v.Objects {
		m := map[string]any{}
		for k, val := range fields {
			m[k] = esc(val)
		}
		b[obj] = m
	}
	custom := map[string]any{}
	for k, val := range v.CustomFields {
		custom[k] = esc(val)
	}
	if c, ok := b["candidate"].(map[string]any); ok {
		c["custom_fields"] = custom
	} else {
		b["candidate"] = map[string]any{"custom_fields": custom}
	}
	var out limitedBuffer
	if err := t.FRender(&out, b); err != nil {
		return "", &Error{Line: err.LineNumber(), Reason: causeText(err)}
	}
	if out.over {
		return "", &Error{Reason: fmt.Sprintf("renders to more than %d bytes", MaxOutput)}
	}
	return out.String(), nil
}

// limitedBuffer stops growing at MaxOutput and remembers it did. It
// drops rather than fails the write: liquid panics on a writer's error.
type limitedBuffer struct {
	strings.Builder
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.over || b.Len()+len(p) > MaxOutput {
		b.over = true
		return len(p), nil
	}
	return b.Builder.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)

// causeText is the library's reason without its own "Liquid error (line
// n):" prefix; it is about the author's template, never about our
// systems, so it may be shown.
func causeText(err interface {
	Cause() error
	Error() string
}) string {
	msg := err.Error()
	if c := err.Cause(); c != nil {
		msg = c.Error()
	}
	if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "Liquid error (") && i > 0 {
		msg = msg[i+3:]
	}
	return strings.TrimPrefix(msg, "Liquid error: ")
}

// checkNode walks the parsed template: every tag must be in the sandbox and
// every variable known.
func checkNode(n render.Node, f Fields) error {
	switch n := n.(type) {
	case *render.SeqNode:
		for _, c := range n.Children {
			if err := checkNode(c, f); err != nil {
				return err
			}
		}
	case *render.ObjectNode:
		return checkExpr(n.Args, n.SourceLoc.LineNo, f)
	case *render.TagNode:
		return &Error{Line: n.SourceLoc.LineNo, Reason: fmt.Sprintf("the tag %q is not allowed in flow templates (only if, unless, case and comment)", n.Name)}
	case *render.BlockNode:
		if !allowedTags[n.Name] {
			return &Error{Line: n.SourceLoc.LineNo, Reason: fmt.Sprintf("the tag %q is not allowed in flow templates (only if, unless, case and comment)", n.Name)}
		}
		if n.Name == "comment" || n.Name == "raw" {
			return nil
		}
		if err := checkExpr(n.Args, n.SourceLoc.LineNo, f); err != nil {
			return err
		}
		for _, c := range n.Body {
			if err := checkNode(c, f); err != nil {
				return err
			}
		}
		for _, c := range n.Clauses {
			if err := checkNode(c, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// allowedFilters are Liquid's standard filters that work on text and
// numbers; the ones that build lists or objects have nothing to work on.
var allowedFilters = map[string]bool{
	"default": true, "upcase": true, "downcase": true, "capitalize": true, "strip": true, "lstrip": true, "rstrip": true,
	"strip_newlines": true, "newline_to_br": true, "truncate": true, "truncatewords": true, "replace": true, "replace_first": true,
	"remove": true, "remove_first": true, "append": true, "prepend": true, "size": true, "date": true, "escape": true,
	"url_encode": true, "plus": true, "minus": true, "times": true, "divided_by": true, "round": true, "abs": true,
	"ceil": true, "floor": true, "slice": true,
}

var keywords = map[string]bool{"and": true, "or": true, "contains": true, "true": true, "false": true, "nil": true, "null": true, "empty": true, "blank": true}

// checkExpr finds the variables of a Liquid expression ("candidate.name |
// default: sender.name") and checks each against the fields. Filter names
// (after "|") are not variables; quoted strings and numbers are skipped.
func checkExpr(src string, line int, f Fields) error {
	afterPipe := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexByte(src[i+1:], c)
			if j < 0 {
				return &Error{Line: line, Reason: "unterminated string"}
			}
			i += j + 2
			afterPipe = false
		case c == '|':
			afterPipe = true
			i++
		case c == '[':
			return &Error{Line: line, Reason: "use dot notation (candidate.first_name), not brackets"}
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentPart(src[j]) || (src[j] == '.' && j+1 < len(src) && isIdentStart(src[j+1]))) {
				j++
			}
			if j < len(src) && src[j] == '?' {
				j++
			}
			word := src[i:j]
			i = j
			if afterPipe {
				afterPipe = false
				if !allowedFilters[word] {
					return &Error{Line: line, Reason: fmt.Sprintf("unknown filter %q", word)}
				}
				continue
			}
			if i < len(src) && src[i] == '[' {
				return &Error{Line: line, Reason: "use dot notation (candidate.first_name), not brackets"}
			}
			if keywords[word] {
				continue
			}
			if err := checkVariable(word, line, f); err != nil {
				return err
			}
		default:
			if !unicode.IsSpace(rune(c)) && c != ':' && c != ',' {
				afterPipe = false
			}
			i++
		}
	}
	return nil
}

func checkVariable(path string, line int, f Fields) error {
	unknown := &Error{Line: line, Variable: path, Reason: fmt.Sprintf("unknown variable %q", path)}
	parts := strings.Split(path, ".")
	fields, ok := f.Objects[parts[0]]
	if !ok {
		return unknown
	}
	if len(parts) == 3 && parts[0] == "candidate" && parts[1] == "custom_fields" {
		for _, k := range f.CustomFields {
			if k == parts[2] {
				return nil
			}
		}
		return unknown
	}
	if len(parts) != 2 {
		return unknown
	}
	for _, name := range fields {
		if name == parts[1] {
			return nil
		}
	}
	return unknown
}

func isIdentStart(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || ('0' <= c && c <= '9') || c == '-' }
