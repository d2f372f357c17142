package providersim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// ashbyHTTP is the plain client the Ashby tests call the simulator with: a
// stuck simulator fails the test instead of hanging it.
var ashbyHTTP = &http.Client{Timeout: 30 * time.Second}

// ashbyReply is Ashby's envelope, decoded.
type ashbyReply struct {
	Status            int
	Header            http.Header
	Raw               []byte
	Success           bool            `json:"success"`
	Results           json.RawMessage `json:"results"`
	Warnings          []string        `json:"warnings"`
	Errors            []string        `json:"errors"`
	MoreDataAvailable bool            `json:"moreDataAvailable"`
	NextCursor        string          `json:"nextCursor"`
	SyncToken         string          `json:"syncToken"`
	ErrorInfo         *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	} `json:"errorInfo"`
}

// code is errorInfo.code, checked to agree with errors[0].
func (r ashbyReply) code(t testing.TB) string {
	t.Helper()
	if r.Success {
		t.Fatalf("want an error, got success: %s", r.Raw)
	}
	if r.ErrorInfo == nil || r.ErrorInfo.Message == "" || r.ErrorInfo.RequestID == "" {
		t.Fatalf("error without errorInfo.message/requestId: %s", r.Raw)
	}
	if len(r.Errors) != 1 || r.Errors[0] != r.ErrorInfo.Code {
		t.Fatalf("errors %v disagree with errorInfo.code %q", r.Errors, r.ErrorInfo.Code)
	}
	if r.Header.Get("x-ashby-request-id") != r.ErrorInfo.RequestID {
		t.Errorf("x-ashby-request-id %q, requestId %q", r.Header.Get("x-ashby-request-id"), r.ErrorInfo.RequestID)
	}
	return r.ErrorInfo.Code
}

// ashbyCall posts body to an Ashby endpoint with key as a plain net/http
// client would (HTTP Basic, key as username, empty password).
func (e *env) ashbyCall(key, endpoint string, body any) ashbyReply {
	e.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		raw = []byte("{}")
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.sim.AshbyURL()+"/"+endpoint, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json; version=1")
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	resp, err := ashbyHTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := ashbyReply{Status: resp.StatusCode, Header: resp.Header, Raw: data}
	if err := json.Unmarshal(data, &out); err != nil {
		e.t.Fatalf("%s: not JSON (%d): %s", endpoint, resp.StatusCode, data)
	}
	return out
}

// ashbyOK calls an endpoint that must succeed (HTTP 200, success true) and
// decodes results into out (when not nil).
func (e *env) ashbyOK(key, endpoint string, body, out any) ashbyReply {
	e.t.Helper()
	r := e.ashbyCall(key, endpoint, body)
	if r.Status != http.StatusOK || !r.Success {
		e.t.Fatalf("%s: %d %s", endpoint, r.Status, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Results, out); err != nil {
			e.t.Fatalf("%s results: %v: %s", endpoint, err, r.Results)
		}
	}
	return r
}

// ashbyErr calls an endpoint that must fail with HTTP status and code.
func (e *env) ashbyErr(key, endpoint string, body any, status int, code string) ashbyReply {
	e.t.Helper()
	r := e.ashbyCall(key, endpoint, body)
	if r.Status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", endpoint, r.Status, status, r.Raw)
	}
	if got := r.code(e.t); got != code {
		e.t.Fatalf("%s: code %q, want %q: %s", endpoint, got, code, r.Raw)
	}
	return r
}

// demoAshby returns the demo organization and its key.
func (e *env) demoAshby() (simclient.AshbyOrg, string) {
	e.t.Helper()
	o, err := e.c.AshbyOrg(e.ctx, providersim.DemoAshbyOrg)
	if err != nil {
		e.t.Fatal(err)
	}
	key, err := e.sim.DemoAshbyKey()
	if err != nil {
		e.t.Fatal(err)
	}
	return o, key
}

// ashbyStart starts a simulator whose Ashby limits stay out of the way.
func ashbyStart(t testing.TB) *env {
	t.Helper()
	return start(t, func(o *providersim.Options) {
		o.AshbySettings = simclient.AshbySettings{RequestsPerSecond: 1e6, Burst: 1 << 20}
	})
}

type candidateOut struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	PrimaryEmailAddress *struct {
		Value     string `json:"value"`
		IsPrimary bool   `json:"isPrimary"`
	} `json:"primaryEmailAddress"`
	ApplicationIDs   []string `json:"applicationIds"`
	ResumeFileHandle *struct {
		ID, Name, Handle string
	} `json:"resumeFileHandle"`
	Source *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"source"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	Position  string `json:"position"`
}

type stageOut struct {
	ID                   string `json:"id"`
	Title                string `json:"title"`
	Type                 string `json:"type"`
	OrderInInterviewPlan int    `json:"orderInInterviewPlan"`
	InterviewPlanID      string `json:"interviewPlanId"`
}

type applicationOut struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	UpdatedAt string `json:"updatedAt"`
	Candidate struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"candidate"`
	CurrentInterviewStage stageOut `json:"currentInterviewStage"`
	Job                   struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"job"`
	ArchiveReason *struct {
		ID string `json:"id"`
	} `json:"archiveReason"`
	ArchivedAt *string `json:"archivedAt"`
	Source     *struct {
		ID string `json:"id"`
	} `json:"source"`
}

// hookReceiver records webhook requests and answers with status.
type hookReceiver struct {
	mu     sync.Mutex
	status int
	got    []hookRequest
}

type hookRequest struct {
	body   []byte
	header http.Header
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// A body cut short is not a delivery: not recorded, and the sender retries.
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, hookRequest{body: body, header: r.Header.Clone()})
	status := h.status
	h.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

func (h *hookReceiver) setStatus(s int) {
	h.mu.Lock()
	h.status = s
	h.mu.Unlock()
}

func jobByTitle(t testing.TB, o simclient.AshbyOrg, title string) simclient.AshbyJob {
	t.Helper()
	for _, j := range o.Jobs {
		if j.Title == title {
			return j
		}
	}
	t.Fatalf("no job %q", title)
	return simclient.AshbyJob{}
}

func planByTitle(t testing.TB, o simclient.AshbyOrg, title string) simclient.AshbyInterviewPlan {
	t.Helper()
	for _, p := range o.InterviewPlans {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("no plan %q", title)
	return simclient.AshbyInterviewPlan{}
}

func stageOfType(t testing.TB, p simclient.AshbyInterviewPlan, typ string) simclient.AshbyStage {
	t.Helper()
	for _, s := range p.Stages {
		if s.Type == typ {
			return s
		}
	}
	t.Fatalf("plan %s has no %s stage", p.Title, typ)
	return simclient.AshbyStage{}
}
