package providersim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// ashbyClient is what Tandem's atsbridge does with Ashby, in a few lines of
// plain net/http: POST JSON with the key as Basic username, then decode
// success before trusting results, whatever the HTTP status.
type ashbyClient struct {
	base, key string
	hc        *http.Client
}

type ashbyFailure struct {
	status int
	code   string
}

func (f *ashbyFailure) Error() string { return fmt.Sprintf("ashby: %d %s", f.status, f.code) }

type listPage struct {
	Results           []json.RawMessage `json:"results"`
	MoreDataAvailable bool              `json:"moreDataAvailable"`
	NextCursor        string            `json:"nextCursor"`
	SyncToken         string            `json:"syncToken"`
}

func (c *ashbyClient) call(ctx context.Context, endpoint string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json; version=1")
	req.SetBasicAuth(c.key, "")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	var env struct {
		Success   bool            `json:"success"`
		Results   json.RawMessage `json:"results"`
		Errors    []string        `json:"errors"`
		ErrorInfo *struct {
			Code string `json:"code"`
		} `json:"errorInfo"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("ashby: %d, not JSON", resp.StatusCode)
	}
	if !env.Success {
		f := &ashbyFailure{status: resp.StatusCode}
		if env.ErrorInfo != nil {
			f.code = env.ErrorInfo.Code
		} else if len(env.Errors) > 0 {
			f.code = env.Errors[0]
		}
		return f
	}
	if p, ok := out.(*listPage); ok {
		return json.Unmarshal(raw, p)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Results, out)
}

// sync lists an endpoint from token (empty: a full sync) to its last page
// and returns the ids and the new token.
func (c *ashbyClient) sync(ctx context.Context, endpoint, token string) ([]string, string, error) {
	var ids []string
	req := map[string]any{}
	if token != "" {
		req["syncToken"] = token
	}
	for {
		var p listPage
		if err := c.call(ctx, endpoint, req, &p); err != nil {
			return nil, "", err
		}
		for _, r := range p.Results {
			var x struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &x); err != nil {
				return nil, "", err
			}
			ids = append(ids, x.ID)
		}
		if !p.MoreDataAvailable {
			return ids, p.SyncToken, nil
		}
		req = map[string]any{"cursor": p.NextCursor}
	}
}

func TestAshbyDrivenLikeTandemWithPlainHTTP(t *testing.T) {
	e := ashbyStart(t)
	ctx := e.ctx
	key, err := e.sim.DemoAshbyKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &ashbyClient{base: e.sim.AshbyURL(), key: key, hc: &http.Client{}}

	// Test the connection, find Tandem's source and the recruiter.
	if err := c.call(ctx, "apiKey.info", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	var sources []struct {
		ID, Title string
	}
	if err := c.call(ctx, "source.list", map[string]any{}, &sources); err != nil {
		t.Fatal(err)
	}
	sourceID := ""
	for _, s := range sources {
		if s.Title == providersim.DemoAshbySource {
			sourceID = s.ID
		}
	}
	var users []struct{ ID string }
	if err := c.call(ctx, "user.search", map[string]any{"email": providersim.DemoContosoUser}, &users); err != nil || len(users) != 1 || sourceID == "" {
		t.Fatalf("lookups: %v %v %q", err, users, sourceID)
	}
	var jobs []struct{ ID, Title string }
	if err := c.call(ctx, "job.list", map[string]any{"status": []string{"Open"}}, &jobs); err != nil || len(jobs) == 0 {
		t.Fatalf("jobs %v %v", jobs, err)
	}

	// Webhooks first, so the round trip can be seen.
	rec := &hookReceiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	if err := c.call(ctx, "webhook.create", map[string]any{"webhookType": "candidateStageChange", "requestUrl": srv.URL, "secretToken": "tandem-secret"}, nil); err != nil {
		t.Fatal(err)
	}

	// Enroll: find or create the candidate, then the application.
	var found []struct{ ID string }
	if err := c.call(ctx, "candidate.search", map[string]any{"email": "river@example.org"}, &found); err != nil || len(found) != 0 {
		t.Fatalf("search %v %v", found, err)
	}
	var cand struct{ ID string }
	if err := c.call(ctx, "candidate.create", map[string]any{"name": "River Song", "email": "river@example.org", "sourceId": sourceID, "creditedToUserId": users[0].ID}, &cand); err != nil {
		t.Fatal(err)
	}
	var app struct {
		ID                    string
		CurrentInterviewStage struct{ InterviewPlanID string }
	}
	if err := c.call(ctx, "application.create", map[string]any{"candidateId": cand.ID, "jobId": jobs[0].ID, "sourceId": sourceID}, &app); err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, "candidate.createNote", map[string]any{"candidateId": cand.ID, "note": map[string]any{"type": "text/html", "value": "<b>Sent</b> step 1"}}, nil); err != nil {
		t.Fatal(err)
	}
	var ff *ashbyFailure
	if err := c.call(ctx, "application.changeStage", map[string]any{"applicationId": app.ID, "interviewStageId": "nope"}, nil); !errors.As(err, &ff) || ff.status != 200 || ff.code != "interview_stage_not_found" {
		t.Errorf("bad stage: %v", err)
	}

	// Import, then an incremental round after the recruiter moves the
	// application in Ashby.
	ids, token, err := c.sync(ctx, "application.list", "")
	if err != nil || len(ids) != 5 || token == "" {
		t.Fatalf("full sync %d %q %v", len(ids), token, err)
	}
	var stages []struct{ ID, Type string }
	if err := c.call(ctx, "interviewStage.list", map[string]any{"interviewPlanId": app.CurrentInterviewStage.InterviewPlanID}, &stages); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.MoveAshbyApplication(ctx, app.ID, simclient.AshbyStageMove{InterviewStageID: stages[3].ID}); err != nil {
		t.Fatal(err)
	}
	ids, token2, err := c.sync(ctx, "application.list", token)
	if err != nil || len(ids) != 1 || ids[0] != app.ID || token2 == "" {
		t.Errorf("incremental %v %q %v", ids, token2, err)
	}
	got := waitRequests(t, rec, 1)
	if !verifyAshby("tandem-secret", got[0].body, got[0].header.Get("Ashby-Signature")) {
		t.Error("webhook does not verify")
	}
	if _, err := e.c.ExpireAshbySync(ctx, simclient.AshbySyncExpiry{Error: "sync_token_expired"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.sync(ctx, "application.list", token2); !errors.As(err, &ff) || ff.code != "sync_token_expired" || ff.status != 200 {
		t.Errorf("expired token: %v", err)
	}
}
