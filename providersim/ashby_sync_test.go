package providersim_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// freshAshby creates an empty organization and returns it with a key.
func freshAshby(e *env, name string) (simclient.AshbyOrg, string) {
	e.t.Helper()
	o, err := e.c.CreateAshbyOrg(e.ctx, simclient.AshbyOrg{
		Name:           name,
		Users:          []simclient.AshbyUser{{FirstName: "Ada", LastName: "Admin", Email: "ada@" + name + ".example"}},
		Jobs:           []simclient.AshbyJob{{Title: "Engineer"}},
		ArchiveReasons: []simclient.AshbyArchiveReason{{Text: "Not a fit"}},
		APIKeys:        []simclient.AshbyAPIKey{{Title: "sync"}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return o, o.APIKeys[0].Key
}

// walk lists an endpoint to its last page (starting with body) and returns
// the ids seen, the number of pages and the final syncToken.
func (e *env) walk(key, endpoint string, body map[string]any) ([]string, int, string) {
	e.t.Helper()
	var ids []string
	pages := 0
	for {
		var page []struct {
			ID string `json:"id"`
		}
		r := e.ashbyOK(key, endpoint, body, &page)
		pages++
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if !r.MoreDataAvailable {
			if r.NextCursor != "" {
				e.t.Errorf("%s: last page has nextCursor", endpoint)
			}
			return ids, pages, r.SyncToken
		}
		if r.NextCursor == "" || r.SyncToken != "" {
			e.t.Fatalf("%s: page %d with more data: %s", endpoint, pages, r.Raw)
		}
		next := map[string]any{"cursor": r.NextCursor}
		if l, ok := body["limit"]; ok {
			next["limit"] = l
		}
		body = next
	}
}

func TestAshbyPaginationAndIncrementalSync(t *testing.T) {
	e := ashbyStart(t)
	o, key := freshAshby(e, "paging")
	job := o.Jobs[0].ID
	var cands []string
	for i := range 250 {
		var c candidateOut
		e.ashbyOK(key, "candidate.create", map[string]any{"name": fmt.Sprintf("Person %03d", i)}, &c)
		cands = append(cands, c.ID)
	}
	ids, pages, token := e.walk(key, "candidate.list", map[string]any{"limit": 500}) // capped to 100
	if len(ids) != 250 || pages != 3 || token == "" {
		t.Fatalf("full sync: %d ids, %d pages, token %q", len(ids), pages, token)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"limit": 0}, http.StatusOK, "invalid_input")

	// Nothing changed: an empty round, with a new token.
	ids, pages, token2 := e.walk(key, "candidate.list", map[string]any{"syncToken": token})
	if len(ids) != 0 || pages != 1 || token2 == "" {
		t.Errorf("quiet round: %v %d %q", ids, pages, token2)
	}
	// Two updates, one new candidate, one application (which changes its
	// candidate): the next round returns exactly those.
	e.ashbyOK(key, "candidate.update", map[string]any{"candidateId": cands[10], "position": "CTO"}, nil)
	e.ashbyOK(key, "candidate.update", map[string]any{"candidateId": cands[200], "company": "Fabrikam"}, nil)
	var added candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Late Comer"}, &added)
	var app applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": cands[42], "jobId": job}, &app)
	ids, _, token3 := e.walk(key, "candidate.list", map[string]any{"syncToken": token2, "limit": 2})
	want := map[string]bool{cands[10]: true, cands[200]: true, added.ID: true, cands[42]: true}
	if len(ids) != len(want) {
		t.Errorf("incremental round %v, want %v", ids, want)
	}
	for _, id := range ids {
		if !want[id] {
			t.Errorf("unchanged %s returned", id)
		}
	}
	// The old token still works and gives the same changes (it is not
	// consumed); the new one is quiet.
	again, _, _ := e.walk(key, "candidate.list", map[string]any{"syncToken": token2})
	if len(again) != 4 {
		t.Errorf("reused token: %v", again)
	}
	if ids, _, _ := e.walk(key, "candidate.list", map[string]any{"syncToken": token3}); len(ids) != 0 {
		t.Errorf("after round: %v", ids)
	}

	// application.list: full, then a stage change shows up incrementally.
	apps, _, atoken := e.walk(key, "application.list", nil)
	if len(apps) != 1 || atoken == "" {
		t.Fatalf("applications %v %q", apps, atoken)
	}
	if _, err := e.c.ArchiveAshbyApplication(e.ctx, app.ID, ""); err != nil {
		t.Fatal(err)
	}
	apps, _, _ = e.walk(key, "application.list", map[string]any{"syncToken": atoken})
	if len(apps) != 1 || apps[0] != app.ID {
		t.Errorf("changed applications %v", apps)
	}
	// A token is bound to its endpoint.
	e.ashbyErr(key, "job.list", map[string]any{"syncToken": atoken}, http.StatusOK, "sync_token_invalid")

	// createdAfter (epoch ms) filters the full sync.
	late := time.Now().Add(time.Hour).UnixMilli()
	if ids, _, _ := e.walk(key, "candidate.list", map[string]any{"createdAfter": late}); len(ids) != 0 {
		t.Errorf("createdAfter in the future: %d", len(ids))
	}
	// Every syncable list has a token on its last page.
	for _, ep := range []string{"job.list", "user.list", "interviewPlan.list"} {
		if _, _, tok := e.walk(key, ep, nil); tok == "" {
			t.Errorf("%s: no syncToken", ep)
		}
	}
}

func TestAshbySyncTokenAndCursorErrors(t *testing.T) {
	e := ashbyStart(t)
	_, key := freshAshby(e, "errors")
	for i := range 5 {
		e.ashbyOK(key, "candidate.create", map[string]any{"name": fmt.Sprintf("P%d", i)}, nil)
	}
	_, _, token := e.walk(key, "candidate.list", nil)

	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": "garbage"}, http.StatusOK, "sync_token_invalid")
	e.ashbyErr(key, "candidate.list", map[string]any{"cursor": "garbage"}, http.StatusOK, "invalid_next_cursor")

	first := e.ashbyOK(key, "candidate.list", map[string]any{"limit": 2}, nil)
	if _, err := e.c.ExpireAshbySync(e.ctx, simclient.AshbySyncExpiry{Error: "next_cursor_expired"}); err != nil {
		t.Fatal(err)
	}
	r := e.ashbyErr(key, "candidate.list", map[string]any{"cursor": first.NextCursor}, http.StatusOK, "next_cursor_expired")
	if r.ErrorInfo.Message == "" {
		t.Error("no recovery hint")
	}

	if _, err := e.c.ExpireAshbySync(e.ctx, simclient.AshbySyncExpiry{Error: "incremental_sync_too_large", Endpoint: "candidate.list"}); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": token}, http.StatusOK, "incremental_sync_too_large")
	e.ashbyOK(key, "candidate.list", map[string]any{"syncToken": token}, nil) // only once

	if n, err := e.c.ExpireAshbySync(e.ctx, simclient.AshbySyncExpiry{Error: "sync_token_expired", Endpoint: "candidate.list"}); err != nil || n == 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": token}, http.StatusOK, "sync_token_expired")
	_, _, token = e.walk(key, "candidate.list", nil) // recover with a full sync
	if _, err := e.c.ExpireAshbySync(e.ctx, simclient.AshbySyncExpiry{Error: "sync_token_invalid"}); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": token}, http.StatusOK, "sync_token_invalid")
	if _, err := e.c.ExpireAshbySync(e.ctx, simclient.AshbySyncExpiry{Error: "nonsense"}); err == nil {
		t.Error("unknown error accepted")
	}

	// Natural limits: too many changed pages, and age on the simulated clock.
	_, _, token = e.walk(key, "candidate.list", nil)
	if _, err := e.c.SetAshbySettings(e.ctx, simclient.AshbySettings{RequestsPerSecond: 1e6, Burst: 1 << 20, MaxIncrementalPages: 2, CursorTTLSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.ashbyOK(key, "candidate.create", map[string]any{"name": fmt.Sprintf("Q%d", i)}, nil)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": token, "limit": 2}, http.StatusOK, "incremental_sync_too_large")
	e.ashbyOK(key, "candidate.list", map[string]any{"syncToken": token, "limit": 3}, nil)
	page := e.ashbyOK(key, "candidate.list", map[string]any{"limit": 2}, nil)
	if _, err := e.c.AdvanceClock(e.ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"cursor": page.NextCursor}, http.StatusOK, "next_cursor_expired")
	if _, err := e.c.AdvanceClock(e.ctx, 31*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(key, "candidate.list", map[string]any{"syncToken": token, "limit": 100}, http.StatusOK, "sync_token_expired")
}

func TestAshbyCursorKeepsTheFirstPageFilter(t *testing.T) {
	e := ashbyStart(t)
	o, key := freshAshby(e, "filters")
	for i := range 5 {
		var c candidateOut
		e.ashbyOK(key, "candidate.create", map[string]any{"name": fmt.Sprintf("A%d", i)}, &c)
		var a applicationOut
		e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": o.Jobs[0].ID}, &a)
		if i%2 == 0 {
			if _, err := e.c.ArchiveAshbyApplication(e.ctx, a.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids, pages, _ := e.walk(key, "application.list", map[string]any{"status": "Archived", "limit": 1})
	if len(ids) != 3 || pages != 3 {
		t.Errorf("archived walk %v in %d pages", ids, pages)
	}
}
