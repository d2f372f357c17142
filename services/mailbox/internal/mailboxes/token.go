package mailboxes

import (
	"encoding/base64"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
)

// A page token is the last mailbox id of the page before, opaque to
// callers.
func encodeToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", apperr.InvalidArgument("page_token", "not a page token of this list")
	}
	if _, err := uuid.Parse(string(raw)); err != nil {
		return "", apperr.InvalidArgument("page_token", "not a page token of this list")
	}
	return string(raw), nil
}
