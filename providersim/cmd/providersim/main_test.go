package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfigFlagsAndEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseConfig(nil, env(nil), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.MicrosoftAddr != "127.0.0.1:9201" || c.GraphAddr != "127.0.0.1:9202" || c.Seed != 1 || c.ClientID != "tandem-local" ||
		c.ClientSecret != "tandem-local-secret" || len(c.redirectURIs()) != 2 {
		t.Errorf("defaults %+v", c)
	}
	c, err = parseConfig([]string{"-seed", "9", "-redirect-uri", "http://localhost:3000/cb"}, env(map[string]string{
		"TANDEM_SIM_MICROSOFT_ADDR": "0.0.0.0:1", "TANDEM_SIM_SEED": "5", "TANDEM_SIM_CLIENT_SECRET": "s",
		"TANDEM_SIM_REDIRECT_URIS": "http://ignored.example/cb",
	}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.MicrosoftAddr != "0.0.0.0:1" || c.Seed != 9 || c.ClientSecret != "s" || len(c.redirectURIs()) != 3 || c.redirectURIs()[2] != "http://localhost:3000/cb" {
		t.Errorf("flags over env %+v", c)
	}
	if strings.Contains(c.String(), "tandem-local-secret") || strings.Contains(c.String(), "=s ") {
		t.Errorf("secret printed: %s", c)
	}
	c, err = parseConfig(nil, env(map[string]string{"TANDEM_SIM_REDIRECT_URIS": "http://a.example/cb, http://b.example/cb"}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.redirectURIs()) != 4 {
		t.Errorf("env redirect URIs %v", c.redirectURIs())
	}
	if c.AllowHTTPLoopback {
		t.Error("http notification URLs allowed by default")
	}
	if c, err := parseConfig([]string{"-allow-http-loopback"}, env(nil), &stderr); err != nil || !c.AllowHTTPLoopback {
		t.Errorf("-allow-http-loopback: %+v %v", c, err)
	}
	if c, err := parseConfig(nil, env(map[string]string{"TANDEM_SIM_ALLOW_HTTP_LOOPBACK": "true"}), &stderr); err != nil || !c.AllowHTTPLoopback {
		t.Errorf("TANDEM_SIM_ALLOW_HTTP_LOOPBACK: %+v %v", c, err)
	}
	if _, err := parseConfig(nil, env(map[string]string{"TANDEM_SIM_ALLOW_HTTP_LOOPBACK": "sure"}), &stderr); err == nil {
		t.Error("a non-boolean TANDEM_SIM_ALLOW_HTTP_LOOPBACK was accepted")
	}
	for _, bad := range [][]string{{"-seed", "x"}, {"-redirect-uri", "/relative"}, {"-log-level", "loud"}, {"-client-id", ""}, {"extra"}} {
		if _, err := parseConfig(bad, env(nil), &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writer and reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsURLsAndDemoUsersAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-microsoft-addr", "127.0.0.1:0", "-graph-addr", "127.0.0.1:0", "-ashby-addr", "127.0.0.1:0", "-lever-addr", "127.0.0.1:0", "-lever-oauth-addr", "127.0.0.1:0"}, env(nil), &out, &logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "lynne.robbins@northwind.example") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s %s", out.String(), logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	banner := out.String()
	for _, want := range []string{"megan.bowen@contoso.example", "diego.siciliani@fabrikam.example", "admin consent workflow on", "tandem-local", "http://localhost:8080/oauth/microsoft/callback", "http://localhost:8080/oauth/lever/callback", "Megan Bowen  <- can authorize Tandem", "Senior Go Engineer"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	if strings.Contains(banner, "tandem-local-secret\n") || strings.Contains(logs.String(), "tandem-local-secret") {
		t.Error("secret printed")
	}
	base := regexp.MustCompile(`Microsoft identity platform\s+(http://\S+)`).FindStringSubmatch(banner)
	if base == nil {
		t.Fatalf("no base URL in %s", banner)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(base[1] + "/organizations/v2.0/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("discovery: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestAshbyAddressAndDemoKeyInTheBanner(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseConfig(nil, env(nil), &stderr)
	if err != nil || c.AshbyAddr != "127.0.0.1:9203" || c.AshbyURL != "" {
		t.Fatalf("Ashby defaults %+v %v", c, err)
	}
	c, err = parseConfig([]string{"-ashby-url", "http://ashby.test:9203"}, env(map[string]string{"TANDEM_SIM_ASHBY_ADDR": "0.0.0.0:19203"}), &stderr)
	if err != nil || c.AshbyAddr != "0.0.0.0:19203" || c.AshbyURL != "http://ashby.test:9203" {
		t.Errorf("Ashby flags %+v %v", c, err)
	}
	if _, err := parseConfig([]string{"-ashby-url", "/relative"}, env(nil), &stderr); err == nil {
		t.Error("relative Ashby URL accepted")
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-microsoft-addr", "127.0.0.1:0", "-graph-addr", "127.0.0.1:0", "-ashby-addr", "127.0.0.1:0"}, env(nil), &out, &logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "try: curl") {
		if time.Now().After(deadline) {
			t.Fatalf("no Ashby banner: %s %s", out.String(), logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	banner := out.String()
	base := regexp.MustCompile(`Ashby API\s+(http://\S+)`).FindStringSubmatch(banner)
	key := regexp.MustCompile(`API key {2,}(\S+)`).FindStringSubmatch(banner)
	if base == nil || key == nil || !strings.Contains(banner, `source type "Integration"`) {
		t.Fatalf("banner %s", banner)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base[1]+"/job.list", strings.NewReader(`{"status":["Open"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(key[1], "")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Success bool `json:"success"`
		Results []struct {
			Title string `json:"title"`
		} `json:"results"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || !body.Success || len(body.Results) != 3 {
		t.Errorf("job.list with the printed key: %+v %v", body, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
