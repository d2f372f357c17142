package inbound_test

import (
	"errors"
	"testing"

	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	// Lever signs token + decimal(triggeredAt), not the body.
	sig := inbound.Sign("sig-token", "tok", 1700000000123)
	raw := []byte(`{"id":"d1","event":"candidateStageChange","token":"tok","triggeredAt":1700000000123,"signature":"` + sig + `","data":{"opportunityId":"o1","toStageId":"s2"}}`)
	s, err := inbound.ParseSigned(raw)
	if err != nil || s.ID != "d1" || s.TriggeredAt != 1700000000123 {
		t.Fatalf("parse: %+v, %v", s, err)
	}
	if !inbound.Verify("sig-token", s) {
		t.Fatal("the right token does not verify")
	}
	for name, bad := range map[string]inbound.Signed{
		"other key":         s,
		"other triggeredAt": {ID: s.ID, Event: s.Event, Token: s.Token, Signature: s.Signature, TriggeredAt: s.TriggeredAt + 1},
		"other token":       {ID: s.ID, Event: s.Event, Token: "tok2", Signature: s.Signature, TriggeredAt: s.TriggeredAt},
		"not hex":           {ID: s.ID, Event: s.Event, Token: s.Token, Signature: "zz" + s.Signature[2:], TriggeredAt: s.TriggeredAt},
	} {
		key := "sig-token"
		if name == "other key" {
			key = "sig-token2"
		}
		if inbound.Verify(key, bad) {
			t.Errorf("%s verifies", name)
		}
	}
	if inbound.Verify("", s) {
		t.Error("an empty key verifies")
	}
	c, err := inbound.ParseChange(raw)
	if err != nil || c.OpportunityID != "o1" || c.ToStageID != "s2" || c.Archived {
		t.Fatalf("change: %+v, %v", c, err)
	}
	a, err := inbound.ParseChange([]byte(`{"event":"candidateArchiveChange","data":{"opportunityId":"o1","toArchived":{"archivedAt":5,"reason":"r1"}}}`))
	if err != nil || !a.Archived || a.To == nil || a.To.Reason != "r1" || a.Event != lever.EventCandidateArchiveChange {
		t.Fatalf("archive change: %+v, %v", a, err)
	}
}

func TestParseSignedRefuses(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		raw  string
		want error
	}{
		"empty":                {``, inbound.ErrMalformed},
		"not JSON":             {`id=1`, inbound.ErrMalformed},
		"no signature":         {`{"id":"d","event":"e","token":"t","triggeredAt":1}`, inbound.ErrUnsigned},
		"no token":             {`{"id":"d","event":"e","signature":"ab","triggeredAt":1}`, inbound.ErrUnsigned},
		"no triggeredAt":       {`{"id":"d","event":"e","token":"t","signature":"ab"}`, inbound.ErrUnsigned},
		"triggeredAt a string": {`{"id":"d","event":"e","token":"t","signature":"ab","triggeredAt":"1"}`, inbound.ErrMalformed},
		"triggeredAt a float":  {`{"id":"d","event":"e","token":"t","signature":"ab","triggeredAt":1.5}`, inbound.ErrMalformed},
		"no id":                {`{"event":"e","token":"t","signature":"ab","triggeredAt":1}`, inbound.ErrMalformed},
	} {
		if _, err := inbound.ParseSigned([]byte(c.raw)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
