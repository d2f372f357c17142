package simcore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody caps every request body the simulator reads.
const MaxBody = 8 << 20

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) //nolint:errcheck // the control and Graph bodies are plain data; a failed write means the client left
}

// ControlError is the error body of the control API.
type ControlError struct {
	Error string `json:"error"`
}

// WriteControlError answers a control API request with an error.
func WriteControlError(w http.ResponseWriter, status int, format string, args ...any) {
	WriteJSON(w, status, ControlError{Error: fmt.Sprintf(format, args...)})
}

// ReadJSON decodes a JSON request body into v. An empty body leaves v alone.
func ReadJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

// FormatSeconds renders a duration as Retry-After does: seconds with up to
// three decimals ("2.128"), never less than 0.001.
func FormatSeconds(d time.Duration) string {
	s := d.Seconds()
	if s < 0.001 {
		s = 0.001
	}
	return strconv.FormatFloat(float64(int64(s*1000+0.5))/1000, 'f', -1, 64)
}

// ParseDuration accepts Go durations ("90s", "10m") and plain seconds ("600").
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// Errors of control operations, mapped to HTTP statuses by WriteError.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// WriteError answers a control API request with the status that fits err.
func WriteError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	}
	WriteControlError(w, status, "%s", err.Error())
}

// Decode reads a JSON body into v, answering 400 itself when it cannot.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := ReadJSON(r, v); err != nil {
		WriteControlError(w, http.StatusBadRequest, "%s", err.Error())
		return false
	}
	return true
}
