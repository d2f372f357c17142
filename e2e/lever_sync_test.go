package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// syncedLever is a connected Lever with its mapping saved and a flow linked
// to a published posting.
type syncedLever struct {
	connectedLever
	mapping *atsbridgev1.StageMapping
	posting string
	job     *outreachv1.Job
	flowID  string
	stages  []*outreachv1.Stage
}

func linkedFlow(t *testing.T) syncedLever {
	t.Helper()
	return connectLever(t).linkFlow(t)
}

// linkFlow saves the proposed mapping and links a flow to the Senior Go
// Engineer posting.
func (c connectedLever) linkFlow(t *testing.T) syncedLever {
	t.Helper()
	open := c.leverJobs(t)
	proposed := c.propose(t)
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: proposed.GetMapping()}, &atsbridgev1.SaveStageMappingResponse{})
	var posting string
	for _, p := range c.acct.Postings {
		if p.Text == "Senior Go Engineer" {
			posting = p.ID
		}
	}
	job := open[posting]
	if job == nil {
		t.Fatalf("no job for the Senior Go Engineer posting in %v", open)
	}
	created := &outreachv1.CreateFlowResponse{}
	c.owner.must("POST", "/v1/flows", flowFor(job.GetId()), created)
	stages := &outreachv1.ListStagesResponse{}
	c.owner.must("GET", "/v1/stages", nil, stages)
	return syncedLever{connectedLever: c, mapping: proposed.GetMapping(), posting: posting, job: job, flowID: created.GetFlow().GetId(), stages: stages.GetStages()}
}

func (c syncedLever) newCandidate(t *testing.T, name, email string) string {
	t.Helper()
	out := &outreachv1.CreateCandidateResponse{}
	c.owner.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: name, Emails: []string{email}, Title: "Staff Engineer", Company: "Initech"}, out)
	return out.GetCandidate().GetId()
}

func (c syncedLever) enroll(t *testing.T, ids ...string) {
	t.Helper()
	out := &outreachv1.EnrollCandidatesResponse{}
	c.owner.must("POST", "/v1/flows/"+c.flowID+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: ids}, out)
	for _, r := range out.GetResults() {
		if r.GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_ENROLLED {
			t.Fatalf("enroll: %v", out)
		}
	}
}

// opportunities are the account's live opportunities with email on the
// flow's posting.
func (c syncedLever) opportunities(t *testing.T, email string) []simclient.LeverOpportunity {
	t.Helper()
	all, err := sim(t, c.s).LeverOpportunities(t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	var out []simclient.LeverOpportunity
	for _, o := range all {
		if !o.Deleted && slices.ContainsFunc(o.Emails, func(e string) bool { return strings.EqualFold(e, email) }) && slices.Contains(o.PostingIDs, c.posting) {
			out = append(out, o)
		}
	}
	return out
}

// linked waits for the candidate's one opportunity on the posting.
func (c syncedLever) linked(t *testing.T, email string) simclient.LeverOpportunity {
	t.Helper()
	var got []simclient.LeverOpportunity
	poll.Until(t, 60*time.Second, func() error {
		if got = c.opportunities(t, email); len(got) != 1 {
			return fmt.Errorf("%d opportunities of %s on the posting", len(got), email)
		}
		return nil
	})
	return got[0]
}

// atsStageOf is where the saved mapping sends a Tandem stage.
func (c syncedLever) atsStageOf(t *testing.T, tandemStageID string) string {
	t.Helper()
	for _, r := range c.mapping.GetToAts() {
		if r.GetTandemStageId() == tandemStageID {
			return r.GetAts().GetStageId()
		}
	}
	t.Fatalf("no mapping row for %s", tandemStageID)
	return ""
}

func (c syncedLever) stage(t *testing.T, name string) *outreachv1.Stage {
	t.Helper()
	for _, s := range c.stages {
		if s.GetName() == name {
			return s
		}
	}
	t.Fatalf("no stage %q", name)
	return nil
}

func (c syncedLever) leverUser(t *testing.T, email string) string {
	t.Helper()
	for _, u := range c.acct.Users {
		if u.Email == email {
			return u.ID
		}
	}
	t.Fatalf("no Lever user %s", email)
	return ""
}

// LV-4: adding a candidate to a flow linked to a posting creates the
// opportunity with the candidate's details, on the posting, at the mapped
// stage, origin sourced, acting as the recruiter; public notes follow; a
// contact Lever has already is linked, not made again; the candidate shows
// the link.
func TestScenario_LV_4(t *testing.T) {
	c := linkedFlow(t)
	sam := c.newCandidate(t, "Sam Rivera", "sam.rivera@example.org")
	for _, n := range []struct {
		body string
		vis  outreachv1.NoteVisibility
	}{{"Strong Go, wants remote", outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}, {"Salary expectations: private", outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE}} {
		c.owner.must("POST", "/v1/candidates/"+sam+"/notes", &outreachv1.Note{Body: n.body, Visibility: n.vis}, &outreachv1.CreateNoteResponse{})
	}
	// Jordan is in Lever already, on the same posting.
	jordan := c.newCandidate(t, "Jordan Lee", "jordan.lee@gmail.example")
	before := c.opportunities(t, "jordan.lee@gmail.example")
	if len(before) != 1 {
		t.Fatalf("the demo account should hold Jordan's opportunity: %v", before)
	}
	c.enroll(t, sam, jordan)

	opp := c.linked(t, "sam.rivera@example.org")
	if opp.Name != "Sam Rivera" || opp.Origin != "sourced" || opp.PerformAs != c.leverUser(t, providersim.DemoLeverSuperAdmin) ||
		opp.StageID != c.atsStageOf(t, c.stage(t, "New").GetId()) || opp.CreatedVia != "api" || opp.Headline != "Staff Engineer at Initech" {
		t.Fatalf("opportunity %+v", opp)
	}
	poll.Until(t, 30*time.Second, func() error {
		o := c.linked(t, "sam.rivera@example.org")
		if len(o.Notes) != 1 || o.Notes[0].Value != "Strong Go, wants remote" || o.Notes[0].Secret {
			return fmt.Errorf("notes %+v, want the public one only", o.Notes)
		}
		return nil
	})
	// Tandem shows the link.
	poll.Until(t, 30*time.Second, func() error {
		got := &outreachv1.GetCandidateResponse{}
		c.owner.must("GET", "/v1/candidates/"+sam, nil, got)
		if ps := got.GetCandidate().GetAtsProfiles(); len(ps) != 1 || ps[0].GetRemoteOpportunityId() != opp.ID || ps[0].GetJobId() != c.job.GetId() || ps[0].GetUrl() == "" {
			return fmt.Errorf("ATS profiles %v", ps)
		}
		return nil
	})
	// Jordan links to the opportunity Lever had: none is made.
	poll.Until(t, 30*time.Second, func() error {
		got := &outreachv1.GetCandidateResponse{}
		c.owner.must("GET", "/v1/candidates/"+jordan, nil, got)
		if ps := got.GetCandidate().GetAtsProfiles(); len(ps) != 1 || ps[0].GetRemoteOpportunityId() != before[0].ID {
			return fmt.Errorf("Jordan's ATS profiles %v, want %s", ps, before[0].ID)
		}
		return nil
	})
	if after := c.opportunities(t, "jordan.lee@gmail.example"); len(after) != 1 {
		t.Fatalf("Jordan has %d opportunities on the posting, want the one Lever had", len(after))
	}
	created, err := sim(t, c.s).Counter(t.Context(), "lever.createOpportunity")
	if err != nil || created != 1 {
		t.Fatalf("%d createOpportunity calls (%v), want 1", created, err)
	}
}
