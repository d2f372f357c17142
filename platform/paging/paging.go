// Package paging holds what every list of every service shares: the rule
// for page sizes and the opaque page token. A token is the position a page
// ended at, together with the query it came from, as unpadded URL-safe
// base64 of JSON; a list refuses a token of another query rather than give
// a page of something else.
package paging

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/tandemhq/tandem/platform/apperr"
)

// ErrBadToken is the refusal of a token that is not one of this list's.
var ErrBadToken = apperr.InvalidArgument("page_token", "is not a token of this list")

// Size is the page size a request asks for: def when it asks for none, at
// most max; a negative one is refused, naming page_size.
func Size(n, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, apperr.InvalidArgument("page_size", "must not be negative")
	case n == 0:
		return def, nil
	case n > max:
		return max, nil
	}
	return n, nil
}

// Encode makes the token of a position.
func Encode[T any](position T) (string, error) {
	b, err := json.Marshal(position)
	if err != nil {
		return "", fmt.Errorf("page token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode reads a token Encode made; anything else is ErrBadToken.
func Decode[T any](token string) (T, error) {
	var t T
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return t, ErrBadToken
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, ErrBadToken
	}
	return t, nil
}
