// Package inbound is the ATS → Tandem half of the sync (issue 15 items 5
// and 6, LV-5): atsbridge's Lever webhooks registered when a connection
// is connected, deliveries verified on their raw bytes, stored and
// de-duplicated, then applied by a job through the connection's stage
// mapping (echoes of Tandem's own pushes and stale deliveries ignored),
// with ats.stage_changed published to outreach in the same transaction;
// and a reconcile that applies what a lost webhook missed, the same way.
package inbound

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
)

// MaxBody caps a delivery: Lever's are well under a kilobyte.
const MaxBody = 64 << 10

var (
	// ErrMalformed is a body that is not a Lever delivery.
	ErrMalformed = errors.New("inbound: not a Lever webhook delivery")
	// ErrUnsigned is a delivery without a token or a signature.
	ErrUnsigned = errors.New("inbound: the delivery is not signed")
	// ErrBadSignature is a signature none of the connection's webhooks made.
	ErrBadSignature = errors.New("inbound: the delivery's signature does not hold")
	// ErrUnknownConnection is a connection atsbridge has no webhook for.
	ErrUnknownConnection = errors.New("inbound: no such connection")
)

// Signed is what Lever signs of a delivery, and what names it: the rest of
// the body is trusted only once the signature holds.
type Signed struct {
	ID          string
	Event       string
	Token       string
	Signature   string
	TriggeredAt int64
}

// Triggered is TriggeredAt as a time.
func (s Signed) Triggered() time.Time { return time.UnixMilli(s.TriggeredAt) }

// ParseSigned reads the fields the signature covers and names. It parses
// nothing else: data waits for the signature to hold.
func ParseSigned(raw []byte) (Signed, error) {
	var in struct {
		ID          string          `json:"id"`
		Event       string          `json:"event"`
		Token       string          `json:"token"`
		Signature   string          `json:"signature"`
		TriggeredAt json.RawMessage `json:"triggeredAt"`
	}
	if len(raw) == 0 || len(raw) > MaxBody || json.Unmarshal(raw, &in) != nil {
		return Signed{}, ErrMalformed
	}
	if in.Token == "" || in.Signature == "" || len(in.TriggeredAt) == 0 {
		return Signed{}, ErrUnsigned
	}
	// triggeredAt is signed as its decimal digits, so it must be digits.
	at, err := strconv.ParseInt(string(bytes.TrimSpace(in.TriggeredAt)), 10, 64)
	if err != nil || at <= 0 || in.ID == "" || len(in.ID) > 128 || in.Event == "" || len(in.Event) > 64 || len(in.Token) > 256 || len(in.Signature) > 256 {
		return Signed{}, ErrMalformed
	}
	return Signed{ID: in.ID, Event: in.Event, Token: in.Token, Signature: in.Signature, TriggeredAt: at}, nil
}

// Sign is Lever's signature: hex HMAC-SHA256 keyed by the webhook's
// signature token over the delivery's token and triggeredAt in decimal
// (providers.md §2.5).
func Sign(signatureToken, token string, triggeredAt int64) string {
	m := hmac.New(sha256.New, []byte(signatureToken))
	m.Write([]byte(token + strconv.FormatInt(triggeredAt, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signatureToken made s's signature, in constant
// time.
func Verify(signatureToken string, s Signed) bool {
	if signatureToken == "" {
		return false
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(signatureToken))
	m.Write([]byte(s.Token + strconv.FormatInt(s.TriggeredAt, 10)))
	return hmac.Equal(got, m.Sum(nil))
}

// TokenHash names a signed token: a (token, triggeredAt) pair is taken
// once per connection.
func TokenHash(s Signed) []byte {
	h := sha256.Sum256([]byte(s.Token + "\x00" + strconv.FormatInt(s.TriggeredAt, 10)))
	return h[:]
}

// Change is what a verified delivery reports of an opportunity.
type Change struct {
	Event         string
	OpportunityID string
	// ToStageID is set for a stage change.
	ToStageID string
	// Archived tells an archive change: To is the new state (nil:
	// restored to the pipeline).
	Archived bool
	To       *lever.ArchiveState
}

// ParseChange reads a verified delivery's data. A delivery without an
// opportunity (Lever's connection test) has an empty OpportunityID.
func ParseChange(raw []byte) (Change, error) {
	var in struct {
		Event string `json:"event"`
		Data  struct {
			OpportunityID string              `json:"opportunityId"`
			ToStageID     string              `json:"toStageId"`
			ToArchived    *lever.ArchiveState `json:"toArchived"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return Change{}, ErrMalformed
	}
	c := Change{Event: in.Event, OpportunityID: in.Data.OpportunityID, ToStageID: in.Data.ToStageID}
	if len(c.OpportunityID) > 128 || len(c.ToStageID) > 128 {
		return Change{}, ErrMalformed
	}
	if in.Event == lever.EventCandidateArchiveChange {
		c.Archived, c.To = true, in.Data.ToArchived
		if c.To != nil && (c.To.Reason == "" || len(c.To.Reason) > 128) {
			return Change{}, ErrMalformed
		}
	}
	if in.Event == lever.EventCandidateStageChange && c.OpportunityID != "" && c.ToStageID == "" {
		return Change{}, ErrMalformed
	}
	return c, nil
}

// redacted is the delivery as the audit log keeps it: no token, no
// signature.
func redacted(raw []byte) any {
	var v map[string]any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	delete(v, "token")
	delete(v, "signature")
	return v
}
