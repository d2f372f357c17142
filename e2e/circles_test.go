package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// OUT-5 (its Tandem half; the ATS half comes with atsbridge): an employee
// refers a connection to a job an admin created; the referral is recorded
// with the referrer and the candidate created, or linked when the address
// matches however it is typed; it is listed for the referrer, on the job
// and on the candidate, and is on the candidate's timeline.
func TestScenario_OUT_5(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	recruiter, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	// Employees join as Members from now on.
	adminAPI.must("PATCH", "/v1/organization?updateMask=defaultRole", &identityv1.Organization{DefaultRole: identityv1.Role_ROLE_MEMBER}, &identityv1.UpdateOrganizationResponse{})
	employee, employeeAPI := signedIn(t, s, newBrowser(t, s), as{email: "pgupta@contoso.example"})
	if employee.GetUser().GetRole() != identityv1.Role_ROLE_MEMBER {
		t.Fatalf("the employee should be a Member: %v", employee.GetUser())
	}

	created := &outreachv1.CreateJobResponse{}
	adminAPI.must("POST", "/v1/jobs", &outreachv1.Job{Title: "Flight dynamics engineer", Department: "Engineering", Location: "Houston",
		Status: outreachv1.JobStatus_JOB_STATUS_OPEN}, created)
	job := created.GetJob()
	// The employee finds it among the open jobs, and cannot make one.
	open := &outreachv1.ListJobsResponse{}
	employeeAPI.must("GET", "/v1/jobs?status=JOB_STATUS_OPEN", nil, open)
	if len(open.GetJobs()) != 1 || open.GetJobs()[0].GetId() != job.GetId() {
		t.Fatalf("open jobs: %v", open)
	}
	code, body := employeeAPI.call("POST", "/v1/jobs", &outreachv1.Job{Title: "Mine", Status: outreachv1.JobStatus_JOB_STATUS_OPEN}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")

	referred := &outreachv1.CreateReferralResponse{}
	employeeAPI.must("POST", "/v1/referrals", &outreachv1.Referral{JobId: job.GetId(), Name: "Katherine Johnson", Email: "Katherine.Johnson@nasa.example",
		LinkedinUrl: "https://www.linkedin.com/in/katherine", Relationship: "we worked together at Langley", Note: "Computes trajectories by hand.\nA natural."}, referred)
	ref := referred.GetReferral()
	if ref.GetReferrerUserId() != employee.GetUser().GetId() || !ref.GetCandidateCreated() || ref.GetCandidateId() == "" {
		t.Fatalf("referral %v", ref)
	}
	candidate := &outreachv1.GetCandidateResponse{}
	recruiterAPI.must("GET", "/v1/candidates/"+ref.GetCandidateId(), nil, candidate)
	if c := candidate.GetCandidate(); c.GetName() != "Katherine Johnson" || c.GetSource() != "referral" || len(c.GetLinks()) != 1 ||
		strings.Join(c.GetEmails(), ",") != "Katherine.Johnson@nasa.example" {
		t.Fatalf("the candidate the referral made: %v", c)
	}

	// A recruiter who knows her too refers her again, typed differently:
	// the same candidate.
	again := &outreachv1.CreateReferralResponse{}
	recruiterAPI.must("POST", "/v1/referrals", &outreachv1.Referral{JobId: job.GetId(), Name: "K. Johnson", Email: "  katherine.johnson@NASA.example ",
		Relationship: "met at a conference"}, again)
	if again.GetReferral().GetCandidateId() != ref.GetCandidateId() || again.GetReferral().GetCandidateCreated() {
		t.Fatalf("the second referral should link %s: %v", ref.GetCandidateId(), again.GetReferral())
	}
	// The employee's own again is refused, naming the first.
	code, body = employeeAPI.call("POST", "/v1/referrals", &outreachv1.Referral{JobId: job.GetId(), Name: "Katherine Johnson", Email: "katherine.johnson@nasa.example",
		Relationship: "we worked together at Langley"}, nil)
	wantError(t, code, body, http.StatusConflict, "ALREADY_EXISTS")
	if !strings.Contains(string(body), `"metadata":{"referral_id":"`+ref.GetId()+`"}`) || !strings.Contains(string(body), `"reason":"referral_exists"`) {
		t.Fatalf("the refusal should name the first referral: %s", body)
	}

	// Listed for the referrer (theirs only), on the job and on the candidate.
	mine := &outreachv1.ListReferralsResponse{}
	employeeAPI.must("GET", "/v1/referrals", nil, mine)
	if len(mine.GetReferrals()) != 1 || mine.GetReferrals()[0].GetId() != ref.GetId() || mine.GetReferrals()[0].GetNote() != "Computes trajectories by hand.\nA natural." {
		t.Fatalf("the employee's referrals: %v", mine)
	}
	for _, q := range []string{"jobId=" + job.GetId(), "candidateId=" + ref.GetCandidateId()} {
		list := &outreachv1.ListReferralsResponse{}
		recruiterAPI.must("GET", "/v1/referrals?"+q, nil, list)
		if len(list.GetReferrals()) != 2 || list.GetReferrals()[0].GetId() != again.GetReferral().GetId() || list.GetReferrals()[1].GetId() != ref.GetId() {
			t.Fatalf("referrals by %s: %v", q, list)
		}
	}
	byReferrer := &outreachv1.ListReferralsResponse{}
	adminAPI.must("GET", "/v1/referrals?referrerUserId="+url.QueryEscape(employee.GetUser().GetId()), nil, byReferrer)
	if len(byReferrer.GetReferrals()) != 1 {
		t.Fatalf("by referrer: %v", byReferrer)
	}
	// Someone else's referral is not the employee's to see.
	code, body = employeeAPI.call("GET", "/v1/referrals/"+again.GetReferral().GetId(), nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = employeeAPI.call("GET", "/v1/referrals?referrerUserId="+recruiter.GetUser().GetId(), nil, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	onCandidate := &outreachv1.ListReferralsResponse{}
	employeeAPI.must("GET", "/v1/referrals?candidateId="+ref.GetCandidateId(), nil, onCandidate)
	if len(onCandidate.GetReferrals()) != 1 || onCandidate.GetReferrals()[0].GetId() != ref.GetId() {
		t.Fatalf("the employee's view of the candidate's referrals: %v", onCandidate)
	}

	// The candidate's timeline shows both.
	tl := &outreachv1.ListTimelineResponse{}
	recruiterAPI.must("GET", "/v1/candidates/"+ref.GetCandidateId()+"/timeline", nil, tl)
	var kinds []string
	for _, e := range tl.GetEntries() {
		kinds = append(kinds, e.GetKind().String())
	}
	if strings.Join(kinds, ",") != "TIMELINE_KIND_CREATED,TIMELINE_KIND_REFERRAL_CREATED,TIMELINE_KIND_REFERRAL_CREATED" {
		t.Fatalf("timeline kinds %v", kinds)
	}
	first := tl.GetEntries()[1]
	if first.GetActorUserId() != employee.GetUser().GetId() || first.GetReferral().GetReferralId() != ref.GetId() || first.GetReferral().GetJobTitle() != "Flight dynamics engineer" {
		t.Fatalf("the referral on the timeline: %v", first)
	}

	// A closed job takes no referrals; bad input names the field.
	adminAPI.must("POST", "/v1/jobs/"+job.GetId()+":close", &outreachv1.CloseJobRequest{}, &outreachv1.CloseJobResponse{})
	code, body = employeeAPI.call("POST", "/v1/referrals", &outreachv1.Referral{JobId: job.GetId(), Name: "Dorothy Vaughan", Email: "dorothy@nasa.example", Relationship: "a mentor"}, nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")
	if !strings.Contains(string(body), "job_not_open") {
		t.Fatalf("the refusal should say the job is not open: %s", body)
	}
	code, body = employeeAPI.call("POST", "/v1/referrals", &outreachv1.Referral{JobId: job.GetId(), Name: "Dorothy Vaughan", Email: "dorothy at nasa", Relationship: "a mentor"}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `"field":"referral.email"`) {
		t.Fatalf("the refusal should name the field: %s", body)
	}

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	for _, path := range []string{"/v1/referrals/" + ref.GetId(), "/v1/jobs/" + job.GetId(), "/v1/referrals?candidateId=" + ref.GetCandidateId()} {
		code, body = otherAPI.call("GET", path, nil, nil)
		wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	}
	theirs := &outreachv1.ListReferralsResponse{}
	otherAPI.must("GET", "/v1/referrals", nil, theirs)
	if len(theirs.GetReferrals()) != 0 {
		t.Fatalf("another organization lists %v", theirs)
	}
}

// Jobs over REST: recruiters manage them with field masks and close them;
// lists are paged and filtered by status; drafts stay with recruiters.
func TestCircles_JobsOverREST(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	_, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})

	var ids []string
	for _, j := range []*outreachv1.Job{
		{Title: "Backend engineer", Team: "Platform", Status: outreachv1.JobStatus_JOB_STATUS_OPEN, ExternalSource: outreachv1.JobSource_JOB_SOURCE_LEVER, ExternalId: "posting-1"},
		{Title: "Designer", Status: outreachv1.JobStatus_JOB_STATUS_DRAFT},
		{Title: "Data engineer", Status: outreachv1.JobStatus_JOB_STATUS_OPEN},
	} {
		created := &outreachv1.CreateJobResponse{}
		recruiterAPI.must("POST", "/v1/jobs", j, created)
		ids = append(ids, created.GetJob().GetId())
	}
	got := &outreachv1.GetJobResponse{}
	adminAPI.must("GET", "/v1/jobs/"+ids[0], nil, got)
	if j := got.GetJob(); j.GetTitle() != "Backend engineer" || j.GetExternalSource() != outreachv1.JobSource_JOB_SOURCE_LEVER || j.GetExternalId() != "posting-1" {
		t.Fatalf("get: %v", j)
	}
	updated := &outreachv1.UpdateJobResponse{}
	recruiterAPI.must("PATCH", "/v1/jobs/"+ids[0]+"?updateMask=title,location", &outreachv1.Job{Title: "Senior backend engineer", Location: "Remote", Team: "not in the mask"}, updated)
	if j := updated.GetJob(); j.GetTitle() != "Senior backend engineer" || j.GetLocation() != "Remote" || j.GetTeam() != "Platform" {
		t.Fatalf("update: %v", j)
	}

	// Newest first, one page at a time.
	var listed []string
	token := ""
	for range 5 {
		page := &outreachv1.ListJobsResponse{}
		recruiterAPI.must("GET", "/v1/jobs?pageSize=2&pageToken="+url.QueryEscape(token), nil, page)
		for _, j := range page.GetJobs() {
			listed = append(listed, j.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(listed, ",") != strings.Join([]string{ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("listed %v, want %v newest first", listed, ids)
	}
	closed := &outreachv1.CloseJobResponse{}
	recruiterAPI.must("POST", "/v1/jobs/"+ids[2]+":close", &outreachv1.CloseJobRequest{}, closed)
	if closed.GetJob().GetStatus() != outreachv1.JobStatus_JOB_STATUS_CLOSED {
		t.Fatalf("close: %v", closed)
	}
	open := &outreachv1.ListJobsResponse{}
	adminAPI.must("GET", "/v1/jobs?status=JOB_STATUS_OPEN", nil, open)
	if len(open.GetJobs()) != 1 || open.GetJobs()[0].GetId() != ids[0] {
		t.Fatalf("open jobs: %v", open)
	}

	// Bad input names the field; an ATS id is one job; drafts are hidden
	// from members.
	code, body := recruiterAPI.call("POST", "/v1/jobs", &outreachv1.Job{Title: "No status"}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `"field":"job.status"`) {
		t.Fatalf("the refusal should name the field: %s", body)
	}
	code, body = recruiterAPI.call("PATCH", "/v1/jobs/"+ids[0]+"?updateMask=createUserId", &outreachv1.Job{}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	code, body = recruiterAPI.call("POST", "/v1/jobs", &outreachv1.Job{Title: "Copy", Status: outreachv1.JobStatus_JOB_STATUS_OPEN,
		ExternalSource: outreachv1.JobSource_JOB_SOURCE_LEVER, ExternalId: "posting-1"}, nil)
	wantError(t, code, body, http.StatusConflict, "ALREADY_EXISTS")
	if !strings.Contains(string(body), `"metadata":{"job_id":"`+ids[0]+`"}`) {
		t.Fatalf("the refusal should name the job with the id: %s", body)
	}
	adminAPI.must("PATCH", "/v1/organization?updateMask=defaultRole", &identityv1.Organization{DefaultRole: identityv1.Role_ROLE_MEMBER}, &identityv1.UpdateOrganizationResponse{})
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: "pgupta@contoso.example"})
	code, body = memberAPI.call("GET", "/v1/jobs/"+ids[1], nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = memberAPI.call("POST", "/v1/jobs/"+ids[0]+":close", &outreachv1.CloseJobRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	seen := &outreachv1.ListJobsResponse{}
	memberAPI.must("GET", "/v1/jobs", nil, seen)
	if len(seen.GetJobs()) != 2 {
		t.Fatalf("a member sees the open and closed jobs, not the draft: %v", seen)
	}

	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = otherAPI.call("PATCH", "/v1/jobs/"+ids[0]+"?updateMask=title", &outreachv1.Job{Title: "Ours"}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("POST", "/v1/jobs/"+ids[0]+":close", &outreachv1.CloseJobRequest{}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
}

// The conversations' home (OUT-4's conversation half, before the mailbox
// fills it): the mailbox service records messages over outreach's internal
// RPC, once each however often it retries; recruiters read the threads
// through the gateway; members do not; the internal RPC has no route.
func TestCircles_ConversationsThroughTheGateway(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	admin, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	recruiter, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Mary Jackson", Emails: []string{"mary@nasa.example"}}, created)
	id := created.GetCandidate().GetId()

	conn, err := grpc.NewClient(s.Procs["outreach"].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	outreach := outreachv1.NewOutreachServiceClient(conn)
	ctx, cancel := context.WithTimeout(asService(t.Context(), s), 30*time.Second)
	defer cancel()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	sent := &outreachv1.RecordConversationMessageRequest{OrganizationId: admin.GetUser().GetOrganizationId(), CandidateId: id,
		SenderUserId: recruiter.GetUser().GetId(), ProviderConversationId: "AAQkAGI2",
		Message: &outreachv1.ConversationMessage{Direction: outreachv1.MessageDirection_MESSAGE_DIRECTION_OUTBOUND, Kind: outreachv1.MessageKind_MESSAGE_KIND_SENT,
			From: contosoAdmin, To: []string{"mary@nasa.example"}, Subject: "Engineering at Contoso", BodyText: "Hello Mary",
			InternetMessageId: "<first@contoso.example>", MessageTime: timestamppb.New(at)}}
	reply := &outreachv1.RecordConversationMessageRequest{OrganizationId: admin.GetUser().GetOrganizationId(), CandidateId: id,
		IdempotencyKey: "graph-message-2",
		Message: &outreachv1.ConversationMessage{Direction: outreachv1.MessageDirection_MESSAGE_DIRECTION_INBOUND, Kind: outreachv1.MessageKind_MESSAGE_KIND_REPLY,
			From: "mary@nasa.example", To: []string{contosoAdmin}, Subject: "RE: Engineering at Contoso", BodyText: "Happy to talk",
			InternetMessageId: "<reply@nasa.example>", InReplyTo: "<first@contoso.example>", MessageTime: timestamppb.New(at.Add(time.Hour))}}
	var threadID string
	for _, req := range []*outreachv1.RecordConversationMessageRequest{sent, reply, sent, reply} {
		got, err := outreach.RecordConversationMessage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if threadID == "" {
			threadID = got.GetConversation().GetId()
		}
		if got.GetConversation().GetId() != threadID {
			t.Fatalf("the reply should join the thread %s: %v", threadID, got)
		}
	}

	list := &outreachv1.ListConversationsResponse{}
	recruiterAPI.must("GET", "/v1/candidates/"+id+"/conversations", nil, list)
	if len(list.GetConversations()) != 1 || list.GetConversations()[0].GetMessageCount() != 2 || list.GetConversations()[0].GetSubject() != "Engineering at Contoso" {
		t.Fatalf("conversations: %v", list)
	}
	thread := &outreachv1.GetConversationResponse{}
	recruiterAPI.must("GET", "/v1/conversations/"+threadID+"?pageSize=1", nil, thread)
	if len(thread.GetMessages()) != 1 || thread.GetMessages()[0].GetBodyText() != "Hello Mary" || thread.GetNextPageToken() == "" {
		t.Fatalf("thread, page 1: %v", thread)
	}
	recruiterAPI.must("GET", "/v1/conversations/"+threadID+"?pageSize=1&pageToken="+url.QueryEscape(thread.GetNextPageToken()), nil, thread)
	if len(thread.GetMessages()) != 1 || thread.GetMessages()[0].GetKind() != outreachv1.MessageKind_MESSAGE_KIND_REPLY || thread.GetNextPageToken() != "" {
		t.Fatalf("thread, page 2: %v", thread)
	}
	tl := &outreachv1.ListTimelineResponse{}
	adminAPI.must("GET", "/v1/candidates/"+id+"/timeline?kinds=TIMELINE_KIND_MESSAGE_SENT&kinds=TIMELINE_KIND_MESSAGE_RECEIVED", nil, tl)
	if len(tl.GetEntries()) != 2 || tl.GetEntries()[0].GetActorUserId() != recruiter.GetUser().GetId() ||
		tl.GetEntries()[1].GetKind() != outreachv1.TimelineKind_TIMELINE_KIND_MESSAGE_RECEIVED || tl.GetEntries()[1].GetMessage().GetConversationId() != threadID {
		t.Fatalf("the messages on the timeline, once each: %v", tl)
	}

	// A person cannot record, even a Super Admin over gRPC; members do not
	// read conversations; another organization finds none of it.
	asAdmin := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+admin.GetSession().GetAccessToken())
	_, err = outreach.RecordConversationMessage(asAdmin, sent)
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a Super Admin records a message: %v", err)
	}
	if _, err = outreach.RecordConversationMessage(t.Context(), sent); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("recording without credentials: %v", err)
	}
	adminAPI.must("PATCH", "/v1/organization?updateMask=defaultRole", &identityv1.Organization{DefaultRole: identityv1.Role_ROLE_MEMBER}, &identityv1.UpdateOrganizationResponse{})
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: "pgupta@contoso.example"})
	code, body := memberAPI.call("GET", "/v1/candidates/"+id+"/conversations", nil, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = otherAPI.call("GET", "/v1/conversations/"+threadID, nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("GET", "/v1/candidates/"+id+"/conversations", nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
}
