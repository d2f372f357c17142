package ashby

import (
	"testing"

	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestSanitizeNoteHTML(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                                                   "plain text",
		"<b>bold</b> <i>it</i> <u>u</u>":                               "<b>bold</b> <i>it</i> <u>u</u>",
		"<B class='x'>loud</B>":                                        "<b>loud</b>",
		"<p>para</p><div><span>nested</span></div>":                    "paranested",
		`<a href="https://e.example/?a=1&amp;b=2" target=_blank>l</a>`: `<a href="https://e.example/?a=1&amp;b=2">l</a>`,
		`<a href="javascript:alert(1)">x</a>`:                          "<a>x</a>",
		`<a href=mailto:me@e.example>m</a>`:                            `<a href="mailto:me@e.example">m</a>`,
		"<ul><li>1</li></ul><ol><li>2</li></ol>":                       "<ul><li>1</li></ul><ol><li>2</li></ol>",
		"<pre><code>x := 1</code></pre>":                               "<pre><code>x := 1</code></pre>",
		"a<script>steal()</script>b<style>p{}</style>c":                "abc",
		"<img src=x onerror=alert(1)>pic<br/>":                         "pic",
		"1 < 2 and 3 > 2":                                              "1 < 2 and 3 > 2",
	} {
		if got := sanitizeNoteHTML(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignIsTheHexHMACOfTheBody(t *testing.T) {
	// RFC 4231-style known answer, computed independently.
	got := Sign("key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSettingsDefaults(t *testing.T) {
	d := withDefaults(simclient.AshbySettings{})
	if d.RequestsPerSecond != 5 || d.Burst != 10 || d.ReportsPerMinute != 15 || d.ReportConcurrency != 3 ||
		d.MaxIncrementalPages != 100 || d.WebhookMaxAttempts != 10 || d.WebhookRetryBaseSeconds != 10 ||
		d.WebhookActionIDPlacement != "top" || d.SubmitOnAPICreate != "false" {
		t.Errorf("defaults %+v", d)
	}
	s := &Service{}
	if _, err := s.SetSettings(simclient.AshbySettings{WebhookActionIDPlacement: "header"}); err == nil {
		t.Error("bad placement accepted")
	}
	if _, err := s.SetSettings(simclient.AshbySettings{SubmitOnAPICreate: "maybe"}); err == nil {
		t.Error("bad boolean accepted")
	}
}
