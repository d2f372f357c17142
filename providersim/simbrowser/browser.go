// Package simbrowser drives providersim's sign-in and consent pages the way a
// browser would: a cookie jar, redirects followed inside the simulator, and
// forms submitted from the page. It stops when a redirect leaves the
// simulator (the redirect back to the application), so a test can read the
// code, state or error there.
//
// It understands the simulator's own pages only: every page names itself in
// <meta name="sim-page">, has at most one <form method="post">, and marks
// inputs, buttons and links with stable ids and names (see the README).
package simbrowser

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Browser is a cookie-keeping HTTP client for the simulator's pages.
type Browser struct {
	client *http.Client
}

// New returns a browser that follows redirects while they stay on the host
// of simBaseURL (the simulator's identity platform) and stops at the first
// one that leaves it.
func New(simBaseURL string) (*Browser, error) {
	base, err := url.Parse(simBaseURL)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &Browser{client: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != base.Host {
				return http.ErrUseLastResponse
			}
			if len(via) > 20 {
				return errors.New("simbrowser: too many redirects")
			}
			return nil
		},
	}}, nil
}

// Client is the underlying HTTP client, with the browser's cookies.
func (b *Browser) Client() *http.Client { return b.client }

// Page is what the browser ended on.
type Page struct {
	URL       *url.URL
	Status    int
	Body      string
	Name      string // <meta name="sim-page">: signin, pick-account, consent, admin-consent, admin-approval-needed, approval-required, request-sent, error, form-post
	ErrorCode string // <meta name="sim-error-code">, e.g. AADSTS50011
	// Redirect is where the simulator sent the browser outside itself (the
	// application's redirect URI with code/state or error), when it did.
	Redirect *url.URL
	Form     *Form
}

// Form is the page's form.
type Form struct {
	ID      string
	Action  string     // absolute URL
	Fields  url.Values // hidden and text inputs, textareas, with their values
	Buttons []Button
	Boxes   []string // names of checkboxes (unchecked unless you set them)
}

// Button is a submit button.
type Button struct{ ID, Name, Value string }

// Get loads a URL.
func (b *Browser) Get(ctx context.Context, rawURL string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Submit posts the page's form: its own fields, overridden by values, plus
// the name and value of the button with buttonID (if any).
func (b *Browser) Submit(ctx context.Context, p *Page, values url.Values, buttonID string) (*Page, error) {
	if p.Form == nil {
		return nil, fmt.Errorf("simbrowser: page %q has no form", p.Name)
	}
	data := url.Values{}
	for k, v := range p.Form.Fields {
		data[k] = append([]string(nil), v...)
	}
	for k, v := range values {
		data[k] = v
	}
	if buttonID != "" {
		found := false
		for _, btn := range p.Form.Buttons {
			if btn.ID == buttonID {
				found = true
				if btn.Name != "" {
					data.Set(btn.Name, btn.Value)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("simbrowser: page %q has no button #%s", p.Name, buttonID)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Form.Action, strings.NewReader(data.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// Follow opens the link with the id.
func (b *Browser) Follow(ctx context.Context, p *Page, linkID string) (*Page, error) {
	href := p.Link(linkID)
	if href == "" {
		return nil, fmt.Errorf("simbrowser: page %q has no link #%s", p.Name, linkID)
	}
	return b.Get(ctx, href)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return nil, err
		}
		p.Redirect = loc
		return p, nil
	}
	p.parse()
	return p, nil
}

var (
	metaRe     = regexp.MustCompile(`<meta name="(sim-page|sim-error-code)" content="([^"]*)">`)
	formRe     = regexp.MustCompile(`(?s)<form id="([^"]*)" method="post" action="([^"]*)">(.*?)</form>`)
	inputRe    = regexp.MustCompile(`<input ([^>]*)>`)
	textareaRe = regexp.MustCompile(`(?s)<textarea ([^>]*)>(.*?)</textarea>`)
	buttonRe   = regexp.MustCompile(`<button ([^>]*)>`)
	linkRe     = regexp.MustCompile(`<a id="([^"]*)" href="([^"]*)">`)
	attrRe     = regexp.MustCompile(`([a-zA-Z_-]+)="([^"]*)"`)
	scopeRe    = regexp.MustCompile(`data-scope="([^"]*)"`)
)

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

func (p *Page) parse() {
	for _, m := range metaRe.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == "sim-page" {
			p.Name = m[2]
		} else {
			p.ErrorCode = m[2]
		}
	}
	fm := formRe.FindStringSubmatch(p.Body)
	if fm == nil {
		return
	}
	action, err := p.URL.Parse(html.UnescapeString(fm[2]))
	if err != nil {
		return
	}
	f := &Form{ID: fm[1], Action: action.String(), Fields: url.Values{}}
	for _, m := range inputRe.FindAllStringSubmatch(fm[3], -1) {
		a := attrs(m[1])
		if a["name"] == "" {
			continue
		}
		if a["type"] == "checkbox" {
			f.Boxes = append(f.Boxes, a["name"])
			continue
		}
		f.Fields.Set(a["name"], a["value"])
	}
	for _, m := range textareaRe.FindAllStringSubmatch(fm[3], -1) {
		if a := attrs(m[1]); a["name"] != "" {
			f.Fields.Set(a["name"], html.UnescapeString(m[2]))
		}
	}
	for _, m := range buttonRe.FindAllStringSubmatch(fm[3], -1) {
		a := attrs(m[1])
		f.Buttons = append(f.Buttons, Button{ID: a["id"], Name: a["name"], Value: a["value"]})
	}
	p.Form = f
}

// Link returns the absolute URL of the <a> with the id, or "".
func (p *Page) Link(id string) string {
	for _, m := range linkRe.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == id {
			u, err := p.URL.Parse(html.UnescapeString(m[2]))
			if err != nil {
				return ""
			}
			return u.String()
		}
	}
	return ""
}

// Scopes lists the scopes a consent page asks for (data-scope attributes).
func (p *Page) Scopes() []string {
	var out []string
	for _, m := range scopeRe.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// Has reports whether the page has an element with the id.
func (p *Page) Has(id string) bool { return strings.Contains(p.Body, `id="`+id+`"`) }
