package audit_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

func record(t *testing.T, db *pgxpool.Pool, entries ...audit.Entry) {
	t.Helper()
	err := pgx.BeginFunc(t.Context(), db, func(tx pgx.Tx) error {
		for _, e := range entries {
			if err := audit.Record(t.Context(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func actions(p audit.Page) string {
	out := make([]string, 0, len(p.Entries))
	for _, e := range p.Entries {
		out = append(out, e.Action)
	}
	return strings.Join(out, ",")
}

func TestListReadsACandidatesLogInOrderPageByPage(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	org, conn, cand, other := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	e := func(candidate, action, outcome string, attempt int) audit.Entry {
		return audit.Entry{OrgID: org, ConnectionID: conn, CandidateID: candidate, Direction: audit.DirectionPush,
			Action: action, Outcome: outcome, Attempt: attempt, OccurredAt: at}
	}
	// Rows with the same time still come in the order they were taken.
	record(t, db, e(cand, "create_opportunity", audit.OutcomeRetrying, 1), e(other, "create_opportunity", audit.OutcomeSucceeded, 1))
	record(t, db, e(cand, "create_opportunity", audit.OutcomeSucceeded, 2), e(cand, "move_stage", audit.OutcomeSucceeded, 1))
	record(t, db, audit.Entry{OrgID: org, ConnectionID: conn, CandidateID: cand, OperationID: "op-7", TriggerID: "ev-1",
		TriggerType: "candidate.stage_changed", Direction: audit.DirectionInbound, Action: "echo_suppressed", MappingVersion: 3,
		Rule: "Contacted → Reached out", Request: &audit.Exchange{Method: "PUT", Path: "/opportunities/o1/stage", Body: map[string]any{"stage": "s2"}},
		Response: &audit.Exchange{Status: 200}, Outcome: audit.OutcomeSkipped, Error: "", ActorUserID: "u1", ActorRemoteID: "lever-u1", OccurredAt: at})

	var got []audit.Logged
	token := ""
	pages := 0
	for {
		p, err := audit.List(ctx, db, audit.Filter{OrgID: org, CandidateID: cand}, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, p.Entries...)
		if token = p.NextPageToken; token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("the list does not end")
		}
	}
	if pages != 2 || len(got) != 4 {
		t.Fatalf("%d pages of %d rows; want 2 pages of 4 rows", pages, len(got))
	}
	want := []string{"create_opportunity/1", "create_opportunity/2", "move_stage/1", "echo_suppressed/1"}
	for i, l := range got {
		if s := l.Action + "/" + string(rune('0'+l.Attempt)); s != want[i] {
			t.Errorf("row %d: %s, want %s", i, s, want[i])
		}
		if l.CandidateID != cand || l.OrgID != org || l.ConnectionID != conn || (i > 0 && l.ID <= got[i-1].ID) {
			t.Errorf("row %d: %+v is not the candidate's in order", i, l)
		}
	}
	last := got[3]
	if last.OperationID != "op-7" || last.TriggerID != "ev-1" || last.TriggerType != "candidate.stage_changed" ||
		last.MappingVersion != 3 || last.Rule != "Contacted → Reached out" || last.ActorUserID != "u1" ||
		last.ActorRemoteID != "lever-u1" || last.Outcome != audit.OutcomeSkipped || !last.OccurredAt.Equal(at) {
		t.Errorf("columns lost: %+v", last)
	}
	var req audit.Exchange
	if err := json.Unmarshal(last.Request, &req); err != nil || req.Method != "PUT" || req.Path != "/opportunities/o1/stage" {
		t.Errorf("request %s: %+v, %v", last.Request, req, err)
	}
	if got[0].Request != nil || got[0].Response != nil {
		t.Errorf("a row without exchanges reads %s / %s", got[0].Request, got[0].Response)
	}
}

func TestListFiltersWithinTheOrganization(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	org, otherOrg, conn, otherConn, cand := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	record(t, db,
		audit.Entry{OrgID: org, ConnectionID: conn, CandidateID: cand, Direction: audit.DirectionPush, Action: "move_stage", Outcome: audit.OutcomeFailed},
		audit.Entry{OrgID: org, ConnectionID: conn, Direction: audit.DirectionReconcile, Action: "reconcile", Outcome: audit.OutcomeSucceeded},
		audit.Entry{OrgID: org, ConnectionID: conn, CandidateID: cand, Direction: audit.DirectionInbound, Action: "apply_stage", Outcome: audit.OutcomeSucceeded},
		audit.Entry{OrgID: otherOrg, ConnectionID: otherConn, CandidateID: cand, Direction: audit.DirectionPush, Action: "move_stage", Outcome: audit.OutcomeFailed},
	)
	for name, c := range map[string]struct {
		f    audit.Filter
		want string
	}{
		"the organization":      {audit.Filter{OrgID: org}, "move_stage,reconcile,apply_stage"},
		"the connection":        {audit.Filter{OrgID: org, ConnectionID: conn}, "move_stage,reconcile,apply_stage"},
		"a direction":           {audit.Filter{OrgID: org, Direction: audit.DirectionInbound}, "apply_stage"},
		"an outcome":            {audit.Filter{OrgID: org, Outcome: audit.OutcomeFailed}, "move_stage"},
		"an action":             {audit.Filter{OrgID: org, Action: " reconcile "}, "reconcile"},
		"everything at once":    {audit.Filter{OrgID: org, ConnectionID: conn, CandidateID: cand, Direction: audit.DirectionPush, Outcome: audit.OutcomeFailed, Action: "move_stage"}, "move_stage"},
		"another org's conn":    {audit.Filter{OrgID: org, ConnectionID: otherConn}, ""},
		"an unknown candidate":  {audit.Filter{OrgID: org, CandidateID: uuid.NewString()}, ""},
		"the other org's share": {audit.Filter{OrgID: otherOrg}, "move_stage"},
		"no organization":       {audit.Filter{OrgID: "not-an-org"}, ""},
	} {
		p, err := audit.List(ctx, db, c.f, 0, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := actions(p); got != c.want || p.NextPageToken != "" {
			t.Errorf("%s: %q (next %q), want %q", name, got, p.NextPageToken, c.want)
		}
	}
}

func TestListRefusesBadRequests(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	org, conn := uuid.NewString(), uuid.NewString()
	for range 3 {
		record(t, db, audit.Entry{OrgID: org, ConnectionID: conn, Direction: audit.DirectionPush, Action: "move_stage", Outcome: audit.OutcomeSucceeded})
	}
	p, err := audit.List(ctx, db, audit.Filter{OrgID: org}, 1, "")
	if err != nil || p.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	for name, c := range map[string]struct {
		f     audit.Filter
		size  int
		token string
		field string
	}{
		"a candidate that is no id":     {audit.Filter{OrgID: org, CandidateID: "c1"}, 0, "", "candidate_id"},
		"an unknown direction":          {audit.Filter{OrgID: org, Direction: "sideways"}, 0, "", "direction"},
		"an unknown outcome":            {audit.Filter{OrgID: org, Outcome: "maybe"}, 0, "", "outcome"},
		"a negative size":               {audit.Filter{OrgID: org}, -1, "", "page_size"},
		"a token that is none":          {audit.Filter{OrgID: org}, 0, "garbage!", "page_token"},
		"a token of another filter":     {audit.Filter{OrgID: org, Outcome: audit.OutcomeSucceeded}, 1, p.NextPageToken, "page_token"},
		"a token of another org":        {audit.Filter{OrgID: uuid.NewString()}, 1, p.NextPageToken, "page_token"},
		"an action longer than allowed": {audit.Filter{OrgID: org, Action: strings.Repeat("a", 101)}, 0, "", "action"},
	} {
		_, err := audit.List(ctx, db, c.f, c.size, c.token)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != c.field {
			t.Errorf("%s: %v, want InvalidArgument on %s", name, err, c.field)
		}
	}
	if _, err := audit.List(ctx, db, audit.Filter{OrgID: org, Outcome: "maybe"}, 0, ""); errors.Is(err, paging.ErrBadToken) {
		t.Errorf("a bad outcome reads as a bad token")
	}
}

func TestTimelineReadsCandidatesDecisionsInTimeOrderAfterAPosition(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	org, conn, cand, merged, other := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	e := func(candidate, action string, dt time.Duration) audit.Entry {
		return audit.Entry{OrgID: org, ConnectionID: conn, CandidateID: candidate, Direction: audit.DirectionPush,
			Action: action, Outcome: audit.OutcomeSucceeded, OccurredAt: at.Add(dt)}
	}
	// Taken in this order, but the timeline reads them by time: "late" was
	// recorded first with a later time.
	record(t, db, e(cand, "late", 3*time.Second), e(cand, "first", 0), e(merged, "merged", time.Second),
		e(other, "another candidate", 2*time.Second), e(cand, "same time", time.Second))
	record(t, db, audit.Entry{OrgID: uuid.NewString(), ConnectionID: conn, CandidateID: cand, Direction: audit.DirectionPush,
		Action: "another organization", Outcome: audit.OutcomeSucceeded, OccurredAt: at})

	names := func(ls []audit.Logged) string {
		out := make([]string, 0, len(ls))
		for _, l := range ls {
			out = append(out, l.Action)
		}
		return strings.Join(out, ",")
	}
	all, err := audit.Timeline(ctx, db, org, []string{cand, merged}, audit.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); got != "first,merged,same time,late" {
		t.Fatalf("timeline %q", got)
	}
	// After "merged" (same time as "same time", smaller id) come the rest.
	rest, err := audit.Timeline(ctx, db, org, []string{cand, merged}, audit.Position{At: all[1].OccurredAt, ID: all[1].ID}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(rest); got != "same time,late" {
		t.Fatalf("after merged: %q", got)
	}
	if two, err := audit.Timeline(ctx, db, org, []string{cand, merged}, audit.Position{}, 2); err != nil || names(two) != "first,merged" {
		t.Fatalf("limit 2: %q, %v", names(two), err)
	}
	if none, err := audit.Timeline(ctx, db, uuid.NewString(), []string{cand}, audit.Position{}, 10); err != nil || len(none) != 0 {
		t.Fatalf("another organization's view: %v, %v", none, err)
	}
	for _, bad := range [][]string{nil, {"not-a-uuid"}} {
		if _, err := audit.Timeline(ctx, db, org, bad, audit.Position{}, 10); !errors.Is(err, apperr.ErrInvalidArgument) {
			t.Errorf("candidates %v: %v", bad, err)
		}
	}
	if _, err := audit.Timeline(ctx, db, org, []string{cand}, audit.Position{}, -1); err == nil {
		t.Error("a negative page size was read")
	}
}
