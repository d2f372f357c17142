package config

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.DrainDelay != 0 || len(c.CORSOrigins) != 0 || c.ServiceTokens.Current.Value() != DevServiceToken {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestCORSOriginsAndDrainDelay(t *testing.T) {
	c, err := Load([]string{"-cors-origins", " https://app.example.com, http://localhost:3000 ,", "-drain-delay", "5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.CORSOrigins, []string{"https://app.example.com", "http://localhost:3000"}) || c.DrainDelay != 5*time.Second {
		t.Fatalf("got %q, %v", c.CORSOrigins, c.DrainDelay)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x.example", "https://u@x.example", "*"} {
		_, err := Load([]string{"-cors-origins", bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "cors-origins") {
			t.Errorf("%q: %v, want a cors-origins error", bad, err)
		}
	}
	if _, err := Load([]string{"-drain-delay", "-1s"}, io.Discard); err == nil || !strings.Contains(err.Error(), "drain-delay") {
		t.Errorf("negative drain delay: %v", err)
	}
}

func TestHTTPLimits(t *testing.T) {
	c, err := Load(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxBodyBytes != 1<<20 || c.BodyTimeout != 30*time.Second || c.WriteTimeout != time.Minute || c.IdleTimeout != 2*time.Minute {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Load([]string{"-http-max-body-bytes", "2048", "-http-body-timeout", "5s"}, io.Discard)
	if err != nil || c.MaxBodyBytes != 2048 || c.BodyTimeout != 5*time.Second {
		t.Fatalf("set: %v %+v", err, c)
	}
	for _, bad := range [][]string{{"-http-max-body-bytes", "0"}, {"-http-body-timeout", "0s"}, {"-http-write-timeout", "-1s"}, {"-http-idle-timeout", "0s"}} {
		if _, err := Load(bad, io.Discard); err == nil || !strings.Contains(err.Error(), bad[0][1:]) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	c, err := Load(nil, io.Discard)
	if err != nil || c.RequestTimeout != 30*time.Second {
		t.Fatalf("default: %v %v", err, c.RequestTimeout)
	}
	t.Setenv("TANDEM_HTTP_REQUEST_TIMEOUT", "2s")
	if c, err = Load(nil, io.Discard); err != nil || c.RequestTimeout != 2*time.Second {
		t.Fatalf("from the environment: %v %v", err, c.RequestTimeout)
	}
	for _, bad := range [][]string{{"-http-request-timeout", "0s"}, {"-http-request-timeout", "60s"}} {
		if _, err := Load(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "http-request-timeout") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestPublicURL(t *testing.T) {
	c, err := Load(nil, io.Discard)
	if err != nil || c.PublicURL != "http://localhost:8080" {
		t.Fatalf("default: %v %q", err, c.PublicURL)
	}
	if c, err := Load([]string{"-public-url", "https://tandem.example.com"}, io.Discard); err != nil || c.PublicURL != "https://tandem.example.com" {
		t.Fatalf("set: %v %+v", err, c)
	}
	for _, bad := range []string{"tandem.example.com", "https://tandem.example.com/", "ftp://x.example"} {
		if _, err := Load([]string{"-public-url", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "public-url") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The whole configuration, printed every way (fmt, slog, JSON,
// -print-config), shows no secret.
func TestConfigPrintsNoSecret(t *testing.T) {
	const token = "gateway-service-token-0123456789abcdef"
	var out bytes.Buffer
	c, err := Load([]string{"-print-config", "-service-token", token}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceTokens.Current.Value() != token {
		t.Fatal("the token itself should reach the program")
	}
	configtest.NoSecrets(t, *c, token)
	if strings.Contains(out.String(), token) || !strings.Contains(out.String(), "service-token=[redacted]") {
		t.Fatalf("-print-config:\n%s", out.String())
	}
	if strings.Contains(out.String(), "service-token-previous") {
		t.Fatalf("the gateway accepts no service calls, so has no previous token:\n%s", out.String())
	}
}
