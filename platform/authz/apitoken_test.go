package authz

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestNewAPIToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := NewAPIToken()
		if !strings.HasPrefix(tok, APITokenPrefix) || !IsAPIToken(tok) {
			t.Fatalf("token %q lacks the recognizable shape", tok)
		}
		body := strings.TrimPrefix(tok, APITokenPrefix)
		if len(body)*5 < 256 { // base32: 5 bits per character
			t.Fatalf("token %q carries fewer than 256 bits", tok)
		}
		if strings.Trim(body, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("token %q has characters needing escapes", tok)
		}
		want := sha256.Sum256([]byte(tok))
		if !bytes.Equal(hash, want[:]) || !bytes.Equal(HashAPIToken(tok), hash) {
			t.Fatal("hash is not SHA-256 of the token")
		}
		if seen[tok] {
			t.Fatal("repeated token")
		}
		seen[tok] = true
	}
}

func TestIsAPIToken(t *testing.T) {
	tok, _ := NewAPIToken()
	for _, s := range []string{
		"", "tdm_", "tdm_abc", "TDM_" + strings.TrimPrefix(tok, APITokenPrefix),
		tok + "a", tok[:len(tok)-1], strings.ToUpper(tok), "eyJhbGciOiJFZERTQSJ9.e30.sig",
		APITokenPrefix + strings.Repeat("1", len(tok)-len(APITokenPrefix)), // 1 is not in the alphabet
	} {
		if IsAPIToken(s) {
			t.Errorf("IsAPIToken(%q) = true", s)
		}
	}
}
