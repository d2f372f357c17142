package providersim_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestLeverCreateOpportunity(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	adele := e.leverUserID(providersim.DemoLeverUser)
	goJob := e.leverPostingID("Senior Go Engineer")
	body := map[string]any{
		"name": "Sam Rivera", "headline": "Backend engineer", "emails": []string{"sam.rivera@example.org"},
		"phones": []map[string]string{{"type": "mobile", "value": "+1 555 0100"}},
		"links":  []string{"https://github.com/samrivera"}, "tags": []string{"Go", "Tandem outreach"},
		"sources": []string{"Tandem"}, "origin": "sourced", "postings": []string{goJob},
	}
	// perform_as is required and must be a Lever user of the account.
	if msg := e.leverError(http.MethodPost, "/v1/opportunities", token, body, http.StatusBadRequest); !strings.Contains(msg, "perform_as") {
		t.Errorf("missing perform_as: %q", msg)
	}
	e.leverError(http.MethodPost, "/v1/opportunities?perform_as=not-a-user", token, body, http.StatusBadRequest)
	path := "/v1/opportunities?perform_as=" + adele
	for name, bad := range map[string]map[string]any{
		"two postings":    {"name": "X", "postings": []string{goJob, e.leverPostingID("Product Designer")}},
		"unknown post":    {"name": "X", "postings": []string{"nope"}},
		"bad origin":      {"name": "X", "origin": "cold-call"},
		"unknown stage":   {"name": "X", "stage": "nope"},
		"no name":         {"emails": []string{"x@example.org"}},
		"bad email":       {"name": "X", "emails": []string{"not-an-email"}},
		"unknown owner":   {"name": "X", "owner": "nope"},
		"unknown contact": {"name": "X", "contact": "nope"},
	} {
		if msg := e.leverError(http.MethodPost, path, token, bad, http.StatusBadRequest); msg == "" {
			t.Errorf("%s accepted", name)
		}
	}
	e.leverError(http.MethodPost, path, token, "{not json", http.StatusBadRequest)

	created := data(t, e.leverJSON(http.MethodPost, path, token, body, http.StatusCreated))
	id := created["id"].(string)
	if created["stage"] != "lead-new" || created["owner"] != adele || created["origin"] != "sourced" || created["archived"] != nil {
		t.Errorf("created %v", created)
	}
	if _, ok := created["createdAt"].(float64); !ok {
		t.Errorf("createdAt is not epoch ms: %v", created["createdAt"])
	}
	if apps := created["applications"].([]any); len(apps) != 1 {
		t.Errorf("applications %v", apps)
	}
	if ph := created["phones"].([]any); len(ph) != 1 || ph[0].(map[string]any)["type"] != "mobile" {
		t.Errorf("phones %v", ph)
	}
	stored, err := e.c.LeverOpportunity(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PerformAs != adele || stored.CreatedVia != "api" || !slices.Equal(stored.Sources, []string{"Tandem"}) || !slices.Equal(stored.PostingIDs, []string{goJob}) {
		t.Errorf("stored %+v", stored)
	}
	// The same address again: a new opportunity on the existing contact.
	again := data(t, e.leverJSON(http.MethodPost, path, token, map[string]any{"name": "Sam R.", "emails": []string{"SAM.RIVERA@example.org"}}, http.StatusCreated))
	if again["contact"] != created["contact"] || again["id"] == id {
		t.Errorf("de-duplication: %v vs %v", again["contact"], created["contact"])
	}
	// An explicit contact links without an address; get with expand.
	linked := data(t, e.leverJSON(http.MethodPost, path, token, map[string]any{"contact": created["contact"]}, http.StatusCreated))
	if linked["contact"] != created["contact"] || linked["name"] != "Sam Rivera" {
		t.Errorf("linked %v", linked)
	}
	got := data(t, e.leverJSON(http.MethodGet, "/v1/opportunities/"+id+"?expand=applications&expand=stage&expand=owner", token, nil, http.StatusOK))
	if st := got["stage"].(map[string]any); st["text"] != "New lead" {
		t.Errorf("expanded stage %v", st)
	}
	if app := got["applications"].([]any)[0].(map[string]any); app["posting"] != goJob || app["opportunityId"] != id {
		t.Errorf("expanded application %v", app)
	}
	if owner := got["owner"].(map[string]any); owner["email"] != providersim.DemoLeverUser {
		t.Errorf("expanded owner %v", owner)
	}
	e.leverError(http.MethodGet, "/v1/opportunities/nope", token, nil, http.StatusNotFound)
	e.leverError(http.MethodGet, "/v1/nothing-here", token, nil, http.StatusNotFound)
	e.leverError(http.MethodDelete, "/v1/opportunities/"+id, token, nil, http.StatusNotFound) // no DELETE in v1: JSON 404, not the mux's text

	// perform_as_posting_owner attributes the create to the posting's owner.
	megan := e.leverUserID(providersim.DemoLeverSuperAdmin)
	byOwner := data(t, e.leverJSON(http.MethodPost, "/v1/opportunities?perform_as="+megan+"&perform_as_posting_owner=true", token,
		map[string]any{"name": "Owned", "postings": []string{goJob}}, http.StatusCreated))
	if s, err := e.c.LeverOpportunity(e.ctx, byOwner["id"].(string)); err != nil || s.PerformAs != adele {
		t.Errorf("posting owner perform_as %q (err %v)", s.PerformAs, err)
	}
}

func TestLeverCreateWithResumeMultipart(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string][]string{"name": {"Kim Park"}, "emails[]": {"kim.park@example.org"}, "tags[]": {"Go", "Remote"}, "origin": {"sourced"}} {
		for _, x := range v {
			if err := mw.WriteField(k, x); err != nil {
				t.Fatal(err)
			}
		}
	}
	fw, err := mw.CreateFormFile("resumeFile", "kim-park.pdf")
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4 resume of Kim Park")
	if _, err := fw.Write(pdf); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	status, _, raw := e.leverCall(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), token, &buf, mw.FormDataContentType())
	if status != http.StatusCreated {
		t.Fatalf("multipart create: %d %s", status, raw)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	o := opps[len(opps)-1]
	if o.Name != "Kim Park" || len(o.Tags) != 2 || len(o.Files) != 1 || o.Files[0].Kind != "resume" || o.Files[0].Size != int64(len(pdf)) {
		t.Fatalf("stored %+v", o)
	}
	resumes := dataList(t, e.leverJSON(http.MethodGet, "/v1/opportunities/"+o.ID+"/resumes", token, nil, http.StatusOK))
	if len(resumes) != 1 {
		t.Fatalf("resumes %v", resumes)
	}
	file := resumes[0].(map[string]any)["file"].(map[string]any)
	if file["name"] != "kim-park.pdf" || file["ext"] != "pdf" {
		t.Errorf("resume file %v", file)
	}
	status, _, got := e.leverCall(http.MethodGet, strings.TrimPrefix(file["downloadUrl"].(string), e.sim.LeverURL()), token, nil)
	if status != http.StatusOK || !bytes.Equal(got, pdf) {
		t.Errorf("download: %d %q", status, got)
	}
}

func TestLeverListOpportunitiesPaginatesAndFilters(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	path := "/v1/opportunities?perform_as=" + e.leverUserID(providersim.DemoLeverUser)
	goJob := e.leverPostingID("Senior Go Engineer")
	for i := range 9 {
		body := map[string]any{"name": fmt.Sprintf("Candidate %d", i), "emails": []string{fmt.Sprintf("c%d@example.org", i)}, "tags": []string{"batch"}}
		if i%3 == 0 {
			body["postings"] = []string{goJob}
		}
		e.leverJSON(http.MethodPost, path, token, body, http.StatusCreated)
	}
	all, pages := e.listAll("/v1/opportunities?limit=4", token)
	if len(all) != 13 || pages != 4 { // 4 demo candidates and 9 new
		t.Fatalf("%d opportunities on %d pages", len(all), pages)
	}
	seen := map[string]bool{}
	for _, o := range all {
		if seen[o["id"].(string)] {
			t.Fatalf("%s twice", o["id"])
		}
		seen[o["id"].(string)] = true
	}
	first := e.leverJSON(http.MethodGet, "/v1/opportunities?limit=4", token, nil, http.StatusOK)
	if next, ok := first["next"].(string); !ok || next == "4" || strings.ContainsAny(next, " ") {
		t.Errorf("next is not an opaque token: %v", first["next"])
	}
	for _, bad := range []string{"?offset=4", "?offset=%21%21", "?limit=0", "?limit=x", "?archived=maybe", "?created_at_start=yesterday"} {
		e.leverError(http.MethodGet, "/v1/opportunities"+bad, token, nil, http.StatusBadRequest)
	}
	for q, want := range map[string]int{
		"tag=batch":                        9,
		"email=c4%40example.org":           1,
		"email=jordan.lee%40gmail.example": 1,
		"posting_id=" + goJob:              5, // 3 new and 2 demo
		"archived=true":                    1,
		"archived=false":                   12,
		"stage_id=applicant-new":           1,
		"origin=applied":                   1,
		"tag=batch&tag=Design":             10,
		"created_at_start=32503680000000":  0,
		"updated_at_end=0":                 0,
	} {
		if got, _ := e.listAll("/v1/opportunities?"+q, token); len(got) != want {
			t.Errorf("%s: %d, want %d", q, len(got), want)
		}
	}
	// limit defaults to 100, and more than 100 is cut to 100.
	for i := range 92 {
		e.leverJSON(http.MethodPost, path, token, map[string]any{"name": fmt.Sprintf("Filler %d", i)}, http.StatusCreated)
	}
	for _, q := range []string{"", "?limit=1000"} {
		body := e.leverJSON(http.MethodGet, "/v1/opportunities"+q, token, nil, http.StatusOK)
		if n := len(dataList(t, body)); n != 100 || body["hasNext"] != true {
			t.Errorf("%q: %d on the first page, hasNext %v", q, n, body["hasNext"])
		}
	}
	if all, pages := e.listAll("/v1/opportunities", token); len(all) != 105 || pages != 2 {
		t.Errorf("%d on %d pages", len(all), pages)
	}
}

func TestLeverStageAndArchive(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	adele := e.leverUserID(providersim.DemoLeverUser)
	opps, err := e.c.LeverOpportunities(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	id := opps[0].ID // Jordan Lee
	acct := e.leverAccount()
	var hired, withdrew string
	for _, r := range acct.ArchiveReasons {
		switch r.Text {
		case "Hired":
			hired = r.ID
		case "Withdrew":
			withdrew = r.ID
		}
	}
	stagePath := "/v1/opportunities/" + id + "/stage?perform_as=" + adele
	e.leverError(http.MethodPut, stagePath, token, map[string]any{"stage": "nope"}, http.StatusBadRequest)
	e.leverError(http.MethodPut, stagePath, token, map[string]any{}, http.StatusBadRequest)
	e.leverError(http.MethodPut, "/v1/opportunities/nope/stage", token, map[string]any{"stage": "offer"}, http.StatusNotFound)
	moved := data(t, e.leverJSON(http.MethodPut, stagePath, token, map[string]any{"stage": "lead-responded"}, http.StatusOK))
	if moved["stage"] != "lead-responded" {
		t.Errorf("moved %v", moved["stage"])
	}
	changes := moved["stageChanges"].([]any)
	if last := changes[len(changes)-1].(map[string]any); last["toStageId"] != "lead-responded" || last["userId"] != adele || last["toStageIndex"] != float64(2) {
		t.Errorf("stage change %v", last)
	}
	archPath := "/v1/opportunities/" + id + "/archived?perform_as=" + adele
	e.leverError(http.MethodPut, archPath, token, map[string]any{}, http.StatusBadRequest)
	e.leverError(http.MethodPut, archPath, token, map[string]any{"reason": "nope"}, http.StatusBadRequest)
	arch := data(t, e.leverJSON(http.MethodPut, archPath, token, map[string]any{"reason": withdrew}, http.StatusOK))
	if a, ok := arch["archived"].(map[string]any); !ok || a["reason"] != withdrew {
		t.Errorf("archived %v", arch["archived"])
	}
	restored := data(t, e.leverJSON(http.MethodPut, archPath, token, map[string]any{"reason": nil}, http.StatusOK))
	if restored["archived"] != nil {
		t.Errorf("restored %v", restored["archived"])
	}
	e.leverJSON(http.MethodPut, archPath, token, map[string]any{"reason": hired}, http.StatusOK)
	stored, err := e.c.LeverOpportunity(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, h := range stored.History {
		actions = append(actions, h.Action+"/"+h.Via)
	}
	if !slices.Equal(actions, []string{"created/control", "stage/api", "archived/api", "unarchived/api", "archived/api"}) || stored.ArchiveReasonID != hired {
		t.Errorf("history %v, reason %s", actions, stored.ArchiveReasonID)
	}
}

func TestLeverNotesFilesTagsSourcesLinks(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	adele := e.leverUserID(providersim.DemoLeverUser)
	megan := e.leverUserID(providersim.DemoLeverSuperAdmin)
	opps, err := e.c.LeverOpportunities(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	id := opps[1].ID
	notes := "/v1/opportunities/" + id + "/notes"
	e.leverError(http.MethodPost, notes+"?perform_as="+adele, token, map[string]any{}, http.StatusBadRequest)
	e.leverError(http.MethodPost, notes+"?perform_as="+adele, token, map[string]any{"value": "x", "score": 7}, http.StatusBadRequest)
	e.leverError(http.MethodPost, notes+"?perform_as=nope", token, map[string]any{"value": "x"}, http.StatusBadRequest)
	n1 := data(t, e.leverJSON(http.MethodPost, notes+"?perform_as="+adele, token, map[string]any{"value": "Replied to the Tandem sequence", "secret": true}, http.StatusCreated))
	noteID, _ := n1["noteId"].(string)
	if noteID == "" {
		t.Fatalf("note answer %v", n1)
	}
	e.leverJSON(http.MethodPost, notes, token, map[string]any{"value": "Public note", "score": 3}, http.StatusCreated)
	e.leverJSON(http.MethodPost, notes+"?note_id="+noteID+"&perform_as="+megan, token, map[string]any{"value": "Thanks"}, http.StatusCreated)
	e.leverError(http.MethodPost, notes+"?note_id=nope", token, map[string]any{"value": "x"}, http.StatusNotFound)
	list := dataList(t, e.leverJSON(http.MethodGet, notes, token, nil, http.StatusOK))
	if len(list) != 2 || list[0].(map[string]any)["secret"] != true || list[0].(map[string]any)["user"] != adele {
		t.Errorf("notes %v", list)
	}
	one := data(t, e.leverJSON(http.MethodGet, notes+"/"+noteID, token, nil, http.StatusOK))
	if len(one["comments"].([]any)) != 1 {
		t.Errorf("note %v", one)
	}
	stored, err := e.c.LeverOpportunity(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Notes) != 2 || !stored.Notes[0].Secret || stored.Notes[1].Secret || stored.Notes[1].UserID != megan || stored.Notes[1].Score != 3 {
		t.Errorf("stored notes %+v", stored.Notes) // without perform_as: the authorizing Super Admin
	}

	// Files: multipart with a file field.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(fw, "conversation transcript"); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	status, _, raw := e.leverCall(http.MethodPost, "/v1/opportunities/"+id+"/files?perform_as="+adele, token, &buf, mw.FormDataContentType())
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, raw)
	}
	status, _, _ = e.leverCall(http.MethodPost, "/v1/opportunities/"+id+"/files", token, strings.NewReader("x"), "text/plain")
	if status != http.StatusBadRequest {
		t.Errorf("non-multipart upload: %d", status)
	}
	files := dataList(t, e.leverJSON(http.MethodGet, "/v1/opportunities/"+id+"/files", token, nil, http.StatusOK))
	if len(files) != 1 || files[0].(map[string]any)["name"] != "transcript.txt" {
		t.Fatalf("files %v", files)
	}
	fileID := files[0].(map[string]any)["id"].(string)
	if status, _, got := e.leverCall(http.MethodGet, "/v1/opportunities/"+id+"/files/"+fileID+"/download", token, nil); status != http.StatusOK || string(got) != "conversation transcript" {
		t.Errorf("download %d %q", status, got)
	}
	e.leverError(http.MethodGet, "/v1/opportunities/"+id+"/files/nope/download", token, nil, http.StatusNotFound)

	// Tags, sources, links.
	base := "/v1/opportunities/" + id
	o := data(t, e.leverJSON(http.MethodPost, base+"/addTags?perform_as="+adele, token, map[string]any{"tags": []string{"Tandem", "go"}}, http.StatusOK))
	if tags := anyStrings(o["tags"]); !slices.Equal(tags, []string{"Tandem", "go"}) {
		t.Errorf("tags %v", tags)
	}
	o = data(t, e.leverJSON(http.MethodPost, base+"/removeTags", token, map[string]any{"tags": []string{"GO"}}, http.StatusOK))
	if tags := o["tags"].([]any); len(tags) != 1 || tags[0] != "Tandem" {
		t.Errorf("tags after remove %v", tags)
	}
	e.leverError(http.MethodPost, base+"/addTags", token, map[string]any{"tag": "x"}, http.StatusBadRequest)
	o = data(t, e.leverJSON(http.MethodPost, base+"/addSources", token, map[string]any{"sources": []string{"Tandem"}}, http.StatusOK))
	if !slices.Contains(anyStrings(o["sources"]), "Tandem") {
		t.Errorf("sources %v", o["sources"])
	}
	o = data(t, e.leverJSON(http.MethodPost, base+"/removeSources", token, map[string]any{"sources": []string{"Job board"}}, http.StatusOK))
	if slices.Contains(anyStrings(o["sources"]), "Job board") {
		t.Errorf("sources after remove %v", o["sources"])
	}
	e.leverJSON(http.MethodPost, base+"/addLinks", token, map[string]any{"links": []string{"https://example.org/a", "https://example.org/b"}}, http.StatusOK)
	o = data(t, e.leverJSON(http.MethodPost, base+"/removeLinks", token, map[string]any{"links": []string{"https://example.org/a"}}, http.StatusOK))
	if !slices.Equal(anyStrings(o["links"]), []string{"https://example.org/b"}) {
		t.Errorf("links %v", o["links"])
	}
	tags := dataList(t, e.leverJSON(http.MethodGet, "/v1/tags", token, nil, http.StatusOK))
	counts := map[string]float64{}
	for _, x := range tags {
		m := x.(map[string]any)
		counts[m["text"].(string)] = m["count"].(float64)
	}
	if counts["Tandem"] != 1 || counts["Go"] != 1 || counts["Remote"] != 0 {
		t.Errorf("tag counts %v", counts)
	}
	sources := dataList(t, e.leverJSON(http.MethodGet, "/v1/sources", token, nil, http.StatusOK))
	if len(sources) != 4 {
		t.Errorf("sources %v", sources)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestLeverReferenceData(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	stages := dataList(t, e.leverJSON(http.MethodGet, "/v1/stages", token, nil, http.StatusOK))
	var texts []string
	for _, s := range stages {
		texts = append(texts, s.(map[string]any)["text"].(string))
	}
	if !slices.Equal(texts, []string{"New lead", "Reached out", "Responded", "New applicant", "Recruiter screen", "Phone interview", "On-site interview", "Offer"}) {
		t.Errorf("stages %v", texts)
	}
	if st := data(t, e.leverJSON(http.MethodGet, "/v1/stages/offer", token, nil, http.StatusOK)); st["text"] != "Offer" {
		t.Errorf("stage %v", st)
	}
	e.leverError(http.MethodGet, "/v1/stages/nope", token, nil, http.StatusNotFound)
	for q, want := range map[string]int{"": 5, "?state=published": 2, "?state=closed": 1, "?state=internal": 1, "?state=draft": 1, "?state=published&state=internal": 3, "?team=Platform": 2} {
		if got, _ := e.listAll("/v1/postings"+q, token); len(got) != want {
			t.Errorf("postings%s: %d, want %d", q, len(got), want)
		}
	}
	e.leverError(http.MethodGet, "/v1/postings?state=open", token, nil, http.StatusBadRequest)
	goJob := e.leverPostingID("Senior Go Engineer")
	p := data(t, e.leverJSON(http.MethodGet, "/v1/postings/"+goJob, token, nil, http.StatusOK))
	cat := p["categories"].(map[string]any)
	if p["state"] != "published" || cat["team"] != "Platform" || cat["location"] != "Berlin" || p["hiringManager"] != e.leverUserID(providersim.DemoLeverSuperAdmin) || p["workplaceType"] != "remote" {
		t.Errorf("posting %v", p)
	}
	e.leverError(http.MethodGet, "/v1/postings/nope", token, nil, http.StatusNotFound)
	users, _ := e.listAll("/v1/users", token)
	if len(users) != 3 {
		t.Errorf("users %v", users)
	}
	byEmail, _ := e.listAll("/v1/users?email="+url.QueryEscape(strings.ToUpper(providersim.DemoLeverSuperAdmin)), token)
	if len(byEmail) != 1 || byEmail[0]["accessRole"] != simclient.LeverSuperAdmin {
		t.Errorf("by email %v", byEmail)
	}
	if none, _ := e.listAll("/v1/users?email=nobody%40contoso.example", token); len(none) != 0 {
		t.Errorf("unknown email %v", none)
	}
	gone, err := e.c.AddLeverUser(e.ctx, providersim.DemoLeverAccount, simclient.LeverUser{Name: "Former Recruiter", Email: "former@contoso.example", Deactivated: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.listAll("/v1/users", token); len(got) != 3 {
		t.Errorf("deactivated user listed: %d", len(got))
	}
	if got, _ := e.listAll("/v1/users?includeDeactivated=true&email=former%40contoso.example", token); len(got) != 1 || got[0]["deactivatedAt"] == nil {
		t.Errorf("with includeDeactivated %v", got)
	}
	e.leverError(http.MethodPost, "/v1/opportunities?perform_as="+gone.ID, token, map[string]any{"name": "X"}, http.StatusBadRequest)
	u := data(t, e.leverJSON(http.MethodGet, "/v1/users/"+e.leverUserID(providersim.DemoLeverUser), token, nil, http.StatusOK))
	if u["name"] != "Adele Vance" || u["accessRole"] != simclient.LeverTeamMember {
		t.Errorf("user %v", u)
	}
	e.leverError(http.MethodGet, "/v1/users/nope", token, nil, http.StatusNotFound)
	reasons, _ := e.listAll("/v1/archive_reasons", token)
	hired, _ := e.listAll("/v1/archive_reasons?type=hired", token)
	if len(reasons) != 8 || len(hired) != 1 || hired[0]["text"] != "Hired" {
		t.Errorf("reasons %v, hired %v", reasons, hired)
	}
	if r := data(t, e.leverJSON(http.MethodGet, "/v1/archive_reasons/"+hired[0]["id"].(string), token, nil, http.StatusOK)); r["type"] != "hired" {
		t.Errorf("reason %v", r)
	}
	// Pagination of a small list walks to its last page too.
	if got, pages := e.listAll("/v1/stages?limit=3", token); len(got) != 8 || pages != 3 {
		t.Errorf("stages in pages of 3: %d on %d", len(got), pages)
	}
}

func TestLeverDemoDataIsDeterministic(t *testing.T) {
	a := start(t).leverAccount()
	b := start(t).leverAccount()
	if a.ID != b.ID || a.Users[0].ID != b.Users[0].ID || a.Postings[0].ID != b.Postings[0].ID || a.Stages[4].ID != b.Stages[4].ID {
		t.Errorf("ids differ between runs of the same seed")
	}
	c := start(t, func(o *providersim.Options) { o.Seed = 7 }).leverAccount()
	if c.ID == a.ID {
		t.Error("another seed, the same account id")
	}
}

func TestLeverFaultsAndCounters(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	id := e.leverAccount().ID
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "lever.listStages", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	e.leverError(http.MethodGet, "/v1/stages", token, nil, http.StatusServiceUnavailable)
	e.leverJSON(http.MethodGet, "/v1/stages", token, nil, http.StatusOK)
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "lever.*", Mailbox: id, Status: 429, RetryAfter: "3", Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, h, _ := e.leverCall(http.MethodGet, "/v1/postings", token, nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "3" {
		t.Errorf("injected 429: %d %q", status, h.Get("Retry-After"))
	}
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "lever.oauth.token", Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if status, tr := e.leverTokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}); status != 500 || tr.Error != "server_error" {
		t.Errorf("token fault: %d %+v", status, tr)
	}
	// A slow endpoint: latency only, then the answer.
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "lever.getPosting", LatencyMs: 50, Count: 1}); err != nil {
		t.Fatal(err)
	}
	e.leverJSON(http.MethodGet, "/v1/postings/"+e.leverPostingID("Product Designer"), token, nil, http.StatusOK)
	// A stalled endpoint: the client times out; removing the fault frees it.
	stall, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "lever.getStage", Stall: true, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.sim.LeverURL()+"/v1/stages/offer", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a stalled call answered %d", resp.StatusCode)
	}
	if err := e.c.RemoveFault(e.ctx, stall.ID); err != nil {
		t.Fatal(err)
	}
	e.leverJSON(http.MethodGet, "/v1/stages/offer", token, nil, http.StatusOK)
	counters, err := e.c.Counters(e.ctx, "lever.")
	if err != nil {
		t.Fatal(err)
	}
	fp := simclient.LeverTokenFingerprint(token)
	if counters["lever.listStages"] != 2 || counters["lever.listStages/token="+fp] != 2 || counters["lever.faults"] != 2 ||
		counters["lever.listPostings/account="+id] != 1 || counters["lever.errors/503"] != 1 {
		t.Errorf("counters %v", counters)
	}
}
