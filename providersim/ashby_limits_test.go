package providersim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestAshbyPerKeyRateLimit(t *testing.T) {
	e := start(t) // the default limit
	o, key := e.demoAshby()
	set, err := e.c.AshbySettings(e.ctx)
	if err != nil || set.RequestsPerSecond != 5 || set.Burst != 10 {
		t.Fatalf("default limit %+v %v", set, err)
	}
	if _, err := e.c.SetAshbySettings(e.ctx, simclient.AshbySettings{RequestsPerSecond: 0.5, Burst: 3}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.ashbyOK(key, "source.list", nil, nil)
	}
	r := e.ashbyErr(key, "source.list", nil, http.StatusTooManyRequests, "rate_limit_exceeded")
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 2 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Another key has a bucket of its own.
	other, err := e.c.IssueAshbyKey(e.ctx, o.ID, simclient.AshbyAPIKey{Title: "other"})
	if err != nil {
		t.Fatal(err)
	}
	e.ashbyOK(other.Key, "source.list", nil, nil)
	// The bucket refills on the simulated clock.
	if _, err := e.c.AdvanceClock(e.ctx, time.Duration(secs)*time.Second); err != nil {
		t.Fatal(err)
	}
	e.ashbyOK(key, "source.list", nil, nil)
	if n, err := e.c.Counter(e.ctx, "ashby.throttled"); err != nil || n != 1 {
		t.Errorf("throttled counter %d %v", n, err)
	}
}

func TestAshbyReportLimits(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	f, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "ashby.report.synchronous", Stall: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if r := e.ashbyCall(key, "report.synchronous", map[string]any{"reportId": "r1"}); !r.Success {
				t.Errorf("stalled report: %s", r.Raw)
			}
		})
	}
	eventually(t, "three reports running", func() bool {
		n, err := e.c.Counter(e.ctx, "ashby.reports.inflight/org="+o.ID)
		if err != nil {
			t.Fatal(err)
		}
		return n == 3
	})
	e.ashbyErr(key, "report.generate", map[string]any{"reportId": "r1"}, http.StatusTooManyRequests, "concurrent_limit_exceeded")
	if err := e.c.RemoveFault(e.ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for range 12 { // 3 + 12 = 15 a minute
		e.ashbyOK(key, "report.synchronous", map[string]any{"reportId": "r1"}, nil)
	}
	r := e.ashbyErr(key, "report.synchronous", map[string]any{"reportId": "r1"}, http.StatusTooManyRequests, "rate_limit_exceeded")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if _, err := e.c.AdvanceClock(e.ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	e.ashbyOK(key, "report.synchronous", map[string]any{"reportId": "r1"}, nil)
}

func TestAshbyInjectedFaults(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "ashby.candidate.list", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(key, "candidate.list", nil, http.StatusServiceUnavailable, "internal_server_error")
	e.ashbyOK(key, "candidate.list", nil, nil)
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "ashby.*", Status: 429, RetryAfter: "7", Count: 1}); err != nil {
		t.Fatal(err)
	}
	r := e.ashbyErr(key, "job.list", nil, http.StatusTooManyRequests, "rate_limit_exceeded")
	if r.Header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "ashby.job.list", LatencyMs: 150, Count: 1}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	e.ashbyOK(key, "job.list", nil, nil)
	if time.Since(began) < 150*time.Millisecond {
		t.Error("latency fault not applied")
	}
	if n, err := e.c.Counter(e.ctx, "ashby.faults"); err != nil || n != 2 {
		t.Errorf("faults counter %d %v", n, err)
	}
}

// upload posts a presigned form: every field, then the file (last unless
// fileFirst).
func upload(t *testing.T, target string, fields map[string]string, data []byte, fileFirst bool) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	writeFile := func() {
		fw, err := mw.CreateFormFile("file", "resume.pdf")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if fileFirst {
		writeFile()
	}
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if !fileFirst {
		writeFile()
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := ashbyHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestAshbyResumeUpload(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Quinn Avery"}, &c)
	pdf := []byte("%PDF-1.4 a resume")
	e.ashbyErr(key, "file.createFileUploadHandle", map[string]any{"fileUploadContext": "Elsewhere", "filename": "r.pdf", "contentType": "application/pdf", "contentLength": len(pdf)}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "file.createFileUploadHandle", map[string]any{"fileUploadContext": "CandidateResume", "filename": "r.pdf", "contentType": "application/pdf"}, http.StatusOK, "invalid_input")
	var h struct {
		Handle string            `json:"handle"`
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	e.ashbyOK(key, "file.createFileUploadHandle", map[string]any{"fileUploadContext": "CandidateResume", "filename": "resume.pdf", "contentType": "application/pdf", "contentLength": len(pdf)}, &h)
	if h.Handle == "" || h.URL == "" || h.Fields["policy"] == "" || h.Fields["key"] == "" {
		t.Fatalf("handle %+v", h)
	}
	e.ashbyErr(key, "candidate.uploadResume", map[string]any{"candidateId": c.ID, "resumeHandle": h.Handle}, http.StatusOK, "invalid_input") // not uploaded yet
	if status, body := upload(t, h.URL, h.Fields, pdf, true); status != http.StatusBadRequest {
		t.Errorf("file first: %d %s", status, body)
	}
	tampered := map[string]string{}
	for k, v := range h.Fields {
		tampered[k] = v
	}
	tampered["x-amz-signature"] = "00"
	if status, _ := upload(t, h.URL, tampered, pdf, false); status != http.StatusForbidden {
		t.Errorf("bad signature: %d", status)
	}
	if status, _ := upload(t, h.URL, h.Fields, append(pdf, "too long"...), false); status != http.StatusBadRequest {
		t.Errorf("too large: %d", status)
	}
	if status, body := upload(t, h.URL, h.Fields, pdf, false); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, body)
	}
	e.ashbyErr(key, "candidate.uploadResume", map[string]any{"candidateId": c.ID}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "candidate.uploadResume", map[string]any{"candidateId": "missing", "resumeHandle": h.Handle}, http.StatusOK, "candidate_not_found")
	var got candidateOut
	e.ashbyOK(key, "candidate.uploadResume", map[string]any{"candidateId": c.ID, "resumeHandle": h.Handle}, &got)
	if got.ResumeFileHandle == nil || got.ResumeFileHandle.Handle != h.Handle || got.ResumeFileHandle.Name != "resume.pdf" {
		t.Fatalf("resume %+v", got.ResumeFileHandle)
	}
	stored, err := e.c.AshbyCandidate(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if stored.Resume == nil || stored.Resume.SHA256 != hex.EncodeToString(sum[:]) || stored.Resume.Size != len(pdf) {
		t.Errorf("stored resume %+v", stored.Resume)
	}
	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": o.Jobs[1].ID}, &a)
	if app, err := e.c.AshbyApplication(e.ctx, a.ID); err != nil || app.Resume == nil || app.Resume.Handle != h.Handle {
		t.Errorf("application's resume %+v %v", app.Resume, err)
	}
	// An expired presigned form is refused.
	e.ashbyOK(key, "file.createFileUploadHandle", map[string]any{"fileUploadContext": "CandidateResume", "filename": "b.pdf", "contentType": "application/pdf", "contentLength": 10}, &h)
	if _, err := e.c.AdvanceClock(e.ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if status, _ := upload(t, h.URL, h.Fields, []byte("0123456789"), false); status != http.StatusForbidden {
		t.Errorf("expired upload: %d", status)
	}

	// The deprecated multipart form still works.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("candidateId", c.ID); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("resume", "cv.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte("%PDF old way")); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.sim.AshbyURL()+"/candidate.uploadResume", &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth(key, "")
	resp, err := ashbyHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool         `json:"success"`
		Results candidateOut `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.Success || env.Results.ResumeFileHandle.Name != "cv.pdf" {
		t.Errorf("multipart upload %+v %v", env, err)
	}
}

func TestAshbyDemoDataIsDeterministic(t *testing.T) {
	a, b := ashbyStart(t), ashbyStart(t)
	ka, err := a.sim.DemoAshbyKey()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.sim.DemoAshbyKey()
	if err != nil {
		t.Fatal(err)
	}
	oa, _ := a.demoAshby()
	ob, _ := b.demoAshby()
	if ka == "" || ka != kb || oa.ID != ob.ID || oa.Jobs[0].ID != ob.Jobs[0].ID {
		t.Errorf("same seed, different demo data: %s/%s %s/%s", ka, kb, oa.ID, ob.ID)
	}
	if err := a.c.Reset(a.ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := a.sim.DemoAshbyKey(); err != nil || k != ka {
		t.Errorf("reset changed the demo key: %q %v", k, err)
	}
	cands, err := a.c.AshbyCandidates(a.ctx, providersim.DemoAshbyOrg)
	if err != nil || len(cands) != 4 {
		t.Fatalf("demo candidates %d %v", len(cands), err)
	}
	for _, c := range cands {
		if len(c.Applications) != 1 {
			t.Errorf("%s has %d applications", c.Name, len(c.Applications))
		}
	}
}
