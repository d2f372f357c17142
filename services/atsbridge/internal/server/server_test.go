package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/ratelimit"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/server"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// fakeConnections answers for the caller's organization only, and records
// what the handlers passed.
type fakeConnections struct {
	org, token    string
	size          int
	publishedOnly bool
}

func (f *fakeConnections) Get(_ context.Context, orgID string) (connections.Health, error) {
	f.org = orgID
	synced := time.Unix(1700000000, 0)
	return connections.Health{
		Connection: store.Connection{ID: "c1", OrgID: orgID, Provider: "lever", Status: store.StatusSyncing, Reason: "importing",
			LastSyncAt: &synced, Counts: store.Counts{Stages: 3, Postings: 5, PublishedPostings: 2, Users: 4, ArchiveReasons: 6}, UpdatedAt: synced},
		Errors: store.RecentErrors{Total: 2, RateLimited: 1, Last: "Lever's rate limit was reached"},
		Limit:  connections.RateLimit{PerSecond: 10, Burst: 20},
		Sync: store.SyncHealth{PendingPushes: 3, HeldPushes: 2, NextRetryAt: &synced, FailedPushes: 1, Webhooks: 5,
			WebhooksApplied: 4, WebhooksIgnored: 1, LastWebhookAt: &synced},
		Budget: &ratelimit.Budget{Burst: 20, Available: 15, Used: 5},
	}, nil
}

func (f *fakeConnections) Stages(_ context.Context, orgID string, size int, token string) (connections.StagePage, error) {
	f.org, f.size, f.token = orgID, size, token
	return connections.StagePage{Stages: []store.Stage{{RemoteID: "s1", Name: "New lead", Position: 0}}, Next: "n"}, nil
}

func (f *fakeConnections) Postings(_ context.Context, orgID string, publishedOnly bool, size int, token string) (connections.PostingPage, error) {
	f.org, f.publishedOnly, f.size, f.token = orgID, publishedOnly, size, token
	return connections.PostingPage{Postings: []store.Posting{{RemoteID: "p1", Title: "Go", State: store.PostingPublished}, {RemoteID: "p2", State: "closed"}}}, nil
}

func (f *fakeConnections) Users(_ context.Context, orgID string, size int, token string) (connections.UserPage, error) {
	f.org, f.size, f.token = orgID, size, token
	return connections.UserPage{Users: []store.User{{RemoteID: "u1", Email: "a@x.example", Deactivated: true}}}, nil
}

func TestTranslates(t *testing.T) {
	f := &fakeConnections{}
	s := server.New(f, nil, nil)
	ctx := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u", Role: authz.RoleRecruiter})

	got, err := s.GetAtsConnection(ctx, &atsbridgev1.GetAtsConnectionRequest{})
	c, h := got.GetConnection(), got.GetConnection().GetHealth()
	if err != nil || f.org != "org-a" || c.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_SYNCING || c.GetReason() != "importing" ||
		h.GetLastSyncTime().AsTime().Unix() != 1700000000 || h.GetLastSuccessTime() != nil || h.GetStages() != 3 || h.GetPublishedPostings() != 2 ||
		h.GetErrorsLastDay() != 2 || h.GetRateLimitedLastDay() != 1 || h.GetRateLimitPerSecond() != 10 || h.GetRateLimitBurst() != 20 {
		t.Fatalf("GetAtsConnection: %v, %v", got, err)
	}
	if h.GetPendingPushes() != 3 || h.GetHeldPushes() != 2 || h.GetFailedPushesLastDay() != 1 || h.GetNextRetryTime().AsTime().Unix() != 1700000000 ||
		h.GetWebhookDeliveriesLastDay() != 5 || h.GetWebhooksAppliedLastDay() != 4 || h.GetWebhooksIgnoredLastDay() != 1 ||
		h.GetLastWebhookTime() == nil || h.GetRecoveredTime() != nil || h.RateLimitAvailable == nil || h.GetRateLimitAvailable() != 15 || h.GetRateLimitUsed() != 5 {
		t.Fatalf("GetAtsConnection's sync health: %v", h)
	}
	stages, err := s.ListAtsStages(ctx, &atsbridgev1.ListAtsStagesRequest{PageSize: 7, PageToken: "t"})
	if err != nil || f.size != 7 || f.token != "t" || stages.GetNextPageToken() != "n" || stages.GetStages()[0].GetName() != "New lead" {
		t.Fatalf("ListAtsStages: %v, %v", stages, err)
	}
	postings, err := s.ListAtsPostings(ctx, &atsbridgev1.ListAtsPostingsRequest{PublishedOnly: true})
	if err != nil || !f.publishedOnly || !postings.GetPostings()[0].GetPublished() || postings.GetPostings()[1].GetPublished() {
		t.Fatalf("ListAtsPostings: %v, %v", postings, err)
	}
	users, err := s.ListAtsUsers(ctx, &atsbridgev1.ListAtsUsersRequest{})
	if err != nil || users.GetUsers()[0].GetEmail() != "a@x.example" || !users.GetUsers()[0].GetDeactivated() {
		t.Fatalf("ListAtsUsers: %v, %v", users, err)
	}
	if _, err := s.GetAtsConnection(t.Context(), &atsbridgev1.GetAtsConnectionRequest{}); err == nil {
		t.Fatal("a call without a caller was answered")
	}
}

type fakeMappings struct {
	server.Mappings
	org, by string
	base    int
	table   store.Table
}

func (f *fakeMappings) Save(_ context.Context, orgID, by string, base int, t store.Table) (store.Mapping, error) {
	f.org, f.by, f.base, f.table = orgID, by, base, t
	if len(t.ToATS) == 0 {
		return store.Mapping{}, &mappings.Invalid{Problems: []mappings.Problem{{Reason: mappings.ReasonIncomplete, Field: "to_ats", Description: `Tandem stage "New" has no place in the ATS`}}}
	}
	return store.Mapping{Version: base + 1, Table: t, CreatedBy: by}, nil
}

func (f *fakeMappings) CheckFlowLink(_ context.Context, orgID, posting string) (mappings.Refusal, error) {
	f.org = orgID
	if posting == "draft" {
		return mappings.Refusal{Reason: mappings.ReasonPostingNotPublished, Description: "draft"}, nil
	}
	return mappings.Refusal{}, nil
}

func TestTranslatesMappings(t *testing.T) {
	f := &fakeMappings{}
	s := server.New(&fakeConnections{}, f, nil)
	ctx := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u-admin", Role: authz.RoleAdmin})
	row := &atsbridgev1.TandemToAtsRow{TandemStageId: "t1", Ats: &atsbridgev1.AtsPlace{ArchiveReasonId: "r1"}}
	got, err := s.SaveStageMapping(ctx, &atsbridgev1.SaveStageMappingRequest{BaseVersion: 1, Mapping: &atsbridgev1.StageMapping{ToAts: []*atsbridgev1.TandemToAtsRow{row}}})
	if err != nil || f.org != "org-a" || f.by != "u-admin" || f.base != 1 || got.GetMapping().GetVersion() != 2 ||
		f.table.ToATS[0] != (store.ToATS{TandemStageID: "t1", ATS: store.Place{ArchiveReasonID: "r1"}}) || got.GetMapping().GetToAts()[0].GetAts().GetArchiveReasonId() != "r1" {
		t.Fatalf("save: %v, %v (%+v)", got, err, f)
	}
	_, err = s.SaveStageMapping(ctx, &atsbridgev1.SaveStageMappingRequest{Mapping: &atsbridgev1.StageMapping{}})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != "mapping.to_ats" || ae.Reason != mappings.ReasonIncomplete ||
		!strings.Contains(ae.Public, `"New" has no place`) {
		t.Fatalf("an incomplete table: %v", err)
	}
	if _, err := s.SaveStageMapping(ctx, &atsbridgev1.SaveStageMappingRequest{}); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("no mapping: %v", err)
	}
	svc := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindService, Service: "outreach"})
	if r, err := s.CheckFlowLink(svc, &atsbridgev1.CheckFlowLinkRequest{OrganizationId: "org-b", ExternalJobId: "draft"}); err != nil || r.GetOk() ||
		r.GetReason() != mappings.ReasonPostingNotPublished || f.org != "org-b" {
		t.Fatalf("check: %v, %v", r, err)
	}
	if r, err := s.CheckFlowLink(svc, &atsbridgev1.CheckFlowLinkRequest{OrganizationId: "org-b", ExternalJobId: "p"}); err != nil || !r.GetOk() {
		t.Fatalf("check: %v, %v", r, err)
	}
}

// fakeAudit records the filter it was asked for.
type fakeAudit struct {
	f     audit.Filter
	size  int
	token string

	org        string
	candidates []string
	after      audit.Position
}

func (f *fakeAudit) Timeline(_ context.Context, orgID string, candidateIDs []string, after audit.Position, limit int) ([]audit.Logged, error) {
	f.org, f.candidates, f.after, f.size = orgID, candidateIDs, after, limit
	return []audit.Logged{{ID: 9, OrgID: orgID, ConnectionID: "c1", CandidateID: candidateIDs[0], Direction: audit.DirectionPush,
		Action: "move_stage", Outcome: audit.OutcomeHeld, OccurredAt: time.Unix(1700000001, 0)}}, nil
}

func (f *fakeAudit) List(_ context.Context, filter audit.Filter, size int, token string) (audit.Page, error) {
	f.f, f.size, f.token = filter, size, token
	at := time.Unix(1700000000, 0)
	return audit.Page{NextPageToken: "next", Entries: []audit.Logged{
		{ID: 7, OrgID: filter.OrgID, ConnectionID: "c1", CandidateID: "cand", OperationID: "op", TriggerID: "ev", TriggerType: "candidate.stage_changed",
			Direction: audit.DirectionPush, Action: "move_stage", MappingVersion: 2, Rule: "Contacted → Reached out",
			Request:  json.RawMessage(`{"method":"PUT","path":"/opportunities/o1/stage","body":{"stage":"s2","ids":[1,2]}}`),
			Response: json.RawMessage(`{"status":200}`), Attempt: 2, Outcome: audit.OutcomeSucceeded, ActorUserID: "u", ActorRemoteID: "lu", OccurredAt: at},
		{ID: 8, OrgID: filter.OrgID, ConnectionID: "c1", Direction: audit.DirectionReconcile, Action: "reconcile", Outcome: audit.OutcomeSkipped, OccurredAt: at},
	}}, nil
}

func TestTranslatesTheSyncAudit(t *testing.T) {
	f := &fakeAudit{}
	s := server.New(&fakeConnections{}, nil, f)
	ctx := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u", Role: authz.RoleRecruiter})
	got, err := s.ListSyncAudit(ctx, &atsbridgev1.ListSyncAuditRequest{CandidateId: "cand", Direction: "push", Outcome: "succeeded",
		Action: "move_stage", PageSize: 3, PageToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if f.f != (audit.Filter{OrgID: "org-a", CandidateID: "cand", Direction: "push", Outcome: "succeeded", Action: "move_stage"}) || f.size != 3 || f.token != "t" {
		t.Fatalf("asked for %+v size %d token %q", f.f, f.size, f.token)
	}
	if len(got.GetEntries()) != 2 || got.GetNextPageToken() != "next" {
		t.Fatalf("page %v", got)
	}
	e := got.GetEntries()[0]
	if e.GetId() != 7 || e.GetOrganizationId() != "org-a" || e.GetCandidateId() != "cand" || e.GetTriggerType() != "candidate.stage_changed" ||
		e.GetMappingVersion() != 2 || e.GetAttempt() != 2 || e.GetActorRemoteId() != "lu" || e.GetOccurTime().AsTime().Unix() != 1700000000 {
		t.Errorf("entry %v", e)
	}
	req := e.GetRequest()
	if req.GetMethod() != "PUT" || req.GetPath() != "/opportunities/o1/stage" ||
		req.GetBody().GetStructValue().GetFields()["stage"].GetStringValue() != "s2" || e.GetResponse().GetStatus() != 200 {
		t.Errorf("exchanges %v / %v", req, e.GetResponse())
	}
	if second := got.GetEntries()[1]; second.GetRequest() != nil || second.GetResponse() != nil || second.GetCandidateId() != "" {
		t.Errorf("a decision without exchanges: %v", second)
	}
	if _, err := s.ListSyncAudit(t.Context(), &atsbridgev1.ListSyncAuditRequest{}); err == nil {
		t.Fatal("a call without a caller was answered")
	}
}

func TestTranslatesTheCandidateSyncAuditForTheTimeline(t *testing.T) {
	f := &fakeAudit{}
	s := server.New(&fakeConnections{}, nil, f)
	svc := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindService, Service: "outreach"})
	got, err := s.ListCandidateSyncAudit(svc, &atsbridgev1.ListCandidateSyncAuditRequest{OrganizationId: "org-b", CandidateIds: []string{"cand", "merged"},
		AfterTime: timestamppb.New(time.Unix(1700000000, 5)), AfterId: 4, PageSize: 11})
	if err != nil {
		t.Fatal(err)
	}
	if f.org != "org-b" || len(f.candidates) != 2 || f.after != (audit.Position{At: time.Unix(1700000000, 5).UTC(), ID: 4}) || f.size != 11 {
		t.Fatalf("asked for %s %v after %+v size %d", f.org, f.candidates, f.after, f.size)
	}
	if len(got.GetEntries()) != 1 || got.GetEntries()[0].GetId() != 9 || got.GetEntries()[0].GetOutcome() != audit.OutcomeHeld {
		t.Fatalf("entries %v", got.GetEntries())
	}
	if _, err := s.ListCandidateSyncAudit(svc, &atsbridgev1.ListCandidateSyncAuditRequest{OrganizationId: "org-b", CandidateIds: []string{"cand"}}); err != nil ||
		!f.after.At.IsZero() {
		t.Fatalf("without a position: after %+v, %v", f.after, err)
	}
	if _, err := s.ListCandidateSyncAudit(svc, &atsbridgev1.ListCandidateSyncAuditRequest{OrganizationId: "org-b", CandidateIds: []string{"cand"},
		AfterTime: &timestamppb.Timestamp{Nanos: -1}}); err == nil {
		t.Fatal("an invalid position was read")
	}
}
