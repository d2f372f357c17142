package templates

import (
	"errors"
	"strings"
	"testing"
)

var fields = Fields{Objects: Standard, CustomFields: []string{"github_handle"}}

func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		variable  string
		reason    string
	}{
		{"unknown field", "Hi {{ candidate.nickname }}", 1, "candidate.nickname", "unknown variable"},
		{"unknown object on line 3", "Hello\n\n{{ boss.name }}", 3, "boss.name", "unknown variable"},
		{"unknown inside a fallback", `{{ candidate.nick | default: "there" }}`, 1, "candidate.nick", "unknown variable"},
		{"unknown as a filter argument", "{{ candidate.first_name | default: sender.nick }}", 1, "sender.nick", "unknown variable"},
		{"unknown in a condition", "a\n{% if candidate.age > 3 %}x{% endif %}", 2, "candidate.age", "unknown variable"},
		{"unknown in an elsif", "{% if candidate.title %}\n{% elsif job.salary %}y{% endif %}", 2, "job.salary", "unknown variable"},
		{"unknown custom field", "{{ candidate.custom_fields.twitter }}", 1, "candidate.custom_fields.twitter", "unknown variable"},
		{"a whole object", "{{ candidate }}", 1, "candidate", "unknown variable"},
		{"syntax error", "Hi\n{{ candidate.first_name | default: }}", 2, "", "syntax error"},
		{"unclosed block", "{% if candidate.title %}x", 1, "", "syntax error"},
		{"include is outside the sandbox", `{% include "/etc/passwd" %}`, 1, "", "not allowed"},
		{"loops are outside the sandbox", "{% for x in candidate.name %}{{ x }}{% endfor %}", 1, "", "not allowed"},
		{"assign is outside the sandbox", "{% assign n = 1 %}", 1, "", "not allowed"},
		{"brackets", `{{ candidate["name"] }}`, 1, "", "dot notation"},
		{"unknown filter", "{{ candidate.name | shout }}", 1, "", "unknown filter"},
	}
	e := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Check(tc.src, fields)
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("want *Error, got %v", err)
			}
			if te.Line != tc.line || te.Variable != tc.variable || !strings.Contains(te.Reason, tc.reason) {
				t.Fatalf("got line %d variable %q reason %q", te.Line, te.Variable, te.Reason)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	e := New()
	for _, src := range []string{
		"Hi {{ candidate.first_name }},",
		`Hi {{ candidate.first_name | default: "there" }}`,
		"{{ candidate.first_name | upcase | truncate: 10 }}",
		"{% if candidate.company != blank %}at {{ candidate.company }}{% else %}hello{% endif %}",
		"{% case job.title %}{% when \"CTO\" %}boss{% else %}{{ job.title }}{% endcase %}",
		"{% comment %}{{ nothing.checked }}{% endcomment %}{{ organization.name }} / {{ sender.email }}",
		"{{ candidate.custom_fields.github_handle | default: 'you' }} 1.5 and 'quoted | pipe'",
		"no variables at all",
	} {
		if err := e.Check(src, fields); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func values() Values {
	return Values{
		Objects: map[string]map[string]string{
			"candidate": {"first_name": "Ada", "last_name": "<Lovelace>", "company": ""},
			"sender":    {"name": "Grace & Co"},
		},
		CustomFields: map[string]string{"github_handle": "<script>"},
	}
}

func TestRender(t *testing.T) {
	e := New()
	got, err := e.RenderHTML(`<p>Hi {{ candidate.first_name }} {{ candidate.last_name }} from {{ sender.name }}, {{ candidate.company | default: "your company" }}, {{ candidate.custom_fields.github_handle }}</p>`, values())
	if err != nil {
		t.Fatal(err)
	}
	want := "<p>Hi Ada &lt;Lovelace&gt; from Grace &amp; Co, your company, &lt;script&gt;</p>"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	subject, err := e.RenderText(`{{ candidate.first_name }} & {{ sender.name }}: {{ job.title | default: "a role" }}`, values())
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Ada & Grace & Co: a role" {
		t.Fatalf("subject %q", subject)
	}
}

func TestRenderOutputLimit(t *testing.T) {
	e := New()
	v := values()
	v.Objects["candidate"]["first_name"] = strings.Repeat("a", 100_000)
	_, err := e.RenderText(strings.Repeat("{{ candidate.first_name }}", 6), v)
	var te *Error
	if !errors.As(err, &te) || !strings.Contains(te.Reason, "more than") {
		t.Fatalf("want the output limit, got %v", err)
	}
}
