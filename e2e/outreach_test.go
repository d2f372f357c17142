package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// OUT-3: candidates are created, updated and searched; one person is one
// candidate (an address is unique per organization, case-insensitively);
// duplicates can be merged.
func TestScenario_OUT_3(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	_, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})

	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{
		Name: "Grace Hopper", Emails: []string{"grace@navy.example"}, Company: "US Navy", Title: "Rear Admiral",
		Links: []*outreachv1.Link{{Kind: outreachv1.LinkKind_LINK_KIND_LINKEDIN, Url: "https://www.linkedin.com/in/grace"}},
		Tags:  []string{"cobol"}, TimeZone: "America/New_York", Source: "conference"}, created)
	grace := created.GetCandidate()
	if grace.GetId() == "" || grace.GetOwnerUserId() == "" {
		t.Fatalf("created %v", grace)
	}

	updated := &outreachv1.UpdateCandidateResponse{}
	recruiterAPI.must("PATCH", "/v1/candidates/"+grace.GetId()+"?updateMask=company,tags",
		&outreachv1.Candidate{Company: "Remington Rand", Tags: []string{"cobol", "compilers"}, Name: "not in the mask"}, updated)
	if updated.GetCandidate().GetCompany() != "Remington Rand" || len(updated.GetCandidate().GetTags()) != 2 || updated.GetCandidate().GetName() != "Grace Hopper" {
		t.Fatalf("update: %v", updated.GetCandidate())
	}

	found := &outreachv1.SearchCandidatesResponse{}
	ownerAPI.must("POST", "/v1/candidates:search", &outreachv1.SearchCandidatesRequest{Company: "remington", Tag: "compilers"}, found)
	if len(found.GetCandidates()) != 1 || found.GetCandidates()[0].GetId() != grace.GetId() {
		t.Fatalf("search: %v", found)
	}

	// The same person again, typed differently, is refused with her id.
	code, body := recruiterAPI.call("POST", "/v1/candidates", &outreachv1.Candidate{Name: "G. Hopper", Emails: []string{"  Grace@Navy.example "}}, nil)
	wantError(t, code, body, http.StatusConflict, "ALREADY_EXISTS")
	if !strings.Contains(string(body), `"metadata":{"candidate_id":"`+grace.GetId()+`"}`) || !strings.Contains(string(body), `"reason":"candidate_exists"`) {
		t.Fatalf("the refusal should name the existing candidate: %s", body)
	}
	// Bad input names the field and stores nothing.
	code, body = recruiterAPI.call("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Bad", Emails: []string{"not an address"}}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `"field":"candidate.emails[0]"`) {
		t.Fatalf("the refusal should name the field: %s", body)
	}

	// A second record of her under another address is merged into the first.
	other := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Amazing Grace", Emails: []string{"hopper@harvard.example"}, Phone: "+1 555 0100"}, other)
	merged := &outreachv1.MergeCandidatesResponse{}
	recruiterAPI.must("POST", "/v1/candidates:merge", &outreachv1.MergeCandidatesRequest{SurvivorId: grace.GetId(), MergedId: other.GetCandidate().GetId()}, merged)
	if got := merged.GetCandidate(); got.GetId() != grace.GetId() || len(got.GetEmails()) != 2 || got.GetPhone() != "+1 555 0100" {
		t.Fatalf("merge: %v", got)
	}
	resolved := &outreachv1.GetCandidateResponse{}
	ownerAPI.must("GET", "/v1/candidates/"+other.GetCandidate().GetId(), nil, resolved)
	if resolved.GetCandidate().GetId() != grace.GetId() {
		t.Fatalf("the merged id should resolve to the survivor: %v", resolved)
	}
	list := &outreachv1.ListCandidatesResponse{}
	ownerAPI.must("GET", "/v1/candidates", nil, list)
	if len(list.GetCandidates()) != 1 {
		t.Fatalf("after the merge one candidate is left: %v", list)
	}

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = otherAPI.call("GET", "/v1/candidates/"+grace.GetId(), nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("DELETE", "/v1/candidates/"+grace.GetId(), nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	otherAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Grace at Fabrikam", Emails: []string{"grace@navy.example"}}, &outreachv1.CreateCandidateResponse{})
}

// OUT-6: each organization has its stage set with the defaults; admins
// shape it; a move is on the candidate's timeline and reaches the ATS; a
// Member cannot move candidates.
func TestScenario_OUT_6(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	recruiter, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})

	list := &outreachv1.ListStagesResponse{}
	recruiterAPI.must("GET", "/v1/stages", nil, list)
	var names []string
	for _, st := range list.GetStages() {
		names = append(names, st.GetName())
	}
	if strings.Join(names, ",") != "New,Contacted,Replied,Interested,Not interested,Hired" {
		t.Fatalf("default stages: %v", names)
	}
	ss := list.GetStages()

	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Katherine Johnson", Emails: []string{"katherine@nasa.example"}}, created)
	id := created.GetCandidate().GetId()
	if created.GetCandidate().GetStageId() != ss[0].GetId() {
		t.Fatalf("a new candidate is New: %v", created.GetCandidate())
	}
	moved := &outreachv1.MoveCandidateStageResponse{}
	recruiterAPI.must("POST", "/v1/candidates/"+id+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: ss[3].GetId(), Reason: "wants to talk"}, moved)
	if moved.GetCandidate().GetStageId() != ss[3].GetId() || moved.GetCandidate().GetStageVersion() != 1 {
		t.Fatalf("move: %v", moved.GetCandidate())
	}

	tl := &outreachv1.ListTimelineResponse{}
	adminAPI.must("GET", "/v1/candidates/"+id+"/timeline", nil, tl)
	if len(tl.GetEntries()) != 2 || tl.GetEntries()[0].GetKind() != outreachv1.TimelineKind_TIMELINE_KIND_CREATED {
		t.Fatalf("timeline: %v", tl.GetEntries())
	}
	move := tl.GetEntries()[1]
	if change := move.GetStageChange(); move.GetActorUserId() != recruiter.GetUser().GetId() || change.GetFromStageName() != "New" ||
		change.GetToStageName() != "Interested" || change.GetReason() != "wants to talk" || move.GetOccurTime() == nil {
		t.Fatalf("the move on the timeline says who, when, from, to and why: %v", move)
	}
	adminAPI.must("GET", "/v1/candidates/"+id+"/timeline?kinds=TIMELINE_KIND_STAGE_CHANGED", nil, tl)
	if len(tl.GetEntries()) != 1 {
		t.Fatalf("filtered by kind: %v", tl.GetEntries())
	}

	// The ATS half: with Lever connected and a flow linked to a posting,
	// the candidate's next move reaches Lever.
	lv := linkFlow(t, connectLeverAs(t, s, adminAPI))
	lv.enroll(t, id)
	lv.linked(t, "katherine@nasa.example")
	for _, st := range []*outreachv1.Stage{ss[1], ss[3]} {
		recruiterAPI.must("POST", "/v1/candidates/"+id+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: st.GetId()}, moved)
		wantATS := lv.atsStageOf(t, st.GetId())
		poll.Until(t, 30*time.Second, func() error {
			if o := lv.linked(t, "katherine@nasa.example"); o.StageID != wantATS {
				return fmt.Errorf("the Lever opportunity is at %s, want %s (%s)", o.StageID, wantATS, st.GetName())
			}
			return nil
		})
	}

	// Admins rename, add, reorder and retire; a recruiter cannot.
	code, body := recruiterAPI.call("POST", "/v1/stages", &outreachv1.Stage{Name: "Phone screen"}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	added := &outreachv1.CreateStageResponse{}
	adminAPI.must("POST", "/v1/stages", &outreachv1.Stage{Name: "Phone screen"}, added)
	adminAPI.must("PATCH", "/v1/stages/"+ss[1].GetId()+"?updateMask=name", &outreachv1.Stage{Name: "Reached out"}, &outreachv1.UpdateStageResponse{})
	order := []string{ss[0].GetId(), ss[1].GetId(), ss[2].GetId(), added.GetStage().GetId(), ss[3].GetId(), ss[4].GetId(), ss[5].GetId()}
	reordered := &outreachv1.ReorderStagesResponse{}
	adminAPI.must("POST", "/v1/stages:reorder", &outreachv1.ReorderStagesRequest{StageIds: order}, reordered)
	if got := reordered.GetStages(); len(got) != 7 || got[1].GetName() != "Reached out" || got[3].GetName() != "Phone screen" {
		t.Fatalf("reordered: %v", got)
	}
	code, body = adminAPI.call("POST", "/v1/stages/"+ss[3].GetId()+":retire", &outreachv1.RetireStageRequest{}, nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")
	if !strings.Contains(string(body), "stage_has_candidates") {
		t.Fatalf("retiring a stage with candidates asks where they go: %s", body)
	}
	retired := &outreachv1.RetireStageResponse{}
	adminAPI.must("POST", "/v1/stages/"+ss[3].GetId()+":retire", &outreachv1.RetireStageRequest{MoveToStageId: added.GetStage().GetId()}, retired)
	if retired.GetMovedCandidates() != 1 {
		t.Fatalf("retire: %v", retired)
	}
	got := &outreachv1.GetCandidateResponse{}
	recruiterAPI.must("GET", "/v1/candidates/"+id, nil, got)
	if got.GetCandidate().GetStageId() != added.GetStage().GetId() || got.GetCandidate().GetStageVersion() != 4 {
		t.Fatalf("the candidate should be in Phone screen: %v", got.GetCandidate())
	}

	// A Member cannot move candidates.
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = memberAPI.call("POST", "/v1/candidates/"+id+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: ss[0].GetId()}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND") // another organization's candidate
	adminAPI.must("PATCH", "/v1/users/"+recruiter.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_MEMBER}, &identityv1.UpdateUserResponse{})
	_, demotedAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin}) // the new role is in the new session
	code, body = demotedAPI.call("POST", "/v1/candidates/"+id+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: ss[0].GetId()}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	demotedAPI.must("GET", "/v1/candidates/"+id+"/timeline", nil, tl)
}

// The notes half of OUT-4 (resumes and conversations are still to come): a
// private note is seen by its author and admins only, on the notes and on
// the timeline; someone else's note is not theirs to change.
func TestOutreach_NotesPublicAndPrivate(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	_, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	_, otherRecruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: "pgupta@contoso.example"})

	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Margaret Hamilton", Emails: []string{"margaret@mit.example"}}, created)
	id := created.GetCandidate().GetId()
	private := &outreachv1.CreateNoteResponse{}
	recruiterAPI.must("POST", "/v1/candidates/"+id+"/notes", &outreachv1.Note{Body: "Expects a senior offer.\n- remote", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE}, private)
	recruiterAPI.must("POST", "/v1/candidates/"+id+"/notes", &outreachv1.Note{Body: "Great on Apollo guidance.", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}, &outreachv1.CreateNoteResponse{})

	for who, tc := range map[string]struct {
		a    api
		want int
	}{"author": {recruiterAPI, 2}, "another recruiter": {otherRecruiterAPI, 1}, "admin": {adminAPI, 2}} {
		list := &outreachv1.ListNotesResponse{}
		tc.a.must("GET", "/v1/candidates/"+id+"/notes", nil, list)
		tl := &outreachv1.ListTimelineResponse{}
		tc.a.must("GET", "/v1/candidates/"+id+"/timeline?kinds=TIMELINE_KIND_NOTE", nil, tl)
		if len(list.GetNotes()) != tc.want || len(tl.GetEntries()) != tc.want {
			t.Errorf("%s sees %d notes and %d note entries, want %d", who, len(list.GetNotes()), len(tl.GetEntries()), tc.want)
		}
	}
	noteID := private.GetNote().GetId()
	code, body := otherRecruiterAPI.call("PATCH", "/v1/notes/"+noteID+"?updateMask=body", &outreachv1.Note{Body: "changed"}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = recruiterAPI.call("POST", "/v1/candidates/"+id+"/notes", &outreachv1.Note{Body: "no visibility"}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	updated := &outreachv1.UpdateNoteResponse{}
	recruiterAPI.must("PATCH", "/v1/notes/"+noteID+"?updateMask=body", &outreachv1.Note{Body: "Expects a staff offer."}, updated)
	if updated.GetNote().GetBody() != "Expects a staff offer." || updated.GetNote().GetVisibility() != outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE {
		t.Fatalf("update: %v", updated.GetNote())
	}
	adminAPI.must("DELETE", "/v1/notes/"+noteID, nil, &outreachv1.DeleteNoteResponse{})
}
