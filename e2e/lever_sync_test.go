package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
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
	return linkFlow(t, connectLever(t))
}

// linkFlow saves the proposed mapping of a connected Lever and links a
// flow to its Senior Go Engineer posting.
func linkFlow(t *testing.T, c connectedLever) syncedLever {
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

// moveStage moves a candidate in Tandem, as a recruiter does.
func (c syncedLever) moveStage(t *testing.T, candidateID, stageID string) {
	t.Helper()
	c.owner.must("POST", "/v1/candidates/"+candidateID+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: stageID}, &outreachv1.MoveCandidateStageResponse{})
}

// movesTo counts the opportunity's moves to stageID made through the API.
func movesTo(o simclient.LeverOpportunity, stageID string) int {
	n := 0
	for _, ch := range o.StageChanges {
		if ch.ToStageID == stageID {
			n++
		}
	}
	return n
}

// LV-5, Tandem's half (Lever's half is TestScenario_LV_5_Inbound): a
// stage change here moves the opportunity, once, attributed to the
// recruiter; Lever's webhook about it is known as an echo and changes
// nothing here; an archive stage archives.
func TestScenario_LV_5(t *testing.T) {
	c := linkedFlow(t)
	sam := c.newCandidate(t, "Sam Rivera", "sam.rivera@example.org")
	c.enroll(t, sam)
	opp := c.linked(t, "sam.rivera@example.org")
	contacted := c.stage(t, "Contacted")
	want := c.atsStageOf(t, contacted.GetId())
	c.moveStage(t, sam, contacted.GetId())
	poll.Until(t, 30*time.Second, func() error {
		if o := c.linked(t, "sam.rivera@example.org"); o.StageID != want {
			return fmt.Errorf("opportunity at %s, want %s", o.StageID, want)
		}
		return nil
	})
	o := c.linked(t, "sam.rivera@example.org")
	if o.ID != opp.ID || movesTo(o, want) != 1 {
		t.Fatalf("opportunity %s moved %d times to %s", o.ID, movesTo(o, want), want)
	}
	if last := o.StageChanges[len(o.StageChanges)-1]; last.UserID != c.leverUser(t, providersim.DemoLeverSuperAdmin) {
		t.Fatalf("the move is attributed to %q, want the recruiter's Lever user", last.UserID)
	}
	// Lever's webhook about the move comes back and is known as Tandem's
	// own: nothing moves here, nothing is pushed again.
	poll.Until(t, 30*time.Second, func() error {
		log := &atsbridgev1.ListSyncAuditResponse{}
		c.owner.must("GET", "/v1/candidates/"+sam+"/syncAudit?action=echo_suppressed", nil, log)
		if len(log.GetEntries()) != 1 {
			return fmt.Errorf("echoes in the log: %v", log.GetEntries())
		}
		return nil
	})
	tl := &outreachv1.ListTimelineResponse{}
	c.owner.must("GET", "/v1/candidates/"+sam+"/timeline?kinds=TIMELINE_KIND_STAGE_CHANGED", nil, tl)
	if len(tl.GetEntries()) != 1 {
		t.Fatalf("stage changes on the timeline: %v, want the one move", tl.GetEntries())
	}
	if n, err := sim(t, c.s).Counter(t.Context(), "lever.changeStage"); err != nil || n != 1 {
		t.Fatalf("%d stage calls to Lever (%v), want 1", n, err)
	}
	c.syncOnTimeline(t, sam)
	// An archive stage: Not interested maps to an archive reason (or a
	// stage); either way the opportunity ends where the mapping says.
	notInterested := c.stage(t, "Not interested")
	var place *atsbridgev1.AtsPlace
	for _, r := range c.mapping.GetToAts() {
		if r.GetTandemStageId() == notInterested.GetId() {
			place = r.GetAts()
		}
	}
	c.moveStage(t, sam, notInterested.GetId())
	poll.Until(t, 30*time.Second, func() error {
		o := c.linked(t, "sam.rivera@example.org")
		if place.GetArchiveReasonId() != "" && o.ArchiveReasonID != place.GetArchiveReasonId() || place.GetStageId() != "" && o.StageID != place.GetStageId() {
			return fmt.Errorf("opportunity at %s/%s, want %v", o.StageID, o.ArchiveReasonID, place)
		}
		return nil
	})
}

// syncOnTimeline checks that the candidate's timeline shows the sync's
// decisions about it (issue 15 item 7) in time order with the rest: the
// opportunity created, the move pushed after the move here, Lever's echo
// ignored; paged one entry at a time it reads the same. Another
// organization's candidate of the same e-mail shows none, and its people
// cannot read this one's.
func (c syncedLever) syncOnTimeline(t *testing.T, candidateID string) {
	t.Helper()
	read := func(who api, size int) []*outreachv1.TimelineEntry {
		var out []*outreachv1.TimelineEntry
		token := ""
		for range 100 {
			page := &outreachv1.ListTimelineResponse{}
			who.must("GET", fmt.Sprintf("/v1/candidates/%s/timeline?pageSize=%d&pageToken=%s", candidateID, size, url.QueryEscape(token)), nil, page)
			if page.GetAtsSyncUnavailable() {
				t.Fatalf("the timeline says atsbridge did not answer")
			}
			out = append(out, page.GetEntries()...)
			if token = page.GetNextPageToken(); token == "" {
				return out
			}
		}
		t.Fatal("the timeline's pages never end")
		return nil
	}
	all := read(c.owner, 200)
	var order []string
	for i, e := range all {
		if i > 0 && e.GetOccurTime().AsTime().Before(all[i-1].GetOccurTime().AsTime()) {
			t.Fatalf("entry %d (%s) is older than the one before it", i, e.GetId())
		}
		switch e.GetKind() {
		case outreachv1.TimelineKind_TIMELINE_KIND_ATS_SYNC:
			d := e.GetAtsSync()
			if d.GetAuditId() == 0 || d.GetConnectionId() != c.connID {
				t.Fatalf("decision %v", e)
			}
			order = append(order, d.GetDirection()+":"+d.GetAction()+":"+d.GetOutcome())
		case outreachv1.TimelineKind_TIMELINE_KIND_STAGE_CHANGED:
			order = append(order, "stage:"+e.GetStageChange().GetToStageName())
		}
	}
	at := func(step string) int { return slices.Index(order, step) }
	created, moved, echo := at("push:create_opportunity:succeeded"), at("push:move_stage:succeeded"), at("inbound:echo_suppressed:skipped")
	if created < 0 || moved < 0 || echo < 0 || at("stage:Contacted") > moved || moved > echo {
		t.Fatalf("the timeline reads %v, want the opportunity created, the move here, its push, then Lever's echo ignored", order)
	}
	paged := read(c.owner, 1)
	if len(paged) != len(all) {
		t.Fatalf("one at a time the timeline has %d entries, at once %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].GetId() != all[i].GetId() {
			t.Fatalf("entry %d: %s one at a time, %s at once", i, paged[i].GetId(), all[i].GetId())
		}
	}
	// Fabrikam: the same person, no sync there, nothing of Contoso's.
	_, other := signedIn(t, c.s, newBrowser(t, c.s), as{email: fabrikamAdmin, consentForOrg: true})
	if code, _ := other.call("GET", "/v1/candidates/"+candidateID+"/timeline", nil, nil); code != 404 {
		t.Fatalf("another organization read the timeline: %d", code)
	}
	created2 := &outreachv1.CreateCandidateResponse{}
	other.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Sam Rivera", Emails: []string{"sam.rivera@example.org"}}, created2)
	tl := &outreachv1.ListTimelineResponse{}
	other.must("GET", "/v1/candidates/"+created2.GetCandidate().GetId()+"/timeline?kinds=TIMELINE_KIND_ATS_SYNC", nil, tl)
	if len(tl.GetEntries()) != 0 || tl.GetAtsSyncUnavailable() {
		t.Fatalf("another organization's candidate shows sync decisions: %v", tl)
	}
}

// reconnect runs LV-1's consent again for the same Super Admin.
func (c connectedLever) reconnect(t *testing.T) {
	t.Helper()
	connect := &identityv1.ConnectLeverResponse{}
	c.owner.must("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, connect)
	br := leverBrowser(t, c.s)
	done := br.follow(br.consentAtLever(connect.GetAuthorizeUrl(), providersim.DemoLeverSuperAdmin))
	if done.Redirect == nil {
		t.Fatalf("callback: %d %s", done.Status, done.Body)
	}
	if res := exchange(t, br, loginCode(t, done)); res.GetOutcome() != "lever_connected" {
		t.Fatalf("reconnect Lever: %v", res)
	}
}

// LV-6: the customer revokes Tandem's access in Lever. The next push finds
// out: the connection says so with the reason, the pushes wait instead of
// failing, and after the Super Admin connects again each goes through
// once.
func TestScenario_LV_6(t *testing.T) {
	c := linkedFlow(t)
	ctx := t.Context()
	sam := c.newCandidate(t, "Sam Rivera", "sam.rivera@example.org")
	c.enroll(t, sam)
	c.linked(t, "sam.rivera@example.org")

	if _, err := sim(t, c.s).RevokeLever(ctx, providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	contacted, interested := c.stage(t, "Contacted"), c.stage(t, "Interested")
	// The move's push is the first call after the revocation (unless the
	// reconcile gets there first): it finds out, and waits.
	c.moveStage(t, sam, contacted.GetId())
	poll.Until(t, 30*time.Second, func() error {
		log := &atsbridgev1.ListSyncAuditResponse{}
		c.owner.must("GET", "/v1/candidates/"+sam+"/syncAudit?action=move_stage&outcome=held", nil, log)
		if len(log.GetEntries()) == 0 {
			return errors.New("Sam's move is not held")
		}
		return nil
	})
	// A later move waits behind it. (It is made once the first is a push:
	// two moves a few milliseconds apart may reach atsbridge out of order,
	// and then only the newer one is pushed, as DESIGN §8 never applies an
	// older version over a newer one.)
	c.moveStage(t, sam, interested.GetId())
	// Enrolled while revoked: the link waits too.
	ada := c.newCandidate(t, "Ada Lovelace", "ada@engines.example")
	c.enroll(t, ada)
	// All three wait: Sam's two moves and Ada's link.
	poll.Until(t, 30*time.Second, func() error {
		if h := getAts(t, c.owner).GetHealth(); h.GetHeldPushes()+h.GetPendingPushes() != 3 {
			log := &atsbridgev1.ListSyncAuditResponse{}
			c.owner.must("GET", "/v1/atsConnection/syncAudit?direction=push&pageSize=50", nil, log)
			var seen []string
			for _, e := range log.GetEntries() {
				seen = append(seen, e.GetOperationId()+" "+e.GetAction()+" "+e.GetOutcome()+" "+e.GetError())
			}
			return fmt.Errorf("%d pushes held and %d pending, want 3 waiting; the pushes' log: %v", h.GetHeldPushes(), h.GetPendingPushes(), seen)
		}
		return nil
	})
	var conn *atsbridgev1.AtsConnection
	poll.Until(t, 60*time.Second, func() error {
		conn = getAts(t, c.owner)
		if s := conn.GetStatus(); (s != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_RECONNECT_REQUIRED && s != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_DISCONNECTED) ||
			conn.GetReason() == "" {
			return fmt.Errorf("ATS connection %v", conn)
		}
		return nil
	})
	if got := c.opportunities(t, "ada@engines.example"); len(got) != 0 {
		t.Fatalf("Ada reached Lever while access was revoked: %v", got)
	}

	c.reconnect(t)
	wantStage := c.atsStageOf(t, interested.GetId())
	poll.Until(t, 90*time.Second, func() error {
		if o := c.linked(t, "sam.rivera@example.org"); o.StageID != wantStage {
			return fmt.Errorf("Sam's opportunity at %s, want %s", o.StageID, wantStage)
		}
		if got := c.opportunities(t, "ada@engines.example"); len(got) != 1 {
			return fmt.Errorf("Ada has %d opportunities", len(got))
		}
		return nil
	})
	o := c.linked(t, "sam.rivera@example.org")
	if n := movesTo(o, c.atsStageOf(t, contacted.GetId())); n != 1 {
		t.Errorf("Sam moved %d times to the Contacted stage, want 1", n)
	}
	if n := movesTo(o, wantStage); n != 1 {
		t.Errorf("Sam moved %d times to the Interested stage, want 1", n)
	}
	// Reconnecting imports Lever's catalog again (syncing) before it
	// reports connected.
	poll.Until(t, 30*time.Second, func() error {
		if s := getAts(t, c.owner).GetStatus(); s != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_CONNECTED {
			return fmt.Errorf("after reconnecting: %v", s)
		}
		return nil
	})
}

// A kill test: atsbridge gets SIGKILL while 200 enrollments' pushes and
// then 200 stage moves go out; after restarting, Lever holds exactly one
// opportunity per candidate and each move once.
func TestFaults_LeverPushesSurviveKill(t *testing.T) {
	const n = 200
	c := linkedFlow(t)
	batch := &outreachv1.BatchCreateCandidatesRequest{}
	for i := range n {
		batch.Candidates = append(batch.Candidates, &outreachv1.Candidate{Name: fmt.Sprintf("Candidate %d", i), Emails: []string{fmt.Sprintf("c%d@kill.example", i)}})
	}
	created := &outreachv1.BatchCreateCandidatesResponse{}
	c.owner.must("POST", "/v1/candidates:batchCreate", batch, created)
	var ids []string
	for _, r := range created.GetResults() {
		ids = append(ids, r.GetCandidateId())
	}
	c.enroll(t, ids...)

	perEmail := func() map[string]simclient.LeverOpportunity {
		t.Helper()
		all, err := sim(t, c.s).LeverOpportunities(t.Context(), providersim.DemoLeverAccount)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]simclient.LeverOpportunity{}
		for _, o := range all {
			if len(o.Emails) == 1 && strings.HasSuffix(o.Emails[0], "@kill.example") && slices.Contains(o.PostingIDs, c.posting) {
				if _, dup := out[o.Emails[0]]; dup {
					t.Fatalf("%s has two opportunities", o.Emails[0])
				}
				out[o.Emails[0]] = o
			}
		}
		return out
	}
	kill := func(atLeast int, done func() int) {
		t.Helper()
		poll.Until(t, 2*time.Minute, func() error {
			if k := done(); k < atLeast {
				return fmt.Errorf("%d done", k)
			}
			return nil
		})
		if _, err := c.s.Procs["atsbridge"].Signal(syscall.SIGKILL, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		t.Logf("atsbridge killed with %d of %d done", done(), n)
		c.s.Procs["atsbridge"].Start()
	}
	kill(20, func() int { return len(perEmail()) })
	poll.Until(t, 4*time.Minute, func() error {
		if k := len(perEmail()); k != n {
			return fmt.Errorf("%d of %d opportunities", k, n)
		}
		return nil
	})

	contacted := c.stage(t, "Contacted")
	want := c.atsStageOf(t, contacted.GetId())
	for _, id := range ids {
		c.moveStage(t, id, contacted.GetId())
	}
	moved := func() int {
		k := 0
		for _, o := range perEmail() {
			if o.StageID == want {
				k++
			}
		}
		return k
	}
	kill(20, moved)
	poll.Until(t, 4*time.Minute, func() error {
		if k := moved(); k != n {
			return fmt.Errorf("%d of %d moved", k, n)
		}
		return nil
	})
	for email, o := range perEmail() {
		if m := movesTo(o, want); m != 1 {
			t.Errorf("%s moved %d times", email, m)
		}
	}
}
