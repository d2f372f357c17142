package paging_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/paging"
)

type position struct {
	Query string    `json:"q"`
	At    time.Time `json:"t"`
	ID    string    `json:"i"`
}

func TestTokensRoundTrip(t *testing.T) {
	in := position{Query: "status=open", At: time.Date(2026, 12, 2, 7, 0, 0, 123456000, time.UTC), ID: "0193"}
	tok, err := paging.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := paging.Decode[position](tok)
	if err != nil || out != in {
		t.Fatalf("decoded %+v, %v; want %+v", out, err, in)
	}
	for _, bad := range []string{"not base64!", "bm90IGpzb24", ""} {
		if _, err := paging.Decode[position](bad); !errors.Is(err, paging.ErrBadToken) {
			t.Errorf("token %q: %v, want ErrBadToken", bad, err)
		}
	}
}

func TestSize(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 50}, {1, 1}, {200, 200}, {201, 200}} {
		if got, err := paging.Size(c.in, 50, 200); err != nil || got != c.want {
			t.Errorf("Size(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	_, err := paging.Size(-1, 50, 200)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "page_size" {
		t.Errorf("a negative size: %v", err)
	}
}
