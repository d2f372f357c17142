package lever

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrUnauthorized is Lever refusing the token (401): revoked in Lever,
	// or expired. The connection needs reconnecting if a fresh token from
	// identity is refused too.
	ErrUnauthorized = errors.New("lever: the access token was refused")
	// ErrForbidden is a missing scope (403): the grant lacks what the call
	// needs.
	ErrForbidden = errors.New("lever: the grant does not allow this call")
	// ErrNotFound is an object Lever does not have (404).
	ErrNotFound = errors.New("lever: not found")
	// ErrUnavailable is Lever failing now (5xx, the network); try again
	// later.
	ErrUnavailable = errors.New("lever: unavailable")
	// ErrInvalid is Lever refusing what was sent (400): a missing or
	// deactivated perform_as user, a stage or posting that is gone. Sending
	// it again changes nothing.
	ErrInvalid = errors.New("lever: the request was refused as invalid")
	// ErrUnexpectedResponse is an answer that is not Lever's.
	ErrUnexpectedResponse = errors.New("lever: unexpected response")
)

// APIError is a refusal of the Data API: the HTTP status and Lever's error
// code (UNCONFIRMED names: branch on the status, through the sentinels).
// Lever's message is never kept: it can quote what was sent.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	Code       string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("lever: %s %s: HTTP %d %s", e.Method, e.Path, e.StatusCode, e.Code)
}

// Is puts the sentinel of the status in the chain.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnavailable:
		return e.StatusCode >= 500
	case ErrInvalid:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	}
	return false
}

func decodeError(method, path string, status int, data []byte) error {
	var ej struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(data, &ej) != nil {
		ej.Code = ""
	}
	// Codes are short identifiers; anything else is not kept.
	if len(ej.Code) > 64 {
		ej.Code = ""
	}
	return &APIError{Method: method, Path: path, StatusCode: status, Code: ej.Code}
}
