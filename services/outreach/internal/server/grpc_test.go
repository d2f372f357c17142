package server_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/grpcserver"
	riverjobs "github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsprofiles"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/customfields"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/referrals"
	"github.com/tandemhq/tandem/services/outreach/internal/server"
	"github.com/tandemhq/tandem/services/outreach/internal/stages"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
	"github.com/tandemhq/tandem/services/outreach/internal/timeline"
)

// tokens resolves the API tokens a test hands out; identity does this in
// the running system.
type tokens map[string]authz.Principal

func (t tokens) ResolveAPIToken(_ context.Context, token string) (authz.Principal, error) {
	p, ok := t[token]
	if !ok {
		return authz.Principal{}, authz.ErrAPITokenInvalid
	}
	return p, nil
}

// noSubscribers is a publisher with nobody to deliver to; what a move
// publishes is tested in the stages package.
type noSubscribers struct{}

func (noSubscribers) Publish(context.Context, pgx.Tx, events.Event) (string, error) { return "", nil }

type world struct {
	t      *testing.T
	tokens tokens
	client outreachv1.OutreachServiceClient
	// pool is the test's database, whose outbox the publisher of notes,
	// referrals and conversations writes (storetest.Published reads it).
	pool *pgxpool.Pool
	// bucketDir is where the file:// bucket keeps files' bytes.
	bucketDir string
	// sync is atsbridge's sync audit the timeline merges.
	sync *fakeSyncAudit
}

// fakeSyncAudit answers for the decisions it holds, or is down.
type fakeSyncAudit struct {
	mu        sync.Mutex
	decisions []*atsbridgev1.SyncAuditEntry
	down      bool
	asked     *atsbridgev1.ListCandidateSyncAuditRequest
}

func (f *fakeSyncAudit) ListCandidateSyncAudit(_ context.Context, in *atsbridgev1.ListCandidateSyncAuditRequest, _ ...grpc.CallOption) (*atsbridgev1.ListCandidateSyncAuditResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = in
	if f.down {
		return nil, status.Error(codes.Unavailable, "atsbridge is down")
	}
	out := &atsbridgev1.ListCandidateSyncAuditResponse{}
	for _, d := range f.decisions {
		if d.GetOrganizationId() == in.GetOrganizationId() && slices.Contains(in.GetCandidateIds(), d.GetCandidateId()) {
			out.Entries = append(out.Entries, d)
		}
	}
	return out, nil
}

// serviceToken is what services present to internal RPCs here.
const serviceToken = "a-service-token-of-at-least-32-characters"

// newWorld is outreach's gRPC server as cmd/outreach wires it, on a real
// listener and a fresh database.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	st := store.New(pool)
	pub := storetest.Publisher(t, pool)
	if err := riverjobs.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	// Jobs are enqueued, not worked: what they do is tested in their
	// packages.
	jc, err := riverjobs.New(pool, riverjobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	bucketDir := t.TempDir()
	bucket, err := files.OpenBucket(t.Context(), (&url.URL{Scheme: "file", Path: filepath.ToSlash(bucketDir)}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bucket.Close() })
	toks := tokens{}
	sa := &fakeSyncAudit{}
	srv := grpcserver.New(grpcserver.Options{
		Auth:       &authz.Authenticator{Policy: server.Policy, APITokens: toks, Services: authz.ServiceTokens{Current: serviceToken}},
		Validators: server.Validators,
		// As cmd/outreach sets them.
		MethodMaxDeadlines: server.MaxDeadlines,
	})
	outreachv1.RegisterOutreachServiceServer(srv.GRPC(), server.New(server.Domain{
		Candidates:    candidates.New(st, time.Now),
		Stages:        stages.New(st, noSubscribers{}, time.Now),
		Timeline:      timeline.New(st, sa, nil),
		Notes:         notes.New(st, pub, time.Now),
		CustomFields:  customfields.New(st),
		Jobs:          jobs.New(st),
		Referrals:     referrals.New(st, pub, time.Now),
		Conversations: conversations.New(st, pub, time.Now),
		Files:         files.New(st, files.Options{Bucket: bucket, Jobs: jc, Publisher: pub}),
		Flows:         newFlows(t, pool, st),
		Emails:        newEmails(t, pool, st),
		ATSProfiles:   atsprofiles.New(st),
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &world{t: t, tokens: toks, client: outreachv1.NewOutreachServiceClient(conn), pool: pool, bucketDir: bucketDir, sync: sa}
}

// as returns a context calling as someone with role in org.
func (w *world) as(org string, role authz.Role) context.Context {
	ctx, _ := w.asUser(org, role)
	return ctx
}

// asUser is as, also returning the caller's user id.
func (w *world) asUser(org string, role authz.Role) (context.Context, string) {
	token, _ := authz.NewAPIToken()
	user := uuid.NewString()
	w.tokens[token] = authz.Principal{Kind: authz.KindAPIToken, OrgID: org, UserID: user, TokenID: uuid.NewString(), Role: role}
	return metadata.AppendToOutgoingContext(w.t.Context(), "authorization", "Bearer "+token), user
}

// asService returns a context calling as the mailbox service.
func (w *world) asService() context.Context {
	return metadata.AppendToOutgoingContext(w.t.Context(), authz.ServiceTokenMetadata, serviceToken, authz.ServiceNameMetadata, "mailbox")
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("want %v, got %v", want, err)
	}
	return st
}

func wantBadField(t *testing.T, err error, field string) {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Fatalf("want a violation of %s, got %v", field, st.Details())
}

func TestCandidatesOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{
		Name: "Ada Lovelace", Emails: []string{"ada@example.com"}, Company: "Engines",
		Links: []*outreachv1.Link{{Kind: outreachv1.LinkKind_LINK_KIND_LINKEDIN, Url: "https://www.linkedin.com/in/ada"}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCandidate()
	if c.GetId() == "" || c.GetLinks()[0].GetKind() != outreachv1.LinkKind_LINK_KIND_LINKEDIN || c.GetOwnerUserId() == "" {
		t.Fatalf("created %v", c)
	}

	// The same address again names the existing candidate.
	_, err = w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{" ADA@example.com"}}})
	st := wantCode(t, err, codes.AlreadyExists)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info.GetMetadata()["candidate_id"] != c.GetId() || info.GetReason() != "candidate_exists" {
		t.Fatalf("the duplicate should name %s: %v", c.GetId(), st.Details())
	}

	// A Member reads but cannot write.
	member := w.as(org, authz.RoleMember)
	if _, err := w.client.GetCandidate(member, &outreachv1.GetCandidateRequest{CandidateId: c.GetId()}); err != nil {
		t.Fatalf("a member reads: %v", err)
	}
	_, err = w.client.CreateCandidate(member, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "X"}})
	wantCode(t, err, codes.PermissionDenied)

	updated, err := w.client.UpdateCandidate(rec, &outreachv1.UpdateCandidateRequest{
		Candidate: &outreachv1.Candidate{Id: c.GetId(), Title: "Analyst", Name: "not applied"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	if err != nil || updated.GetCandidate().GetTitle() != "Analyst" || updated.GetCandidate().GetName() != "Ada Lovelace" {
		t.Fatalf("update: %v, %v", updated, err)
	}
	found, err := w.client.SearchCandidates(member, &outreachv1.SearchCandidatesRequest{Company: "engine"})
	if err != nil || len(found.GetCandidates()) != 1 {
		t.Fatalf("search: %v, %v", found, err)
	}

	// Bad input names its field and stores nothing, on every write RPC.
	_, err = w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Bad", Emails: []string{"bad@"}}})
	wantBadField(t, err, "candidate.emails[0]")
	_, err = w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{})
	wantBadField(t, err, "candidate")
	_, err = w.client.UpdateCandidate(rec, &outreachv1.UpdateCandidateRequest{
		Candidate: &outreachv1.Candidate{Id: c.GetId(), TimeZone: "Nowhere"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"time_zone"}}})
	wantBadField(t, err, "candidate.time_zone")
	_, err = w.client.UpdateCandidate(rec, &outreachv1.UpdateCandidateRequest{Candidate: &outreachv1.Candidate{Id: c.GetId()}})
	wantBadField(t, err, "update_mask")
	_, err = w.client.MergeCandidates(rec, &outreachv1.MergeCandidatesRequest{SurvivorId: c.GetId()})
	wantBadField(t, err, "merged_id")
	_, err = w.client.DeleteCandidate(rec, &outreachv1.DeleteCandidateRequest{})
	wantBadField(t, err, "candidate_id")
	_, err = w.client.UndeleteCandidate(rec, &outreachv1.UndeleteCandidateRequest{})
	wantBadField(t, err, "candidate_id")
	_, err = w.client.BatchCreateCandidates(rec, &outreachv1.BatchCreateCandidatesRequest{})
	wantBadField(t, err, "candidates")
	list, err := w.client.ListCandidates(rec, &outreachv1.ListCandidatesRequest{})
	if err != nil || len(list.GetCandidates()) != 1 {
		t.Fatalf("bad input stored something: %v, %v", list, err)
	}

	// Another organization's candidate is NotFound on every RPC taking an id.
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	id := c.GetId()
	for name, call := range map[string]func() error{
		"Get": func() error {
			_, err := w.client.GetCandidate(other, &outreachv1.GetCandidateRequest{CandidateId: id})
			return err
		},
		"Update": func() error {
			_, err := w.client.UpdateCandidate(other, &outreachv1.UpdateCandidateRequest{Candidate: &outreachv1.Candidate{Id: id, Name: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
			return err
		},
		"Delete": func() error {
			_, err := w.client.DeleteCandidate(other, &outreachv1.DeleteCandidateRequest{CandidateId: id})
			return err
		},
		"Undelete": func() error {
			_, err := w.client.UndeleteCandidate(other, &outreachv1.UndeleteCandidateRequest{CandidateId: id})
			return err
		},
		"Merge": func() error {
			_, err := w.client.MergeCandidates(other, &outreachv1.MergeCandidatesRequest{SurvivorId: id, MergedId: uuid.NewString()})
			return err
		},
	} {
		if st, _ := status.FromError(call()); st.Code() != codes.NotFound {
			t.Errorf("%s of another organization's candidate: %v", name, st)
		}
	}

	// Delete, then restore.
	if _, err := w.client.DeleteCandidate(rec, &outreachv1.DeleteCandidateRequest{CandidateId: id}); err != nil {
		t.Fatal(err)
	}
	if list, err := w.client.ListCandidates(rec, &outreachv1.ListCandidatesRequest{}); err != nil || len(list.GetCandidates()) != 0 {
		t.Fatalf("a deleted candidate is listed: %v, %v", list, err)
	}
	back, err := w.client.UndeleteCandidate(rec, &outreachv1.UndeleteCandidateRequest{CandidateId: id})
	if err != nil || back.GetCandidate().GetDeleteTime() != nil {
		t.Fatalf("restore: %v, %v", back, err)
	}
	_, err = w.client.UndeleteCandidate(rec, &outreachv1.UndeleteCandidateRequest{CandidateId: id})
	wantCode(t, err, codes.FailedPrecondition)

	batch, err := w.client.BatchCreateCandidates(rec, &outreachv1.BatchCreateCandidatesRequest{Candidates: []*outreachv1.Candidate{
		{Name: "New", Emails: []string{"new@example.com"}}, {Name: "Again", Emails: []string{"ada@EXAMPLE.com"}}, {Name: "", Emails: []string{"x@example.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := batch.GetResults()
	if len(r) != 3 || r[0].GetOutcome() != outreachv1.BatchOutcome_BATCH_OUTCOME_CREATED || r[1].GetOutcome() != outreachv1.BatchOutcome_BATCH_OUTCOME_MATCHED ||
		r[1].GetCandidateId() != id || r[2].GetOutcome() != outreachv1.BatchOutcome_BATCH_OUTCOME_REFUSED || r[2].GetField() != "candidates[2].name" || r[2].GetIndex() != 2 {
		t.Fatalf("batch: %v", r)
	}
	merged, err := w.client.MergeCandidates(rec, &outreachv1.MergeCandidatesRequest{SurvivorId: id, MergedId: r[0].GetCandidateId()})
	if err != nil || len(merged.GetCandidate().GetEmails()) != 2 {
		t.Fatalf("merge: %v, %v", merged, err)
	}
	got, err := w.client.GetCandidate(member, &outreachv1.GetCandidateRequest{CandidateId: r[0].GetCandidateId()})
	if err != nil || got.GetCandidate().GetId() != id {
		t.Fatalf("the merged id resolves to the survivor: %v, %v", got, err)
	}
}

func TestStagesOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	admin, rec, member := w.as(org, authz.RoleAdmin), w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleMember)
	list, err := w.client.ListStages(member, &outreachv1.ListStagesRequest{})
	if err != nil || len(list.GetStages()) != 6 || list.GetStages()[0].GetName() != "New" || list.GetStages()[5].GetName() != "Hired" {
		t.Fatalf("defaults: %v, %v", list, err)
	}
	ss := list.GetStages()
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Mover"}})
	if err != nil || created.GetCandidate().GetStageId() != ss[0].GetId() {
		t.Fatalf("a new candidate is New: %v, %v", created, err)
	}
	id := created.GetCandidate().GetId()

	// Only Recruiters and above move candidates; only Admins shape stages.
	_, err = w.client.MoveCandidateStage(member, &outreachv1.MoveCandidateStageRequest{CandidateId: id, StageId: ss[1].GetId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.CreateStage(rec, &outreachv1.CreateStageRequest{Stage: &outreachv1.Stage{Name: "Screen"}})
	wantCode(t, err, codes.PermissionDenied)
	moved, err := w.client.MoveCandidateStage(rec, &outreachv1.MoveCandidateStageRequest{CandidateId: id, StageId: ss[3].GetId(), Reason: "keen"})
	if err != nil || moved.GetCandidate().GetStageId() != ss[3].GetId() || moved.GetCandidate().GetStageVersion() != 1 {
		t.Fatalf("move: %v, %v", moved, err)
	}
	if _, err := w.client.CreateStage(admin, &outreachv1.CreateStageRequest{Stage: &outreachv1.Stage{Name: "Screen"}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.CreateStage(admin, &outreachv1.CreateStageRequest{Stage: &outreachv1.Stage{Name: "screen"}})
	wantCode(t, err, codes.AlreadyExists)
	_, err = w.client.RetireStage(admin, &outreachv1.RetireStageRequest{StageId: ss[3].GetId()})
	if st := wantCode(t, err, codes.FailedPrecondition); !strings.Contains(st.Message(), "1 candidates") {
		t.Fatalf("the refusal should say how many: %v", st.Message())
	}
	retired, err := w.client.RetireStage(admin, &outreachv1.RetireStageRequest{StageId: ss[3].GetId(), MoveToStageId: ss[4].GetId()})
	if err != nil || retired.GetMovedCandidates() != 1 || !retired.GetStage().GetRetired() {
		t.Fatalf("retire: %v, %v", retired, err)
	}

	// Bad input names its field, on every write RPC.
	_, err = w.client.CreateStage(admin, &outreachv1.CreateStageRequest{Stage: &outreachv1.Stage{Name: ""}})
	wantBadField(t, err, "stage.name")
	_, err = w.client.UpdateStage(admin, &outreachv1.UpdateStageRequest{Stage: &outreachv1.Stage{Id: ss[0].GetId(), Name: "Fresh"}})
	wantBadField(t, err, "update_mask")
	_, err = w.client.ReorderStages(admin, &outreachv1.ReorderStagesRequest{StageIds: []string{ss[0].GetId()}})
	wantBadField(t, err, "stage_ids")
	_, err = w.client.RetireStage(admin, &outreachv1.RetireStageRequest{})
	wantBadField(t, err, "stage_id")
	_, err = w.client.MoveCandidateStage(rec, &outreachv1.MoveCandidateStageRequest{CandidateId: id})
	wantBadField(t, err, "stage_id")

	// Another organization's candidate and stages are NotFound.
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	theirs, err := w.client.ListStages(other, &outreachv1.ListStagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.MoveCandidateStage(other, &outreachv1.MoveCandidateStageRequest{CandidateId: id, StageId: theirs.GetStages()[1].GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.MoveCandidateStage(rec, &outreachv1.MoveCandidateStageRequest{CandidateId: id, StageId: theirs.GetStages()[1].GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.UpdateStage(other, &outreachv1.UpdateStageRequest{Stage: &outreachv1.Stage{Id: ss[0].GetId(), Name: "Mine"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.RetireStage(other, &outreachv1.RetireStageRequest{StageId: ss[1].GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.ListTimeline(other, &outreachv1.ListTimelineRequest{CandidateId: id})
	wantCode(t, err, codes.NotFound)

	// The moves are on the timeline, in order, for every member to read.
	tl, err := w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: id, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_STAGE_CHANGED}})
	if err != nil || len(tl.GetEntries()) != 2 {
		t.Fatalf("timeline: %v, %v", tl, err)
	}
	first, second := tl.GetEntries()[0].GetStageChange(), tl.GetEntries()[1].GetStageChange()
	if first.GetToStageName() != "Interested" || first.GetReason() != "keen" || first.GetSource() != outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER ||
		second.GetFromStageName() != "Interested" || second.GetToStageName() != "Not interested" || tl.GetEntries()[0].GetActorUserId() == "" {
		t.Fatalf("timeline entries %v", tl.GetEntries())
	}
	_, err = w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: id, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_UNSPECIFIED}})
	wantBadField(t, err, "kinds[0]")
}

// The timeline merges atsbridge's decisions about the candidate (ADR
// 0027), and says so when atsbridge does not answer.
func TestTimelineShowsTheSyncDecisions(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	member := w.as(org, authz.RoleMember)
	created, err := w.client.CreateCandidate(w.as(org, authz.RoleRecruiter), &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Synced"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCandidate().GetId()
	w.sync.mu.Lock()
	w.sync.decisions = []*atsbridgev1.SyncAuditEntry{{Id: 41, OrganizationId: org, ConnectionId: "conn", CandidateId: id, Direction: "push",
		Action: "create_opportunity", Outcome: "held", Attempt: 2, MappingVersion: 3, Rule: "New → New lead", Error: "reconnect required",
		TriggerType: "enrollment.created", OperationId: "op", ActorUserId: "u1", ActorRemoteId: "lu1", OccurTime: timestamppb.New(time.Now().Add(time.Hour))},
		{Id: 42, OrganizationId: uuid.NewString(), CandidateId: id, OccurTime: timestamppb.Now()}}
	w.sync.mu.Unlock()
	tl, err := w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.GetEntries()) != 2 || tl.GetEntries()[0].GetKind() != outreachv1.TimelineKind_TIMELINE_KIND_CREATED || tl.GetAtsSyncUnavailable() {
		t.Fatalf("timeline %v", tl)
	}
	e := tl.GetEntries()[1]
	d := e.GetAtsSync()
	if e.GetKind() != outreachv1.TimelineKind_TIMELINE_KIND_ATS_SYNC || e.GetId() != "ats-sync-41" || e.GetActorUserId() != "u1" || e.GetCandidateId() != id ||
		d.GetAuditId() != 41 || d.GetConnectionId() != "conn" || d.GetDirection() != "push" || d.GetAction() != "create_opportunity" || d.GetOutcome() != "held" ||
		d.GetAttempt() != 2 || d.GetMappingVersion() != 3 || d.GetRule() != "New → New lead" || d.GetError() != "reconnect required" ||
		d.GetTriggerType() != "enrollment.created" || d.GetOperationId() != "op" || d.GetActorRemoteId() != "lu1" {
		t.Fatalf("decision %v", e)
	}
	if a := w.sync.asked; a.GetOrganizationId() != org || !slices.Equal(a.GetCandidateIds(), []string{id}) {
		t.Fatalf("atsbridge was asked %v", a)
	}
	only, err := w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: id, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_ATS_SYNC}})
	if err != nil || len(only.GetEntries()) != 1 {
		t.Fatalf("decisions only: %v, %v", only, err)
	}
	w.sync.mu.Lock()
	w.sync.down = true
	w.sync.mu.Unlock()
	tl, err = w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: id})
	if err != nil || len(tl.GetEntries()) != 1 || !tl.GetAtsSyncUnavailable() {
		t.Fatalf("without atsbridge: %v, %v", tl, err)
	}
}

func TestNotesOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	ann, bob, admin, member := w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleAdmin), w.as(org, authz.RoleMember)
	created, err := w.client.CreateCandidate(ann, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Noted"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCandidate().GetId()
	private, err := w.client.CreateNote(ann, &outreachv1.CreateNoteRequest{CandidateId: id,
		Note: &outreachv1.Note{Body: "wants remote", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.CreateNote(ann, &outreachv1.CreateNoteRequest{CandidateId: id,
		Note: &outreachv1.Note{Body: "strong Go", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ctx  context.Context
		want int
	}{"author": {ann, 2}, "other recruiter": {bob, 1}, "member": {member, 1}, "admin": {admin, 2}} {
		list, err := w.client.ListNotes(tc.ctx, &outreachv1.ListNotesRequest{CandidateId: id})
		if err != nil || len(list.GetNotes()) != tc.want {
			t.Errorf("%s sees %d notes, want %d (%v)", name, len(list.GetNotes()), tc.want, err)
		}
		tl, err := w.client.ListTimeline(tc.ctx, &outreachv1.ListTimelineRequest{CandidateId: id, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_NOTE}})
		if err != nil || len(tl.GetEntries()) != tc.want {
			t.Errorf("%s sees %d note entries, want %d (%v)", name, len(tl.GetEntries()), tc.want, err)
		}
	}
	_, err = w.client.CreateNote(member, &outreachv1.CreateNoteRequest{CandidateId: id, Note: &outreachv1.Note{Body: "x", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}})
	wantCode(t, err, codes.PermissionDenied)
	noteID := private.GetNote().GetId()
	edit := &outreachv1.UpdateNoteRequest{Note: &outreachv1.Note{Id: noteID, Body: "edited"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}}}
	_, err = w.client.UpdateNote(bob, edit)
	wantCode(t, err, codes.NotFound)
	_, err = w.client.DeleteNote(bob, &outreachv1.DeleteNoteRequest{NoteId: noteID})
	wantCode(t, err, codes.NotFound)
	if got, err := w.client.UpdateNote(ann, edit); err != nil || got.GetNote().GetBody() != "edited" || got.GetNote().GetVisibility() != outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE {
		t.Fatalf("the author edits: %v, %v", got, err)
	}

	// Bad input names its field.
	_, err = w.client.CreateNote(ann, &outreachv1.CreateNoteRequest{CandidateId: id, Note: &outreachv1.Note{Body: "no visibility"}})
	wantBadField(t, err, "note.visibility")
	_, err = w.client.CreateNote(ann, &outreachv1.CreateNoteRequest{CandidateId: id, Note: &outreachv1.Note{Body: " ", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}})
	wantBadField(t, err, "note.body")
	_, err = w.client.UpdateNote(ann, &outreachv1.UpdateNoteRequest{Note: &outreachv1.Note{Id: noteID}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visibility"}}})
	wantBadField(t, err, "note.visibility")
	_, err = w.client.UpdateNote(ann, &outreachv1.UpdateNoteRequest{Note: &outreachv1.Note{Id: noteID}})
	wantBadField(t, err, "update_mask")
	_, err = w.client.DeleteNote(ann, &outreachv1.DeleteNoteRequest{})
	wantBadField(t, err, "note_id")

	// Another organization finds neither the candidate nor the note.
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	_, err = w.client.CreateNote(other, &outreachv1.CreateNoteRequest{CandidateId: id, Note: &outreachv1.Note{Body: "x", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.ListNotes(other, &outreachv1.ListNotesRequest{CandidateId: id})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.UpdateNote(other, edit)
	wantCode(t, err, codes.NotFound)
	_, err = w.client.DeleteNote(other, &outreachv1.DeleteNoteRequest{NoteId: noteID})
	wantCode(t, err, codes.NotFound)
	if _, err := w.client.DeleteNote(admin, &outreachv1.DeleteNoteRequest{NoteId: noteID}); err != nil {
		t.Fatalf("an admin deletes: %v", err)
	}
}

func TestCustomFieldsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	admin, rec := w.as(org, authz.RoleAdmin), w.as(org, authz.RoleRecruiter)
	def := &outreachv1.CustomFieldDefinition{Key: "level", DisplayName: "Level", Type: outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_CHOICE, Options: []string{"junior", "senior"}}
	_, err := w.client.CreateCustomFieldDefinition(rec, &outreachv1.CreateCustomFieldDefinitionRequest{Definition: def})
	wantCode(t, err, codes.PermissionDenied)
	if _, err := w.client.CreateCustomFieldDefinition(admin, &outreachv1.CreateCustomFieldDefinitionRequest{Definition: def}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.CreateCustomFieldDefinition(admin, &outreachv1.CreateCustomFieldDefinitionRequest{Definition: def})
	wantCode(t, err, codes.AlreadyExists)
	_, err = w.client.CreateCustomFieldDefinition(admin, &outreachv1.CreateCustomFieldDefinitionRequest{Definition: &outreachv1.CustomFieldDefinition{Key: "k", DisplayName: "K"}})
	wantBadField(t, err, "definition.type")
	list, err := w.client.ListCustomFieldDefinitions(rec, &outreachv1.ListCustomFieldDefinitionsRequest{})
	if err != nil || len(list.GetDefinitions()) != 1 || list.GetDefinitions()[0].GetType() != outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_CHOICE {
		t.Fatalf("definitions: %v, %v", list, err)
	}
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", CustomFields: map[string]string{"level": "senior"}}})
	if err != nil || created.GetCandidate().GetCustomFields()["level"] != "senior" {
		t.Fatalf("create: %v, %v", created, err)
	}
	_, err = w.client.UpdateCandidate(rec, &outreachv1.UpdateCandidateRequest{Candidate: &outreachv1.Candidate{Id: created.GetCandidate().GetId(), CustomFields: map[string]string{"level": "staff"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"custom_fields"}}})
	wantBadField(t, err, "candidate.custom_fields.level")
	// Another organization has no such field.
	_, err = w.client.CreateCandidate(w.as(uuid.NewString(), authz.RoleAdmin), &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", CustomFields: map[string]string{"level": "senior"}}})
	wantBadField(t, err, "candidate.custom_fields.level")
}
