package lever

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// apiError is Lever's error body, {"code": ..., "message": ...}. The codes
// are UNCONFIRMED (clients must not match on them, nor on the message).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "BadRequestError", message: msg}
}

func notFoundErr(msg string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "ResourceNotFound", message: msg}
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: "UnauthorizedError", message: msg}
}

func forbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: "ForbiddenError", message: msg}
}

// access is what an endpoint needs of a token's scopes.
type access int

const (
	read access = iota
	write
)

// call is one Data API request on its way through the pipeline.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	op      string
	account *account
	actor   string // who a write without perform_as is attributed to
	now     time.Time
	events  []event
}

type handler func(*call) *apiError

// APIHandler serves the Data API under /v1.
func (s *Service) APIHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, op, resource string, need access, h handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, op, resource, need, h) })
	}
	route("GET /v1/opportunities", "listOpportunities", "opportunities", read, s.listOpportunities)
	route("POST /v1/opportunities", "createOpportunity", "opportunities", write, s.createOpportunity)
	route("GET /v1/opportunities/{id}", "getOpportunity", "opportunities", read, s.getOpportunity)
	route("PUT /v1/opportunities/{id}/stage", "changeStage", "opportunities", write, s.changeStage)
	route("PUT /v1/opportunities/{id}/archived", "archive", "opportunities", write, s.archiveOpportunity)
	route("POST /v1/opportunities/{id}/addTags", "addTags", "opportunities", write, s.listEdit("tags", true))
	route("POST /v1/opportunities/{id}/removeTags", "removeTags", "opportunities", write, s.listEdit("tags", false))
	route("POST /v1/opportunities/{id}/addSources", "addSources", "opportunities", write, s.listEdit("sources", true))
	route("POST /v1/opportunities/{id}/removeSources", "removeSources", "opportunities", write, s.listEdit("sources", false))
	route("POST /v1/opportunities/{id}/addLinks", "addLinks", "opportunities", write, s.listEdit("links", true))
	route("POST /v1/opportunities/{id}/removeLinks", "removeLinks", "opportunities", write, s.listEdit("links", false))
	route("GET /v1/opportunities/{id}/notes", "listNotes", "notes", read, s.listNotes)
	route("GET /v1/opportunities/{id}/notes/{noteId}", "getNote", "notes", read, s.getNote)
	route("POST /v1/opportunities/{id}/notes", "createNote", "notes", write, s.createNote)
	route("GET /v1/opportunities/{id}/files", "listFiles", "files", read, s.listFiles("file"))
	route("POST /v1/opportunities/{id}/files", "uploadFile", "files", write, s.uploadFile)
	route("GET /v1/opportunities/{id}/files/{fileId}/download", "downloadFile", "files", read, s.downloadFile("file"))
	route("GET /v1/opportunities/{id}/resumes", "listResumes", "resumes", read, s.listFiles("resume"))
	route("GET /v1/opportunities/{id}/resumes/{fileId}/download", "downloadResume", "resumes", read, s.downloadFile("resume"))
	route("GET /v1/stages", "listStages", "stages", read, s.listStages)
	route("GET /v1/stages/{id}", "getStage", "stages", read, s.getStage)
	route("GET /v1/postings", "listPostings", "postings", read, s.listPostings)
	route("GET /v1/postings/{id}", "getPosting", "postings", read, s.getPosting)
	route("GET /v1/users", "listUsers", "users", read, s.listUsers)
	route("GET /v1/users/{id}", "getUser", "users", read, s.getUser)
	route("GET /v1/sources", "listSources", "sources", read, s.listSources)
	route("GET /v1/tags", "listTags", "tags", read, s.listTags)
	route("GET /v1/archive_reasons", "listArchiveReasons", "archive_reasons", read, s.listArchiveReasons)
	route("GET /v1/archive_reasons/{id}", "getArchiveReason", "archive_reasons", read, s.getArchiveReason)
	route("GET /v1/webhooks", "listWebhooks", "webhooks", read, s.listWebhooks)
	route("POST /v1/webhooks", "createWebhook", "webhooks", write, s.createWebhook)
	route("GET /v1/webhooks/{id}", "getWebhook", "webhooks", read, s.getWebhook)
	route("PUT /v1/webhooks/{id}", "updateWebhook", "webhooks", write, s.updateWebhook)
	route("DELETE /v1/webhooks/{id}", "deleteWebhook", "webhooks", write, s.deleteWebhook)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.counters.Inc("lever.requests", "lever.unknownRoute")
		s.writeError(w, notFoundErr("Resource not found"))
	})
	return mux
}

func (s *Service) writeError(w http.ResponseWriter, e *apiError) {
	s.counters.Inc("lever.errors", "lever.errors/"+strconv.Itoa(e.status))
	simcore.WriteJSON(w, e.status, map[string]string{"code": e.code, "message": e.message})
}

// serve runs the pipeline every Data API call goes through: count, check
// the token, take from the token's bucket, check the scope, apply faults,
// then the endpoint; webhooks of what it changed go out afterwards.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, op, resource string, need access, h handler) {
	s.counters.Inc("lever.requests", "lever."+op)
	token, ok := bearer(r)
	key := false
	if !ok {
		// An API key: HTTP Basic, the key as username, no password.
		if u, _, basic := r.BasicAuth(); basic && u != "" {
			token, ok, key = u, true, true
		}
	}
	if !ok {
		s.writeError(w, unauthorized("Missing or invalid Authorization header"))
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	var at *accessToken
	var e *apiError
	if key {
		at, e = s.introspectKeyLocked(token)
	} else {
		at, e = s.introspectLocked(token, now)
	}
	var a *account
	var retryIn time.Duration
	var limited bool
	if e == nil {
		a = s.accounts[at.accountID]
		limited, retryIn = s.takeLocked(token, now)
	}
	s.mu.Unlock()
	if e != nil {
		s.writeError(w, e)
		return
	}
	fp := simclient.LeverTokenFingerprint(token)
	s.counters.Inc("lever."+op+"/token="+fp, "lever.requests/token="+fp, "lever."+op+"/account="+a.id)
	if limited {
		s.counters.Inc("lever.throttled", "lever.throttled/token="+fp)
		if s.Settings().RetryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryIn.Seconds()+0.999)))
		}
		s.writeError(w, &apiError{status: http.StatusTooManyRequests, code: "TooManyRequests", message: "Rate limit exceeded"})
		return
	}
	if !at.everyEndpoint && !hasScope(at.scopes, resource, need) {
		verb := "read"
		if need == write {
			verb = "write"
		}
		s.counters.Inc("lever.forbidden")
		s.writeError(w, forbidden("Missing required scope "+resource+":"+verb+":admin"))
		return
	}
	if f := s.faults.Apply(r.Context(), "lever."+op, a.id); f != nil {
		s.counters.Inc("lever.faults")
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		s.writeError(w, faultError(f.Status))
		return
	}
	c := &call{w: w, r: r, op: op, account: a, actor: at.userID, now: now}
	if e := h(c); e != nil {
		s.writeError(w, e)
	}
	s.hooks.dispatch(c.events)
}

func faultError(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return &apiError{status: status, code: "TooManyRequests", message: "Rate limit exceeded"}
	case status >= 500:
		return &apiError{status: status, code: "InternalServerError", message: "Something went wrong"}
	default:
		return &apiError{status: status, code: http.StatusText(status), message: http.StatusText(status)}
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// hasScope applies Lever's rule: a write scope includes read.
func hasScope(scopes []string, resource string, need access) bool {
	for _, sc := range scopes {
		switch sc {
		case resource + ":write:admin":
			return true
		case resource + ":read:admin":
			if need == read {
				return true
			}
		}
	}
	return false
}

// bucket is a token bucket on the simulated clock.
type bucket struct {
	tokens float64
	last   time.Time
}

// takeLocked takes a token from the access token's bucket; it reports
// whether the call is over the limit and when a token will be there.
func (s *Service) takeLocked(token string, now time.Time) (bool, time.Duration) {
	rate, burst := s.settings.RateLimitPerSecond, float64(s.settings.RateLimitBurst)
	b := s.buckets[token]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		s.buckets[token] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(burst, b.tokens+el*rate)
		b.last = now
	}
	if b.tokens < 1 {
		return true, time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	b.tokens--
	return false, 0
}

// data writes Lever's envelope.
func (c *call) data(status int, v any) *apiError {
	simcore.WriteJSON(c.w, status, map[string]any{"data": v})
	return nil
}

// decode reads a JSON body.
func (c *call) decode(v any) *apiError {
	if err := simcore.ReadJSON(c.r, v); err != nil {
		return badRequest("Invalid JSON body")
	}
	return nil
}

// pageLimit reads limit (1 to 100, default 100; larger values are cut to
// 100, UNCONFIRMED) and offset, Lever's opaque token from a previous next.
func (c *call) pageLimit() (limit, offset int, e *apiError) {
	q := c.r.URL.Query()
	limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, badRequest("Invalid limit: must be an integer between 1 and 100")
		}
		limit = min(n, 100)
	}
	if v := q.Get("offset"); v != "" {
		n, ok := decodeOffset(v)
		if !ok {
			return 0, 0, badRequest("Invalid offset")
		}
		offset = n
	}
	return limit, offset, nil
}

// Offsets are opaque: a version prefix and the position, base64url.
func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("lvo1." + strconv.Itoa(n)))
}

func decodeOffset(s string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(raw), "lvo1.")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// page writes one page of a list: {"data": [...], "hasNext": bool, "next": token}.
func page[T any](c *call, items []T) *apiError {
	return renderPage(c, items, func(x T) any { return x })
}

// renderPage is page for items that are rendered only when on the page.
func renderPage[T any](c *call, items []T, render func(T) any) *apiError {
	limit, offset, e := c.pageLimit()
	if e != nil {
		return e
	}
	if offset > len(items) {
		offset = len(items)
	}
	end := min(offset+limit, len(items))
	out := make([]any, 0, end-offset)
	for _, x := range items[offset:end] {
		out = append(out, render(x))
	}
	body := map[string]any{"data": out, "hasNext": end < len(items)}
	if end < len(items) {
		body["next"] = encodeOffset(end)
	}
	simcore.WriteJSON(c.w, http.StatusOK, body)
	return nil
}

// performAs reads and checks perform_as: it must be an active user of the
// account. required says whether it may be left out.
func (c *call) performAs(required bool) (*user, *apiError) {
	id := c.r.URL.Query().Get("perform_as")
	if id == "" {
		if required {
			return nil, badRequest("Missing required parameter: perform_as")
		}
		return nil, nil
	}
	for _, u := range c.account.users {
		if u.ID == id {
			if u.deactivatedAt != 0 {
				return nil, badRequest("perform_as user is deactivated")
			}
			return u, nil
		}
	}
	return nil, badRequest("perform_as must be the id of a Lever user")
}

func (c *call) opportunity(s *Service) (*opportunity, *apiError) {
	o, ok := s.opps[c.r.PathValue("id")]
	if !ok || o.rec.AccountID != c.account.id || o.rec.Deleted {
		return nil, notFoundErr("Opportunity not found")
	}
	return o, nil
}

// errorFrom maps a domain error to Lever's answer.
func errorFrom(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, simcore.ErrNotFound) {
		return notFoundErr(strings.TrimPrefix(err.Error(), simcore.ErrNotFound.Error()+": "))
	}
	return badRequest(strings.TrimPrefix(err.Error(), simcore.ErrInvalid.Error()+": "))
}
