package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// connectedLever is an organization whose Super Admin connected the
// simulator's demo Lever account and whose import finished.
type connectedLever struct {
	s      *stack.Stack
	owner  api
	connID string
	acct   simclient.LeverAccount
}

// connectLever runs LV-1's connect steps: the Super Admin through the
// gateway, Lever's sign-in and consent and the callback, then waits for
// the import.
func connectLever(t testing.TB) connectedLever {
	t.Helper()
	s := stack.Start(t, binDir, stack.Options{})
	_, owner := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	return connectLeverAs(t, s, owner)
}

// connectLeverAs is connectLever for a Super Admin of a running stack.
func connectLeverAs(t testing.TB, s *stack.Stack, owner api) connectedLever {
	t.Helper()
	connect := &identityv1.ConnectLeverResponse{}
	owner.must("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, connect)
	br := leverBrowser(t, s)
	done := br.follow(br.consentAtLever(connect.GetAuthorizeUrl(), providersim.DemoLeverSuperAdmin))
	if done.Redirect == nil {
		t.Fatalf("callback: %d %s", done.Status, done.Body)
	}
	res := exchange(t, br, loginCode(t, done))
	if res.GetOutcome() != "lever_connected" {
		t.Fatalf("connect Lever: %v", res)
	}
	poll.Until(t, 30*time.Second, func() error {
		if ats := getAts(t, owner); ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_CONNECTED || ats.GetHealth().GetLastSyncTime() == nil {
			return fmt.Errorf("ATS connection %v", ats)
		}
		return nil
	})
	acct, err := simclient.New(s.MicrosoftURL, nil).LeverAccount(t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	return connectedLever{s: s, owner: owner, connID: res.GetConnection().GetId(), acct: acct}
}

// leverJobs waits until outreach lists the open jobs mirrored from Lever:
// one per published posting.
func (c connectedLever) leverJobs(t *testing.T) map[string]*outreachv1.Job {
	t.Helper()
	published := 0
	for _, p := range c.acct.Postings {
		if p.State == simclient.LeverPublished {
			published++
		}
	}
	var open map[string]*outreachv1.Job
	poll.Until(t, 30*time.Second, func() error {
		got := &outreachv1.ListJobsResponse{}
		c.owner.must("GET", "/v1/jobs?status=JOB_STATUS_OPEN&pageSize=100", nil, got)
		open = map[string]*outreachv1.Job{}
		for _, j := range got.GetJobs() {
			if j.GetExternalSource() == outreachv1.JobSource_JOB_SOURCE_LEVER {
				open[j.GetExternalId()] = j
			}
		}
		if len(open) != published {
			return fmt.Errorf("%d open Lever jobs, want %d", len(open), published)
		}
		return nil
	})
	return open
}

// jobOf returns the job mirrored from a posting of the given state.
func (c connectedLever) jobOf(t *testing.T, state string) *outreachv1.Job {
	t.Helper()
	var want string
	for _, p := range c.acct.Postings {
		if p.State == state {
			want = p.ID
			break
		}
	}
	if want == "" {
		t.Fatalf("the demo Lever account has no %s posting", state)
	}
	var job *outreachv1.Job
	poll.Until(t, 30*time.Second, func() error {
		got := &outreachv1.ListJobsResponse{}
		c.owner.must("GET", "/v1/jobs?pageSize=100", nil, got)
		for _, j := range got.GetJobs() {
			if j.GetExternalId() == want {
				job = j
				return nil
			}
		}
		return fmt.Errorf("no job for posting %s yet", want)
	})
	return job
}

func (c connectedLever) propose(t testing.TB) *atsbridgev1.ProposeStageMappingResponse {
	t.Helper()
	p := &atsbridgev1.ProposeStageMappingResponse{}
	c.owner.must("POST", "/v1/atsConnection/stageMapping:propose", &atsbridgev1.ProposeStageMappingRequest{}, p)
	if len(p.GetProblems()) != 0 || len(p.GetMapping().GetToAts()) != 6 || len(p.GetMapping().GetFromAts()) != len(c.acct.Stages)+len(c.acct.ArchiveReasons) {
		t.Fatalf("proposed mapping: %v", p)
	}
	return p
}

func flowFor(jobID string) *outreachv1.Flow {
	f := e2eFlow()
	f.JobId = jobID
	return f
}

// LV-2: the stage mapping, both ways, is required before a flow is linked
// to a Lever posting; defaults come from Lever's stages; an incomplete
// table is refused with the reason; only admins save it.
func TestScenario_LV_2(t *testing.T) {
	c := connectLever(t)
	open := c.leverJobs(t)
	var job *outreachv1.Job
	for _, j := range open {
		job = j
		break
	}

	// Before a mapping is saved, a flow cannot be linked to the posting.
	code, body := c.owner.call("POST", "/v1/flows", flowFor(job.GetId()), nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")
	if !strings.Contains(string(body), "stage_mapping_required") {
		t.Fatalf("refusal without the reason: %s", body)
	}
	code, body = c.owner.call("GET", "/v1/atsConnection/stageMapping", nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")

	proposed := c.propose(t)
	incomplete := &atsbridgev1.StageMapping{ToAts: proposed.GetMapping().GetToAts()[1:], FromAts: proposed.GetMapping().GetFromAts()}
	code, body = c.owner.call("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: incomplete}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `Tandem stage \"New\" has no place in the ATS`) {
		t.Fatalf("an incomplete table refused without the reason: %s", body)
	}

	// A Recruiter cannot save it.
	_, recruiter := signedIn(t, c.s, newBrowser(t, c.s), as{email: contosoUser})
	code, body = recruiter.call("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: proposed.GetMapping()}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")

	saved := &atsbridgev1.SaveStageMappingResponse{}
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: proposed.GetMapping()}, saved)
	if saved.GetMapping().GetVersion() != 1 {
		t.Fatalf("saved %v", saved)
	}
	got := &atsbridgev1.GetStageMappingResponse{}
	recruiter.must("GET", "/v1/atsConnection/stageMapping", nil, got)
	if got.GetMapping().GetVersion() != 1 || len(got.GetMapping().GetToAts()) != 6 {
		t.Fatalf("current mapping %v", got)
	}

	// Now the flow links to the posting.
	created := &outreachv1.CreateFlowResponse{}
	c.owner.must("POST", "/v1/flows", flowFor(job.GetId()), created)
	if created.GetFlow().GetJobId() != job.GetId() {
		t.Fatalf("flow %v", created.GetFlow())
	}
}

// LV-3: Lever's postings are mirrored into the job list, only published
// ones open; a flow links to a published one, not to another.
func TestScenario_LV_3(t *testing.T) {
	c := connectLever(t)
	open := c.leverJobs(t)
	states := map[string]string{}
	for _, p := range c.acct.Postings {
		states[p.ID] = p.State
	}
	for id, j := range open {
		if states[id] != simclient.LeverPublished || j.GetStatus() != outreachv1.JobStatus_JOB_STATUS_OPEN {
			t.Fatalf("open job %v of a %s posting", j, states[id])
		}
	}
	unpublished := c.jobOf(t, simclient.LeverDraft)
	if unpublished.GetStatus() == outreachv1.JobStatus_JOB_STATUS_OPEN {
		t.Fatalf("a draft posting's job is open: %v", unpublished)
	}
	proposed := c.propose(t)
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: proposed.GetMapping()}, &atsbridgev1.SaveStageMappingResponse{})

	var job *outreachv1.Job
	for _, j := range open {
		job = j
		break
	}
	created := &outreachv1.CreateFlowResponse{}
	c.owner.must("POST", "/v1/flows", flowFor(job.GetId()), created)
	if created.GetFlow().GetJobId() != job.GetId() {
		t.Fatalf("flow %v", created.GetFlow())
	}
	// Linking another flow (or this one) to the draft posting is refused.
	code, body := c.owner.call("PATCH", "/v1/flows/"+created.GetFlow().GetId()+"?updateMask=job_id", flowFor(unpublished.GetId()), nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")
	if !strings.Contains(string(body), "posting_not_published") {
		t.Fatalf("refusal without the reason: %s", body)
	}
}

// SYNC-2: a dry run shows what a mapping would do to the linked
// candidates before it is saved; each save is a new version and older
// ones stay readable.
func TestScenario_SYNC_2(t *testing.T) {
	c := connectLever(t)
	proposed := c.propose(t)
	v1 := &atsbridgev1.SaveStageMappingResponse{}
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: proposed.GetMapping()}, v1)

	// Candidates linked under version 1: the pushes that link them come
	// next, so they are seeded in atsbridge's table here.
	stageID := func(name string) string {
		for _, s := range c.acct.Stages {
			if s.Text == name {
				return s.ID
			}
		}
		t.Fatalf("no Lever stage %q", name)
		return ""
	}
	offer, screen := stageID("Offer"), stageID("Recruiter screen")
	db, err := pgx.Connect(t.Context(), c.s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(t.Context())
	seed := func(n int, stage string) {
		for range n {
			if _, err := db.Exec(t.Context(), `INSERT INTO atsbridge.candidate_links (connection_id, org_id, candidate_id, remote_candidate_id,
				remote_opportunity_id, ats_stage_id, mapping_version) SELECT id, org_id, $2, $3, $4, $5, 1 FROM atsbridge.ats_connections WHERE id = $1`,
				c.connID, uuid.NewString(), uuid.NewString(), uuid.NewString(), stage); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed(2, offer)
	seed(3, screen)

	tandem := map[string]string{}
	stages := &outreachv1.ListStagesResponse{}
	c.owner.must("GET", "/v1/stages", nil, stages)
	for _, s := range stages.GetStages() {
		tandem[s.GetName()] = s.GetId()
	}
	next := proposed.GetMapping()
	for _, r := range next.GetFromAts() {
		if r.GetAts().GetStageId() == offer {
			r.TandemStageId = tandem["Hired"]
		}
	}
	dry := &atsbridgev1.DryRunStageMappingResponse{}
	c.owner.must("POST", "/v1/atsConnection/stageMapping:dryRun", &atsbridgev1.DryRunStageMappingRequest{Mapping: next}, dry)
	if dry.GetLinkedCandidates() != 5 || dry.GetUnchanged() != 3 || len(dry.GetMoves()) != 1 || dry.GetMoves()[0].GetCandidates() != 2 ||
		dry.GetMoves()[0].GetFromTandemStageId() != tandem["Interested"] || dry.GetMoves()[0].GetToTandemStageId() != tandem["Hired"] || len(dry.GetProblems()) != 0 {
		t.Fatalf("dry run %v", dry)
	}
	// A table that would bounce candidates is reported by the dry run.
	bouncing := &atsbridgev1.StageMapping{ToAts: next.GetToAts()}
	for _, r := range next.GetFromAts() {
		row := &atsbridgev1.AtsToTandemRow{Ats: r.GetAts(), TandemStageId: r.GetTandemStageId()}
		if r.GetAts().GetStageId() == screen {
			row.TandemStageId = tandem["Replied"]
		}
		bouncing.FromAts = append(bouncing.FromAts, row)
	}
	c.owner.must("POST", "/v1/atsConnection/stageMapping:dryRun", &atsbridgev1.DryRunStageMappingRequest{Mapping: bouncing}, dry)
	if len(dry.GetProblems()) != 1 || dry.GetProblems()[0].GetReason() != "bounce" {
		t.Fatalf("dry run of a bounce %v", dry)
	}

	v2 := &atsbridgev1.SaveStageMappingResponse{}
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: next, BaseVersion: 1}, v2)
	if v2.GetMapping().GetVersion() != 2 {
		t.Fatalf("second save %v", v2)
	}
	old := &atsbridgev1.GetStageMappingResponse{}
	c.owner.must("GET", "/v1/atsConnection/stageMapping?version=1", nil, old)
	for _, r := range old.GetMapping().GetFromAts() {
		if r.GetAts().GetStageId() == offer && r.GetTandemStageId() != tandem["Interested"] {
			t.Fatalf("version 1 changed: %v", old)
		}
	}
	cur := &atsbridgev1.GetStageMappingResponse{}
	c.owner.must("GET", "/v1/atsConnection/stageMapping", nil, cur)
	if cur.GetMapping().GetVersion() != 2 {
		t.Fatalf("current %v", cur)
	}
}
