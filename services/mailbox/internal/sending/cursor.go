package sending

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

type cursorJSON struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

func encodeCursor(c store.MessageCursor) string {
	raw, _ := json.Marshal(cursorJSON{CreatedAt: c.CreatedAt, ID: c.ID}) //nolint:errcheck // a time and a string always encode
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(tok string) (*store.MessageCursor, error) {
	if tok == "" {
		return nil, nil
	}
	bad := apperr.InvalidArgument("page_token", "not a page token of this list")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad
	}
	var c cursorJSON
	if err := json.Unmarshal(raw, &c); err != nil || c.CreatedAt.IsZero() {
		return nil, bad
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return nil, bad
	}
	return &store.MessageCursor{CreatedAt: c.CreatedAt, ID: c.ID}, nil
}
