package providersim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestAshbyAuthAndPermissions(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()

	e.ashbyErr("", "candidate.list", nil, http.StatusUnauthorized, "unauthenticated")
	e.ashbyErr("not-a-key", "candidate.list", nil, http.StatusForbidden, "invalid_api_key")

	jobsOnly, err := e.c.IssueAshbyKey(e.ctx, o.ID, simclient.AshbyAPIKey{Title: "jobs", Permissions: map[string]string{simclient.AshbyModuleJobs: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	e.ashbyOK(jobsOnly.Key, "job.list", nil, nil)
	r := e.ashbyErr(jobsOnly.Key, "candidate.list", nil, http.StatusForbidden, "missing_endpoint_permission")
	if !strings.Contains(r.ErrorInfo.Message, "candidatesRead") {
		t.Errorf("message does not name the permission: %s", r.ErrorInfo.Message)
	}
	readOnly, err := e.c.IssueAshbyKey(e.ctx, o.ID, simclient.AshbyAPIKey{Title: "ro", Permissions: map[string]string{simclient.AshbyModuleCandidates: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	e.ashbyOK(readOnly.Key, "candidate.list", nil, nil)
	e.ashbyErr(readOnly.Key, "candidate.create", map[string]any{"name": "X"}, http.StatusForbidden, "missing_endpoint_permission")

	var info struct {
		Title  string   `json:"title"`
		Scopes []string `json:"scopes"`
	}
	e.ashbyOK(readOnly.Key, "apiKey.info", nil, &info)
	if info.Title != "ro" || strings.Join(info.Scopes, ",") != "candidatesRead" {
		t.Errorf("apiKey.info %+v", info)
	}

	if _, err := e.c.DeactivateAshbyKey(e.ctx, readOnly.ID); err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(readOnly.Key, "candidate.list", nil, http.StatusForbidden, "invalid_api_key")
	e.ashbyOK(key, "candidate.list", nil, nil) // other keys are unaffected

	n, err := e.c.Counter(e.ctx, "ashby.candidate.list/key="+jobsOnly.ID)
	if err != nil || n != 1 {
		t.Errorf("per-key counter %d %v", n, err)
	}
	// Another organization's key does not see this one's candidates.
	other, err := e.c.CreateAshbyOrg(e.ctx, simclient.AshbyOrg{Name: "Other", APIKeys: []simclient.AshbyAPIKey{{Title: "k"}}})
	if err != nil {
		t.Fatal(err)
	}
	var list []candidateOut
	e.ashbyOK(other.APIKeys[0].Key, "candidate.list", nil, &list)
	if len(list) != 0 {
		t.Errorf("other organization sees %d candidates", len(list))
	}
}

func TestAshbyErrorsAreHTTP200WithSuccessFalse(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	r := e.ashbyErr(key, "application.info", map[string]any{"applicationId": "6f0e2d3c-0000-4000-8000-000000000000"}, http.StatusOK, "application_not_found")
	if r.Results != nil {
		t.Errorf("error carries results: %s", r.Raw)
	}
	e.ashbyErr(key, "candidate.create", map[string]any{"name": 42}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "candidate.create", map[string]any{}, http.StatusOK, "invalid_input")
	// The deprecated path still answers.
	e.ashbyErr(key, "application.change_stage", map[string]any{}, http.StatusOK, "invalid_input")
	ok := e.ashbyOK(key, "source.list", nil, nil)
	if ok.Header.Get("x-ashby-request-id") == "" || ok.ErrorInfo != nil {
		t.Errorf("success reply %v %s", ok.Header, ok.Raw)
	}
}

func TestAshbyCandidates(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	var tandem string
	for _, s := range o.Sources {
		if s.Title == providersim.DemoAshbySource {
			tandem = s.ID
		}
	}
	e.ashbyErr(key, "candidate.create", map[string]any{"name": "A", "email": "not an address"}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "candidate.create", map[string]any{"name": "A", "sourceId": "nope"}, http.StatusOK, "invalid_input")
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{
		"name": "Casey Nguyen", "email": "casey@example.org", "phoneNumber": "+1 555 0100",
		"linkedInUrl": "https://linkedin.example/in/casey", "sourceId": tandem, "createdAt": "2026-01-02T03:04:05.000Z",
	}, &c)
	if c.ID == "" || c.Name != "Casey Nguyen" || c.PrimaryEmailAddress == nil || c.PrimaryEmailAddress.Value != "casey@example.org" ||
		!c.PrimaryEmailAddress.IsPrimary || c.Source == nil || c.Source.ID != tandem || c.CreatedAt != "2026-01-02T03:04:05.000Z" {
		t.Fatalf("created %+v", c)
	}
	// candidate.create does not de-duplicate.
	var dup candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Casey N.", "email": "casey@example.org"}, &dup)

	var found []candidateOut
	e.ashbyOK(key, "candidate.search", map[string]any{"email": "CASEY@example.org"}, &found)
	if len(found) != 2 {
		t.Errorf("search by email: %d", len(found))
	}
	e.ashbyOK(key, "candidate.search", map[string]any{"email": "casey@example.org", "name": "Casey Nguyen"}, &found)
	if len(found) != 1 || found[0].ID != c.ID {
		t.Errorf("email AND name: %+v", found)
	}
	e.ashbyOK(key, "candidate.search", map[string]any{"email": "casey@example.org", "name": "Jordan"}, &found)
	if len(found) != 0 {
		t.Errorf("AND ignored: %+v", found)
	}
	e.ashbyErr(key, "candidate.search", map[string]any{}, http.StatusOK, "invalid_input")
	for i := range 105 {
		e.ashbyOK(key, "candidate.create", map[string]any{"name": fmt.Sprintf("Bulk Person %d", i), "email": "bulk@example.org"}, nil)
	}
	e.ashbyOK(key, "candidate.search", map[string]any{"email": "bulk@example.org"}, &found)
	if len(found) != 100 {
		t.Errorf("search is capped at 100, got %d", len(found))
	}

	var got candidateOut
	e.ashbyOK(key, "candidate.info", map[string]any{"id": c.ID}, &got)
	if got.ID != c.ID {
		t.Errorf("info %+v", got)
	}
	e.ashbyErr(key, "candidate.info", map[string]any{"id": "missing"}, http.StatusOK, "candidate_not_found")
	e.ashbyErr(key, "candidate.info", map[string]any{}, http.StatusOK, "invalid_input")

	e.ashbyOK(key, "candidate.update", map[string]any{"candidateId": c.ID, "position": "Staff Engineer", "email": "casey.n@example.org"}, &got)
	if got.Position != "Staff Engineer" || got.PrimaryEmailAddress.Value != "casey.n@example.org" || got.UpdatedAt < c.UpdatedAt {
		t.Errorf("update %+v", got)
	}
	e.ashbyErr(key, "candidate.update", map[string]any{"candidateId": "missing", "name": "x"}, http.StatusOK, "candidate_not_found")
	e.ashbyErr(key, "candidate.update", map[string]any{"candidateId": c.ID, "name": ""}, http.StatusOK, "invalid_input")

	// Notes: plain text, and HTML with Ashby's allowed tags only.
	var n struct {
		ID        string `json:"id"`
		Content   string `json:"content"`
		IsPrivate bool   `json:"isPrivate"`
		Author    struct {
			Email string `json:"email"`
		} `json:"author"`
	}
	e.ashbyOK(key, "candidate.createNote", map[string]any{"candidateId": c.ID, "note": "Replied: <keen>"}, &n)
	if n.Content != "Replied: <keen>" || n.IsPrivate || n.Author.Email != providersim.DemoContosoAdmin {
		t.Errorf("plain note %+v", n)
	}
	e.ashbyOK(key, "candidate.createNote", map[string]any{"candidateId": c.ID, "isPrivate": true, "note": map[string]any{
		"type":  "text/html",
		"value": `<p>Call <b>went</b> <span style="x">well</span>, see <a href="https://x.example/a" onclick="evil()">notes</a><script>alert(1)</script><ul><li>one</li></ul></p>`,
	}}, &n)
	if want := `Call <b>went</b> well, see <a href="https://x.example/a">notes</a><ul><li>one</li></ul>`; n.Content != want || !n.IsPrivate {
		t.Errorf("html note %q, want %q", n.Content, want)
	}
	e.ashbyErr(key, "candidate.createNote", map[string]any{"candidateId": c.ID, "note": map[string]any{"type": "text/markdown", "value": "x"}}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "candidate.createNote", map[string]any{"candidateId": c.ID}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "candidate.createNote", map[string]any{"candidateId": "missing", "note": "x"}, http.StatusOK, "candidate_not_found")
	for i := range 3 {
		e.ashbyOK(key, "candidate.createNote", map[string]any{"candidateId": c.ID, "note": fmt.Sprintf("note %d", i)}, nil)
	}
	var notes []map[string]any
	r := e.ashbyOK(key, "candidate.listNotes", map[string]any{"candidateId": c.ID, "limit": 3}, &notes)
	if len(notes) != 3 || !r.MoreDataAvailable || r.NextCursor == "" {
		t.Fatalf("notes page 1: %s", r.Raw)
	}
	r = e.ashbyOK(key, "candidate.listNotes", map[string]any{"cursor": r.NextCursor, "limit": 3}, &notes)
	if len(notes) != 2 || r.MoreDataAvailable || r.SyncToken != "" {
		t.Errorf("notes page 2 (listNotes has no sync): %s", r.Raw)
	}

	// addEmailMessage is idempotent on emailProviderEmailId per key.
	msg := map[string]any{
		"candidateId": c.ID, "emailProviderEmailId": "AAMkAGI2-1", "subject": "Hello", "body": "<p>Hi</p>",
		"from": map[string]any{"email": providersim.DemoContosoUser}, "to": []any{map[string]any{"email": "casey.n@example.org"}},
		"sentAt": "2026-03-01T10:00:00Z", "messageIdHeader": "<abc@contoso.example>",
	}
	var m1, m2 struct {
		ID string `json:"id"`
	}
	e.ashbyOK(key, "candidate.addEmailMessage", msg, &m1)
	e.ashbyOK(key, "candidate.addEmailMessage", msg, &m2)
	if m1.ID == "" || m1.ID != m2.ID {
		t.Errorf("second addEmailMessage made %s, first %s", m2.ID, m1.ID)
	}
	delete(msg, "subject")
	e.ashbyErr(key, "candidate.addEmailMessage", msg, http.StatusOK, "invalid_input")

	stored, err := e.c.AshbyCandidate(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Notes) != 5 || !stored.Notes[1].IsPrivate || stored.Notes[0].IsPrivate || stored.Notes[1].ContentType != "text/html" ||
		len(stored.EmailMessages) != 1 || stored.EmailMessages[0].MessageIDHeader != "<abc@contoso.example>" || stored.SourceID != tandem {
		t.Errorf("stored %+v", stored)
	}
}

func TestAshbyApplications(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	goJob := jobByTitle(t, o, "Senior Go Engineer")
	eng := planByTitle(t, o, providersim.DemoAshbyEngineerPlan)
	def := planByTitle(t, o, "Default Interview Plan")
	if goJob.DefaultInterviewPlanID != eng.ID || len(goJob.InterviewPlanIDs) != 2 {
		t.Fatalf("job plans %+v", goJob)
	}
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Robin Park", "email": "robin@example.org"}, &c)

	e.ashbyErr(key, "application.create", map[string]any{"candidateId": c.ID}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "application.create", map[string]any{"candidateId": "missing", "jobId": goJob.ID}, http.StatusOK, "candidate_not_found")
	e.ashbyErr(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": "missing"}, http.StatusOK, "job_not_found")
	e.ashbyErr(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": goJob.ID, "interviewPlanId": "missing"}, http.StatusOK, "interview_plan_not_found")
	e.ashbyErr(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": goJob.ID, "interviewStageId": stageOfType(t, def, "Lead").ID}, http.StatusOK, "interview_stage_not_found")

	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": goJob.ID}, &a)
	if a.Status != "Lead" || a.CurrentInterviewStage.ID != eng.Stages[0].ID || a.CurrentInterviewStage.InterviewPlanID != eng.ID ||
		a.Candidate.ID != c.ID || a.Job.ID != goJob.ID {
		t.Fatalf("created %+v", a)
	}
	e.ashbyErr(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": goJob.ID}, http.StatusOK, "invalid_input")
	var c2 candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Alex Kim"}, &c2)
	var a2 applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c2.ID, "jobId": goJob.ID, "interviewPlanId": def.ID, "interviewStageId": "FirstPreInterviewScreen"}, &a2)
	if a2.CurrentInterviewStage.Type != "PreInterviewScreen" || a2.CurrentInterviewStage.InterviewPlanID != def.ID || a2.Status != "Active" {
		t.Errorf("FirstPreInterviewScreen %+v", a2)
	}
	var cand candidateOut
	e.ashbyOK(key, "candidate.info", map[string]any{"id": c.ID}, &cand)
	if len(cand.ApplicationIDs) != 1 || cand.ApplicationIDs[0] != a.ID {
		t.Errorf("candidate applicationIds %v", cand.ApplicationIDs)
	}

	// changeStage: stage ids differ per plan; Archived needs a reason.
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": "missing", "interviewStageId": eng.Stages[3].ID}, http.StatusOK, "application_not_found")
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": stageOfType(t, def, "Active").ID}, http.StatusOK, "interview_stage_not_found")
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a.ID}, http.StatusOK, "invalid_input")
	archived := stageOfType(t, eng, "Archived")
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": archived.ID}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": archived.ID, "archiveReasonId": "missing"}, http.StatusOK, "archive_reason_not_found")
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": archived.ID, "archiveReasonId": o.ArchiveReasons[0].ID,
		"archiveEmail": map[string]any{"communicationTemplateId": "missing"}}, http.StatusOK, "communication_template_not_found")

	e.ashbyOK(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": eng.Stages[3].ID}, &a)
	if a.Status != "Active" || a.CurrentInterviewStage.Title != "Recruiter Screen" {
		t.Errorf("moved %+v", a)
	}
	e.ashbyOK(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": archived.ID, "archiveReasonId": o.ArchiveReasons[1].ID,
		"archiveEmail": map[string]any{"communicationTemplateId": o.Templates[0].ID}}, &a)
	if a.Status != "Archived" || a.ArchiveReason == nil || a.ArchiveReason.ID != o.ArchiveReasons[1].ID || a.ArchivedAt == nil {
		t.Errorf("archived %+v", a)
	}
	// A candidate without an email cannot get an archive email.
	e.ashbyErr(key, "application.changeStage", map[string]any{"applicationId": a2.ID, "interviewStageId": stageOfType(t, def, "Archived").ID, "archiveReasonId": o.ArchiveReasons[0].ID,
		"archiveEmail": map[string]any{"communicationTemplateId": o.Templates[0].ID}}, http.StatusOK, "invalid_input")

	var info applicationOut
	e.ashbyOK(key, "application.info", map[string]any{"applicationId": a.ID, "expand": []string{"openings"}}, &info)
	if info.ID != a.ID || info.Status != "Archived" {
		t.Errorf("info %+v", info)
	}
	e.ashbyErr(key, "application.info", map[string]any{"applicationId": a.ID, "expand": []string{"everything"}}, http.StatusOK, "invalid_input")

	var hist []struct {
		StageID string `json:"stageId"`
		Title   string `json:"title"`
	}
	e.ashbyOK(key, "application.listHistory", map[string]any{"applicationId": a.ID}, &hist)
	if len(hist) != 3 || hist[0].Title != "New Lead" || hist[1].Title != "Recruiter Screen" || hist[2].StageID != archived.ID {
		t.Errorf("history %+v", hist)
	}
	e.ashbyErr(key, "application.listHistory", map[string]any{"applicationId": "missing"}, http.StatusOK, "application_not_found")
	e.ashbyErr(key, "application.listHistory", map[string]any{"applicationId": a.ID, "syncToken": "x"}, http.StatusOK, "invalid_input")

	var list []applicationOut
	e.ashbyOK(key, "application.list", map[string]any{"status": "Archived"}, &list)
	for _, x := range list {
		if x.Status != "Archived" {
			t.Errorf("status filter let %s through", x.Status)
		}
	}
	if len(list) != 2 { // the demo's archived one and ours
		t.Errorf("archived applications %d", len(list))
	}
	e.ashbyOK(key, "application.list", map[string]any{"jobId": goJob.ID, "status": []string{"Active", "Lead"}}, &list)
	if len(list) != 2 {
		t.Errorf("job and status filters %d: %+v", len(list), list)
	}
	e.ashbyErr(key, "application.list", map[string]any{"status": "Pending"}, http.StatusOK, "invalid_input")
}

func TestAshbyJobsPlansAndMetadata(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	type jobOut struct {
		ID, Title, Status      string
		DefaultInterviewPlanID string   `json:"defaultInterviewPlanId"`
		InterviewPlanIDs       []string `json:"interviewPlanIds"`
	}
	var jobs []jobOut
	e.ashbyOK(key, "job.list", nil, &jobs)
	for _, j := range jobs {
		if j.Status == "Draft" {
			t.Errorf("Draft job listed unasked: %s", j.Title)
		}
	}
	if len(jobs) != 5 {
		t.Errorf("jobs %d", len(jobs))
	}
	e.ashbyOK(key, "job.list", map[string]any{"status": []string{"Open"}}, &jobs)
	if len(jobs) != 3 {
		t.Errorf("open jobs %d", len(jobs))
	}
	e.ashbyOK(key, "job.list", map[string]any{"status": []string{"Draft"}}, &jobs)
	if len(jobs) != 1 || jobs[0].Title != "Staff SRE" {
		t.Errorf("draft jobs %+v", jobs)
	}
	e.ashbyErr(key, "job.list", map[string]any{"status": []string{"Paused"}}, http.StatusOK, "invalid_input")
	e.ashbyOK(key, "job.search", map[string]any{"title": "go engineer"}, &jobs)
	if len(jobs) != 1 || jobs[0].Title != "Senior Go Engineer" {
		t.Errorf("search %+v", jobs)
	}
	e.ashbyOK(key, "job.search", map[string]any{"requisitionId": "DES-7"}, &jobs)
	if len(jobs) != 1 || jobs[0].Title != "Product Designer" {
		t.Errorf("search by requisition %+v", jobs)
	}
	e.ashbyErr(key, "job.search", nil, http.StatusOK, "invalid_input")
	goJob := jobByTitle(t, o, "Senior Go Engineer")
	var j jobOut
	e.ashbyOK(key, "job.info", map[string]any{"id": goJob.ID}, &j)
	if j.ID != goJob.ID || j.DefaultInterviewPlanID != goJob.DefaultInterviewPlanID {
		t.Errorf("info %+v", j)
	}
	e.ashbyErr(key, "job.info", map[string]any{"id": "missing"}, http.StatusOK, "job_not_found")

	var jip struct {
		JobID           string     `json:"jobId"`
		InterviewPlanID string     `json:"interviewPlanId"`
		Stages          []stageOut `json:"stages"`
	}
	e.ashbyOK(key, "jobInterviewPlan.info", map[string]any{"jobId": goJob.ID}, &jip)
	if jip.InterviewPlanID != goJob.DefaultInterviewPlanID || len(jip.Stages) != 9 || jip.Stages[0].Type != "Lead" {
		t.Errorf("jobInterviewPlan %+v", jip)
	}
	e.ashbyErr(key, "jobInterviewPlan.info", nil, http.StatusOK, "invalid_input")

	var plans []struct {
		ID, Title string
	}
	e.ashbyOK(key, "interviewPlan.list", nil, &plans)
	if len(plans) != 2 {
		t.Errorf("plans %+v", plans)
	}
	var s1, s2 []stageOut
	e.ashbyOK(key, "interviewStage.list", map[string]any{"interviewPlanId": plans[0].ID}, &s1)
	e.ashbyOK(key, "interviewStage.list", map[string]any{"interviewPlanId": plans[1].ID}, &s2)
	types := func(ss []stageOut) string {
		var out []string
		for i, s := range ss {
			if s.OrderInInterviewPlan != i || s.InterviewPlanID == "" {
				t.Errorf("stage order %+v", s)
			}
			out = append(out, s.Type)
		}
		return strings.Join(out, ",")
	}
	if got := types(s1); got != "Lead,PreInterviewScreen,Active,Active,Offer,Hired,Archived" {
		t.Errorf("default plan stages %s", got)
	}
	if s1[0].ID == s2[0].ID {
		t.Error("stage ids shared between plans")
	}
	e.ashbyErr(key, "interviewStage.list", map[string]any{"interviewPlanId": "missing"}, http.StatusOK, "interview_plan_not_found")
	e.ashbyErr(key, "interviewStage.list", nil, http.StatusOK, "invalid_input")

	type sourceOut struct {
		Title      string `json:"title"`
		IsArchived bool   `json:"isArchived"`
		SourceType struct {
			Title string `json:"title"`
		} `json:"sourceType"`
	}
	var sources []sourceOut
	e.ashbyOK(key, "source.list", nil, &sources)
	foundTandem := false
	for _, s := range sources {
		if s.IsArchived {
			t.Errorf("archived source listed: %s", s.Title)
		}
		if s.Title == "Tandem" && s.SourceType.Title == "Integration" {
			foundTandem = true
		}
	}
	if !foundTandem || len(sources) != 4 {
		t.Errorf("sources %+v", sources)
	}
	e.ashbyOK(key, "source.list", map[string]any{"includeArchived": true}, &sources)
	if len(sources) != 5 {
		t.Errorf("with archived %d", len(sources))
	}
	var reasons []struct {
		Text, ReasonType string
	}
	e.ashbyOK(key, "archiveReason.list", nil, &reasons)
	if len(reasons) != 4 || reasons[0].ReasonType != "RejectedByOrg" {
		t.Errorf("reasons %+v", reasons)
	}

	var users []struct {
		ID, Email, FirstName string
		IsEnabled            bool `json:"isEnabled"`
	}
	e.ashbyOK(key, "user.search", map[string]any{"email": strings.ToUpper(providersim.DemoContosoUser)}, &users)
	if len(users) != 1 || users[0].FirstName != "Adele" || !users[0].IsEnabled {
		t.Fatalf("user.search %+v", users)
	}
	e.ashbyErr(key, "user.search", nil, http.StatusOK, "invalid_input")
	adele := users[0].ID
	e.ashbyOK(key, "user.list", nil, &users)
	if len(users) != 3 {
		t.Errorf("users %d", len(users))
	}
	var u struct{ Email string }
	e.ashbyOK(key, "user.info", map[string]any{"userId": adele}, &u)
	if u.Email != providersim.DemoContosoUser {
		t.Errorf("user.info %+v", u)
	}
	e.ashbyErr(key, "user.info", map[string]any{"userId": "missing"}, http.StatusOK, "user_not_found")
	e.ashbyErr(key, "interviewStage.info", map[string]any{"interviewStageId": "missing"}, http.StatusOK, "interview_stage_not_found")
	var st stageOut
	e.ashbyOK(key, "interviewStage.info", map[string]any{"interviewStageId": s2[3].ID}, &st)
	if st.ID != s2[3].ID {
		t.Errorf("stage info %+v", st)
	}
}

func TestAshbyUnknownEndpointAndMethod(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	e.ashbyErr(key, "candidate.explode", nil, http.StatusNotFound, "not_found")
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.sim.AshbyURL()+"/candidate.list", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(key, "")
	resp, err := ashbyHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body ashbyReply
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || body.Success {
		t.Errorf("GET: %d %v", resp.StatusCode, err)
	}
}

func TestAshbyConfidentialJobsNeedTheKeysOptIn(t *testing.T) {
	e := ashbyStart(t)
	o, err := e.c.CreateAshbyOrg(e.ctx, simclient.AshbyOrg{
		Name:       "Secretive",
		Jobs:       []simclient.AshbyJob{{Title: "Public role"}, {Title: "Stealth VP", Confidential: true}},
		Candidates: []simclient.AshbyCandidate{{Name: "Vic", Applications: []simclient.AshbyApplication{{Job: "Stealth VP"}}}},
		APIKeys:    []simclient.AshbyAPIKey{{Title: "plain"}, {Title: "confidential", Confidential: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	plain, conf := o.APIKeys[0].Key, o.APIKeys[1].Key
	stealth := jobByTitle(t, o, "Stealth VP").ID
	var jobs []struct{ Title string }
	e.ashbyOK(plain, "job.list", nil, &jobs)
	if len(jobs) != 1 || jobs[0].Title != "Public role" {
		t.Errorf("plain key sees %+v", jobs)
	}
	e.ashbyErr(plain, "job.info", map[string]any{"id": stealth}, http.StatusOK, "job_not_found")
	var apps []applicationOut
	e.ashbyOK(plain, "application.list", nil, &apps)
	if len(apps) != 0 {
		t.Errorf("plain key sees the confidential application")
	}
	e.ashbyOK(conf, "job.list", nil, &jobs)
	e.ashbyOK(conf, "application.list", nil, &apps)
	if len(jobs) != 2 || len(apps) != 1 {
		t.Errorf("opted-in key: %d jobs, %d applications", len(jobs), len(apps))
	}
	e.ashbyErr(plain, "application.info", map[string]any{"applicationId": apps[0].ID}, http.StatusOK, "application_not_found")
	e.ashbyOK(conf, "job.info", map[string]any{"id": stealth}, nil)
}

// TestAshbyEveryEndpointRefusesBadInput gives each endpoint one request it
// must refuse, in Ashby's shape (HTTP 200, success false), and checks that
// a key-less call to it is a 401.
func TestAshbyEveryEndpointRefusesBadInput(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	for endpoint, body := range map[string]map[string]any{
		"candidate.create":            {"name": []int{1}},
		"candidate.search":            {"email": false},
		"candidate.info":              {"id": 7},
		"candidate.list":              {"limit": "ten"},
		"candidate.update":            {},
		"candidate.createNote":        {"candidateId": "missing", "note": "x"},
		"candidate.listNotes":         {"candidateId": "missing"},
		"candidate.uploadResume":      {"candidateId": "missing", "resumeHandle": "h"},
		"candidate.addEmailMessage":   {"candidateId": "missing"},
		"application.create":          {},
		"application.changeStage":     {"applicationId": "missing", "interviewStageId": "s"},
		"application.info":            {},
		"application.list":            {"createdAfter": "yesterday"},
		"application.listHistory":     {},
		"job.list":                    {"status": 3},
		"job.search":                  {},
		"job.info":                    {},
		"jobInterviewPlan.info":       {"jobId": "missing"},
		"interviewPlan.list":          {"syncToken": "stale"},
		"interviewStage.list":         {},
		"interviewStage.info":         {},
		"source.list":                 {"includeArchived": "yes"},
		"archiveReason.list":          {"includeArchived": "yes"},
		"user.search":                 {},
		"user.list":                   {"cursor": "nope"},
		"user.info":                   {},
		"webhook.create":              {},
		"webhook.info":                {"webhookId": "missing"},
		"webhook.update":              {},
		"webhook.delete":              {"webhookId": "missing"},
		"file.createFileUploadHandle": {},
		"report.synchronous":          {},
		"report.generate":             {},
	} {
		r := e.ashbyCall(key, endpoint, body)
		if r.Status != http.StatusOK || r.Success {
			t.Errorf("%s %v: %d %s", endpoint, body, r.Status, r.Raw)
			continue
		}
		if code := r.code(t); code == "" {
			t.Errorf("%s: no code", endpoint)
		}
		e.ashbyErr("", endpoint, body, http.StatusUnauthorized, "unauthenticated")
	}
	e.ashbyErr("", "apiKey.info", nil, http.StatusUnauthorized, "unauthenticated")
}
