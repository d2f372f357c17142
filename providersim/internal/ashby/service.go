// Package ashby simulates Ashby's public API: RPC-style POST
// /<category>.<method> calls with JSON bodies, HTTP Basic API keys with
// module permissions, the success/results envelope with errors answered as
// HTTP 200, cursor pagination with sync tokens, webhooks signed with
// Ashby-Signature and retried on the simulated clock, presigned file
// uploads, and per-key rate limits. Behaviour follows the shared reference's
// §1; where it is UNCONFIRMED the choice is a setting (simclient.AshbySettings).
package ashby

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Config wires a Service.
type Config struct {
	Clock    *simcore.Clock
	IDs      *simcore.IDs
	Counters *simcore.Counters
	Faults   *simcore.Faults
	Logger   *slog.Logger
	// BaseURL is where the API is reached ("http://127.0.0.1:9203"); upload
	// URLs and profile links are built from it.
	BaseURL string
	// HTTPClient sends webhook deliveries; nil means a client of its own.
	HTTPClient *http.Client
	// Settings are the initial settings; zero fields take the default.
	Settings simclient.AshbySettings
}

// Service is the simulated Ashby. It is safe for concurrent use.
type Service struct {
	clock    *simcore.Clock
	ids      *simcore.IDs
	counters *simcore.Counters
	faults   *simcore.Faults
	log      *slog.Logger
	base     string
	initial  simclient.AshbySettings
	ops      map[string]operation
	hooks    *deliverer

	setMu    sync.Mutex
	settings simclient.AshbySettings
	buckets  map[string]*bucket  // by key id
	reports  map[string]*reports // by organization id

	mu sync.Mutex
	w  *world
}

// New returns a Service with no organizations.
func New(cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		// A transport of its own, so the deliveries' connections are not the
		// process's; http.DefaultTransport's settings when it has its usual type.
		tr := &http.Transport{}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		}
		client = &http.Client{Transport: tr}
	}
	s := &Service{
		clock: cfg.Clock, ids: cfg.IDs, counters: cfg.Counters, faults: cfg.Faults, log: log,
		base: strings.TrimRight(cfg.BaseURL, "/"), initial: cfg.Settings,
	}
	s.ops = s.operations()
	s.hooks = newDeliverer(s, client)
	s.Reset()
	return s
}

// Reset forgets every organization and pending delivery and restores the
// initial settings.
func (s *Service) Reset() {
	s.hooks.reset()
	s.setMu.Lock()
	s.settings = withDefaults(s.initial)
	s.buckets = map[string]*bucket{}
	s.reports = map[string]*reports{}
	s.setMu.Unlock()
	s.mu.Lock()
	s.w = newWorld()
	s.mu.Unlock()
}

// Close stops webhook deliveries and waits for them.
func (s *Service) Close() { s.hooks.close() }

// apiError is an Ashby error: HTTP 200 with success:false, unless status
// says otherwise (401, 403, 429, 5xx).
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter string
}

func fail(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusOK, code: code, message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError { return fail("invalid_input", format, args...) }

// request is one API call on its way through the pipeline.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	body     []byte
	form     *multipart.Form
	key      *apiKey
	org      *org
	reqID    string
	now      time.Time
	events   []event
}

// operation is one endpoint: the permission it needs and its handler, which
// runs with s.mu held and returns the results (or an error).
type operation struct {
	module string // "" needs no module
	write  bool
	run    func(req *request) (any, *apiError)
	// list handlers write their own envelope (pagination fields).
	paged bool
	// report endpoints take the report limits.
	report bool
}

// requestID is a ULID-like id, as Ashby's requestId.
func (s *Service) requestID() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := s.ids.Bytes("ashby-request", 16)
	out := make([]byte, 26)
	out[0], out[1] = '0', '1'
	for i := 2; i < 26; i++ {
		out[i] = alphabet[b[i%16]&31]
	}
	return string(out)
}

func (s *Service) writeError(req *request, e *apiError) {
	s.counters.Inc("ashby.errors", "ashby.errors/"+e.code)
	if e.retryAfter != "" {
		req.w.Header().Set("Retry-After", e.retryAfter)
	}
	simcore.WriteJSON(req.w, e.status, map[string]any{
		"success": false,
		"errors":  []string{e.code},
		"errorInfo": map[string]any{
			"code": e.code, "message": e.message, "requestId": req.reqID,
		},
	})
}

func writeResults(w http.ResponseWriter, results any, warnings []string) {
	out := map[string]any{"success": true, "results": results}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	simcore.WriteJSON(w, http.StatusOK, out)
}

// ServeHTTP serves the API and the presigned upload endpoint.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{w: w, r: r, reqID: s.requestID()}
	w.Header().Set("x-ashby-request-id", req.reqID)
	s.counters.Inc("ashby.requests")
	if r.URL.Path == uploadPath {
		s.serveUpload(w, r)
		return
	}
	req.endpoint = strings.TrimPrefix(r.URL.Path, "/")
	if req.endpoint == "application.change_stage" {
		req.endpoint = "application.changeStage" // the deprecated path still works
	}
	op, ok := s.ops[req.endpoint]
	if !ok {
		// UNCONFIRMED: what Ashby answers for a path that is no endpoint.
		s.writeError(req, &apiError{status: http.StatusNotFound, code: "not_found", message: "No endpoint " + r.URL.Path + "."})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(req, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "Endpoints are called with POST."})
		return
	}
	s.counters.Inc("ashby." + req.endpoint)
	e := s.authenticate(req, op)
	if req.key != nil { // counted per key also when refused for a permission
		s.counters.Inc("ashby."+req.endpoint+"/key="+req.key.id, "ashby.requests/key="+req.key.id)
	}
	if e != nil {
		s.writeError(req, e)
		return
	}
	if e := s.admit(req); e != nil {
		s.counters.Inc("ashby.throttled", "ashby.throttled/key="+req.key.id)
		s.writeError(req, e)
		return
	}
	if op.report {
		release, e := s.admitReport(req.org.id)
		if e != nil {
			s.counters.Inc("ashby.throttled", "ashby.throttled/key="+req.key.id)
			s.writeError(req, e)
			return
		}
		defer release()
	}
	if f := s.faults.Apply(r.Context(), "ashby."+req.endpoint, req.org.id); f != nil {
		s.counters.Inc("ashby.faults")
		s.writeError(req, faultError(f))
		return
	}
	if err := readBody(req); err != nil {
		s.writeError(req, invalid("The request body could not be read: %s", err.Error()))
		return
	}
	s.mu.Lock()
	req.now = s.clock.Now()
	if req.key.deactivated { // deactivated while waiting
		s.mu.Unlock()
		s.writeError(req, forbidden())
		return
	}
	results, e := op.run(req)
	events := req.events
	s.mu.Unlock()
	switch {
	case e != nil:
		s.writeError(req, e)
	case !op.paged:
		writeResults(w, results, nil)
	default:
		simcore.WriteJSON(w, http.StatusOK, results)
	}
	s.hooks.enqueue(events)
}

// readBody reads a JSON body, or a multipart form (the deprecated resume
// upload).
func readBody(req *request) error {
	// A Content-Type that does not parse is not multipart: the body is read as
	// JSON, which refuses what it cannot decode.
	if ct, _, err := mime.ParseMediaType(req.r.Header.Get("Content-Type")); err == nil && ct == "multipart/form-data" {
		req.r.Body = http.MaxBytesReader(req.w, req.r.Body, simcore.MaxBody)
		if err := req.r.ParseMultipartForm(simcore.MaxBody); err != nil {
			return err
		}
		req.form = req.r.MultipartForm
		return nil
	}
	var raw json.RawMessage
	if err := simcore.ReadJSON(req.r, &raw); err != nil {
		return err
	}
	req.body = raw
	return nil
}

func faultError(f *simclient.Fault) *apiError {
	e := &apiError{status: f.Status, retryAfter: f.RetryAfter}
	switch {
	case f.Status == http.StatusTooManyRequests:
		e.code, e.message = "rate_limit_exceeded", "Rate limit exceeded. Retry later."
	case f.Status >= 500:
		e.code, e.message = "internal_server_error", "An unexpected error occurred."
	default:
		e.code, e.message = "invalid_input", "The request was refused."
	}
	return e
}

func forbidden() *apiError {
	// UNCONFIRMED: Ashby documents 403 for a wrong or deactivated key but not
	// its code; "invalid_api_key" is ours.
	return &apiError{status: http.StatusForbidden, code: "invalid_api_key", message: "The API key is invalid or has been deactivated."}
}

// authenticate reads HTTP Basic with the key as username, finds the key and
// checks the endpoint's module permission.
func (s *Service) authenticate(req *request, op operation) *apiError {
	h := req.r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Basic") {
		// UNCONFIRMED code: Ashby documents only the 401.
		return &apiError{status: http.StatusUnauthorized, code: "unauthenticated", message: "Authentication is required: HTTP Basic with the API key as username."}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return forbidden()
	}
	secret, _, _ := strings.Cut(string(raw), ":")
	if secret == "" {
		return &apiError{status: http.StatusUnauthorized, code: "unauthenticated", message: "Authentication is required: HTTP Basic with the API key as username."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.w.keysBySecret[secret]
	if k == nil || k.deactivated {
		return forbidden()
	}
	req.key, req.org = k, s.w.orgs[k.orgID]
	if op.module != "" && !k.allows(op.module, op.write) {
		mode := "Read"
		if op.write {
			mode = "Write"
		}
		return &apiError{status: http.StatusForbidden, code: "missing_endpoint_permission",
			message: fmt.Sprintf("The API key lacks the permission %s%s needed by %s.", op.module, mode, req.endpoint)}
	}
	return nil
}

// decode reads the request body into v, naming the field that does not fit.
func decode(req *request, v any) *apiError {
	if len(req.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(req.body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid("%s must be a %s, got %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return invalid("The request body is not a JSON object: %s.", err.Error())
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	default:
		return "number"
	}
}

func (s *Service) operations() map[string]operation {
	const (
		cand = simclient.AshbyModuleCandidates
		jobs = simclient.AshbyModuleJobs
		intv = simclient.AshbyModuleInterviews
		meta = simclient.AshbyModuleHiringProcessMetadata
		orgm = simclient.AshbyModuleOrganization
		keys = simclient.AshbyModuleAPIKeys
		rep  = simclient.AshbyModuleReports
	)
	r := func(m string, f func(*request) (any, *apiError)) operation { return operation{module: m, run: f} }
	wr := func(m string, f func(*request) (any, *apiError)) operation {
		return operation{module: m, write: true, run: f}
	}
	pg := func(m string, f func(*request) (any, *apiError)) operation {
		return operation{module: m, run: f, paged: true}
	}
	return map[string]operation{
		"candidate.create":            wr(cand, s.candidateCreate),
		"candidate.search":            r(cand, s.candidateSearch),
		"candidate.info":              r(cand, s.candidateInfo),
		"candidate.list":              pg(cand, s.candidateList),
		"candidate.update":            wr(cand, s.candidateUpdate),
		"candidate.createNote":        wr(cand, s.candidateCreateNote),
		"candidate.listNotes":         pg(cand, s.candidateListNotes),
		"candidate.uploadResume":      wr(cand, s.candidateUploadResume),
		"candidate.addEmailMessage":   wr(cand, s.candidateAddEmailMessage),
		"application.create":          wr(cand, s.applicationCreate),
		"application.changeStage":     wr(cand, s.applicationChangeStage),
		"application.info":            r(cand, s.applicationInfo),
		"application.list":            pg(cand, s.applicationList),
		"application.listHistory":     pg(cand, s.applicationListHistory),
		"job.list":                    pg(jobs, s.jobList),
		"job.search":                  r(jobs, s.jobSearch),
		"job.info":                    r(jobs, s.jobInfo),
		"jobInterviewPlan.info":       r(jobs, s.jobInterviewPlanInfo),
		"interviewPlan.list":          pg(intv, s.interviewPlanList),
		"interviewStage.list":         r(intv, s.interviewStageList),
		"interviewStage.info":         r(intv, s.interviewStageInfo),
		"source.list":                 r(meta, s.sourceList),
		"archiveReason.list":          r(meta, s.archiveReasonList),
		"user.search":                 r(orgm, s.userSearch),
		"user.list":                   pg(orgm, s.userList),
		"user.info":                   r(orgm, s.userInfo),
		"apiKey.info":                 r("", s.apiKeyInfo),
		"webhook.create":              wr(keys, s.webhookCreate),
		"webhook.info":                r(keys, s.webhookInfo),
		"webhook.update":              wr(keys, s.webhookUpdate),
		"webhook.delete":              wr(keys, s.webhookDelete),
		"file.createFileUploadHandle": wr(cand, s.fileCreateUploadHandle),
		"report.synchronous":          {module: rep, run: s.reportSynchronous, report: true},
		"report.generate":             {module: rep, run: s.reportGenerate, report: true},
	}
}
