package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
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
	if !strings.Contains(string(body), grace.GetId()) || !strings.Contains(string(body), `"reason":"candidate_exists"`) {
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
