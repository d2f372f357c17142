package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// SYNC-3: every mailbox and ATS connection shows its health through the
// REST API (status and reason, last successful call, last sync, pending
// work, rate limit budget used, next retry), and one that recovers says
// so.
func TestScenario_SYNC_3(t *testing.T) {
	// 6-second tokens, refreshed 3 seconds ahead: a revoked grant shows at
	// the next refresh, within seconds.
	s := stack.Start(t, binDir, stack.Options{Env: []string{"TANDEM_VAULT_REFRESH_BEFORE=3s"}})
	ctx := t.Context()
	ctl := sim(t, s)
	if err := ctl.SetLifetimes(ctx, simclient.Lifetimes{AccessTokenSeconds: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.SetLeverSettings(ctx, simclient.LeverSettings{AccessTokenSeconds: 6}); err != nil {
		t.Fatal(err)
	}
	// Megan signs in to Contoso first: its Super Admin, and Lever's.
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	idc := identityClient(t, s, "identity")
	// refused waits until identity, refreshing, learns the grant is gone.
	refused := func(connID, asService string) {
		t.Helper()
		svc := metadata.AppendToOutgoingContext(ctx, "x-tandem-service-token", s.ServiceToken, "x-tandem-service", asService)
		poll.Until(t, 30*time.Second, func() error {
			_, err := idc.GetAccessToken(svc, &identityv1.GetAccessTokenRequest{ConnectionId: connID})
			if status.Code(err) != codes.FailedPrecondition {
				return fmt.Errorf("identity still hands out a token (%w)", err)
			}
			return nil
		})
	}

	t.Run("mailbox", func(t *testing.T) { mailboxHealth(t, s, ctl, refused) })
	t.Run("ats", func(t *testing.T) { atsHealth(t, s, ctl, ownerAPI, refused) })
}

func mailboxHealth(t *testing.T, s *stack.Stack, ctl *simclient.Client, refused func(connID, asService string)) {
	br := newBrowser(t, s)
	_, userAPI := signedIn(t, s, br, as{email: contosoUser})
	connect := func() (orgID, mailboxID string) {
		t.Helper()
		c := &identityv1.ConnectMailboxResponse{}
		userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, c)
		res := exchange(t, br, loginCode(t, br.walk(br.open(c.GetAuthorizeUrl()), as{email: contosoUser})))
		if res.GetOutcome() != "mailbox_connected" {
			t.Fatalf("connect mailbox: %v", res)
		}
		return res.GetConnection().GetOrganizationId(), res.GetConnection().GetId()
	}
	orgID, mailboxID := connect()
	health := func() *mailboxv1.MailboxHealth {
		h := &mailboxv1.GetMailboxHealthResponse{}
		userAPI.must("GET", "/v1/mailboxes/"+mailboxID+"/health", nil, h)
		return h.GetHealth()
	}
	mb := mailboxClient(t, s, "mailbox")
	req := func(key string) *mailboxv1.SubmitMessageRequest {
		return &mailboxv1.SubmitMessageRequest{OrganizationId: orgID, MailboxId: mailboxID,
			To: []*mailboxv1.Recipient{{Address: "ada@example.com"}}, Subject: "Hello " + key, HtmlBody: "<p>Hello</p>", IdempotencyKey: key}
	}
	first := submitWhenKnown(t, s, mb, req("sync3-first"))
	waitState(t, s, mb, orgID, first.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)

	// Connected, nothing waiting, what it sent, and the Graph budget (it
	// refills within a second of the send, so only its presence is sure).
	h := health()
	if h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED || h.GetQueueDepth() != 0 || h.GetSentToday() != 1 ||
		h.GetSentLastMinute() != 1 || h.GetMessagesPerMinute() <= 0 || h.GetLastSentTime() == nil || h.GetLastSuccessTime() == nil ||
		h.RequestBudgetAvailable == nil || h.GetRequestBudgetAvailable() < 1 || h.GetRequestBudgetUsed() < 0 || h.GetRecoveredTime() != nil {
		t.Fatalf("a connected mailbox after one send: %v", h)
	}

	// Revoked: the status says why, the message waits, and when it may go
	// is told once the mailbox is back.
	if _, err := ctl.RevokeSessions(t.Context(), contosoUser); err != nil {
		t.Fatal(err)
	}
	refused(mailboxID, "mailbox")
	held := submitWhenKnown(t, s, mb, req("sync3-held"))
	poll.Until(t, 60*time.Second, func() error {
		h := health()
		if h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_RECONNECT_REQUIRED || h.GetStatusReason() == "" || h.GetQueueDepth() != 1 {
			return fmt.Errorf("health %v", h)
		}
		return nil
	})

	// Connected again: it says it recovered, and what waited goes.
	before := time.Now()
	connect()
	waitState(t, s, mb, orgID, held.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)
	h = health()
	if h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED || h.GetQueueDepth() != 0 || h.GetRecoveredTime() == nil ||
		h.GetRecoveredTime().AsTime().Before(before.Add(-time.Second)) {
		t.Fatalf("after reconnecting (at %v): %v", before, h)
	}
}

func atsHealth(t *testing.T, s *stack.Stack, ctl *simclient.Client, ownerAPI api, refused func(connID, asService string)) {
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: providersim.DemoContosoAlias})
	connectLever := func() string {
		t.Helper()
		connect := &identityv1.ConnectLeverResponse{}
		ownerAPI.must("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, connect)
		br := leverBrowser(t, s)
		done := br.follow(br.consentAtLever(connect.GetAuthorizeUrl(), providersim.DemoLeverSuperAdmin))
		if done.Redirect == nil {
			t.Fatalf("callback: %d %s", done.Status, done.Body)
		}
		res := exchange(t, br, loginCode(t, done))
		if res.GetOutcome() != "lever_connected" {
			t.Fatalf("connect Lever: %v", res)
		}
		return res.GetConnection().GetId()
	}
	connected := func() *atsbridgev1.AtsConnection {
		t.Helper()
		var ats *atsbridgev1.AtsConnection
		poll.Until(t, 60*time.Second, func() error {
			ats = getAts(t, memberAPI)
			if ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_CONNECTED || ats.GetHealth().GetLastSyncTime() == nil {
				return fmt.Errorf("ATS connection %v", ats)
			}
			return nil
		})
		return ats
	}
	connID := connectLever()
	ats := connected()
	h := ats.GetHealth()
	// The import's calls spent some of the budget; nothing waits to go.
	if ats.GetId() != connID || h.GetLastSuccessTime() == nil || h.GetPendingPushes() != 0 || h.GetHeldPushes() != 0 ||
		h.GetFailedPushesLastDay() != 0 || h.GetNextRetryTime() != nil || h.GetRateLimitBurst() < 1 ||
		h.RateLimitAvailable == nil || h.GetRateLimitAvailable()+h.GetRateLimitUsed() != h.GetRateLimitBurst() ||
		h.GetWebhookDeliveriesLastDay() != 0 || h.GetRecoveredTime() != nil {
		t.Fatalf("a connected ATS: %v", ats)
	}

	// A candidate on a flow linked to the posting: the link is pushed.
	acct, err := ctl.LeverAccount(t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	c := linkFlow(t, connectedLever{s: s, owner: ownerAPI, connID: connID, acct: acct})
	sam := c.newCandidate(t, "Sam Rivera", "sam.rivera@example.org")
	c.enroll(t, sam)
	opp := c.linked(t, "sam.rivera@example.org")
	var target *outreachv1.Stage
	for _, st := range c.stages {
		if st.GetName() != "New" && c.atsStageOf(t, st.GetId()) != opp.StageID {
			target = st
			break
		}
	}
	if target == nil {
		t.Fatal("no stage that moves the opportunity")
	}

	// The customer revokes Tandem in Lever: the status says so, and why.
	if _, err := ctl.RevokeLever(t.Context(), providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	refused(connID, "atsbridge")
	poll.Until(t, 30*time.Second, func() error {
		ats = getAts(t, memberAPI)
		if ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_RECONNECT_REQUIRED || ats.GetReason() == "" {
			return fmt.Errorf("ATS connection %v", ats)
		}
		return nil
	})
	if ats.GetHealth().GetRecoveredTime() != nil {
		t.Fatalf("a revoked connection says it recovered: %v", ats)
	}

	// A stage move while revoked waits: the health shows it held.
	c.owner.must("POST", "/v1/candidates/"+sam+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: target.GetId(), Reason: "called back"}, &outreachv1.MoveCandidateStageResponse{})
	poll.Until(t, 60*time.Second, func() error {
		if h := getAts(t, memberAPI).GetHealth(); h.GetHeldPushes() != 1 {
			return fmt.Errorf("health %v", h)
		}
		return nil
	})

	// Connected again: it says it recovered, and what waited goes through.
	before := time.Now()
	if again := connectLever(); again != connID {
		t.Fatalf("reconnecting made connection %s (was %s)", again, connID)
	}
	ats = connected()
	if rt := ats.GetHealth().GetRecoveredTime(); rt == nil || rt.AsTime().Before(before.Add(-time.Second)) {
		t.Fatalf("after reconnecting (at %v): %v", before, ats)
	}
	poll.Until(t, 60*time.Second, func() error {
		o := c.linked(t, "sam.rivera@example.org")
		h := getAts(t, memberAPI).GetHealth()
		if o.StageID != c.atsStageOf(t, target.GetId()) || h.GetHeldPushes() != 0 || h.GetPendingPushes() != 0 {
			return fmt.Errorf("opportunity at %s, health %v", o.StageID, h)
		}
		return nil
	})

	// The sync audit log reads through both routes (SYNC-1's read side;
	// the pushes and webhooks that write it are built apart), and refuses
	// a filter that is none.
	log := &atsbridgev1.ListSyncAuditResponse{}
	memberAPI.must("GET", "/v1/atsConnection/syncAudit?direction=push&pageSize=10", nil, log)
	memberAPI.must("GET", "/v1/candidates/00000000-0000-4000-8000-000000000001/syncAudit", nil, log)
	if len(log.GetEntries()) != 0 {
		t.Fatalf("a candidate never synced has decisions: %v", log)
	}
	code, body := memberAPI.call("GET", "/v1/atsConnection/syncAudit?outcome=maybe", nil, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	code, body = memberAPI.call("GET", "/v1/candidates/not-a-candidate/syncAudit", nil, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
}

// SYNC-1: every sync decision for a candidate is in its audit log, in
// order (the link, the move, its webhook known as an echo), with the rule
// applied, the request and the answer and who acted, readable per
// candidate and per connection; another organization reads none of it.
// Held and retried pushes are in it too (SYNC_3, the pushes' tests).
func TestScenario_SYNC_1(t *testing.T) {
	c := linkedFlow(t)
	sam := c.newCandidate(t, "Sam Rivera", "sam.rivera@example.org")
	c.owner.must("POST", "/v1/candidates/"+sam+"/notes", &outreachv1.Note{Body: "Strong Go", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}, &outreachv1.CreateNoteResponse{})
	c.enroll(t, sam)
	opp := c.linked(t, "sam.rivera@example.org")
	var target *outreachv1.Stage
	for _, st := range c.stages {
		if st.GetName() != "New" && c.atsStageOf(t, st.GetId()) != opp.StageID {
			target = st
			break
		}
	}
	if target == nil {
		t.Fatal("no stage that moves the opportunity")
	}
	c.owner.must("POST", "/v1/candidates/"+sam+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: target.GetId(), Reason: "called back"}, &outreachv1.MoveCandidateStageResponse{})

	read := func(a api, path string) []*atsbridgev1.SyncAuditEntry {
		t.Helper()
		var all []*atsbridgev1.SyncAuditEntry
		for tok, pages := "", 0; ; pages++ {
			page := &atsbridgev1.ListSyncAuditResponse{}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			a.must("GET", path+sep+"pageSize=2&pageToken="+url.QueryEscape(tok), nil, page)
			all = append(all, page.GetEntries()...)
			if tok = page.GetNextPageToken(); tok == "" || pages > 50 {
				return all
			}
		}
	}
	actions := func(es []*atsbridgev1.SyncAuditEntry) []string {
		out := make([]string, 0, len(es))
		for _, e := range es {
			out = append(out, e.GetAction())
		}
		return out
	}
	var log []*atsbridgev1.SyncAuditEntry
	poll.Until(t, 60*time.Second, func() error {
		log = read(c.owner, "/v1/candidates/"+sam+"/syncAudit")
		// The move's webhook comes back and is known as Tandem's own.
		if got := actions(log); !slices.Contains(got, "create_opportunity") || !slices.Contains(got, "move_stage") || !slices.Contains(got, "echo_suppressed") {
			return fmt.Errorf("the log holds %v", got)
		}
		return nil
	})
	if got := actions(log); slices.Index(got, "create_opportunity") > slices.Index(got, "move_stage") || slices.Index(got, "move_stage") > slices.Index(got, "echo_suppressed") {
		t.Fatalf("the log is out of order: %v", got)
	}
	for i, e := range log {
		if e.GetCandidateId() != sam || e.GetConnectionId() != c.connID || (e.GetDirection() != "push") != (e.GetAction() == "echo_suppressed") || e.GetOccurTime() == nil ||
			(i > 0 && e.GetId() <= log[i-1].GetId()) {
			t.Fatalf("entry %d: %v", i, e)
		}
		raw, err := protojson.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(string(raw)), "bearer") {
			t.Fatalf("entry %d keeps a credential: %s", i, raw)
		}
	}
	for _, e := range log {
		switch e.GetAction() {
		case "create_opportunity":
			if e.GetOutcome() != "succeeded" || e.GetRequest().GetMethod() != "POST" || e.GetRule() == "" || e.GetMappingVersion() < 1 {
				t.Errorf("the creation: %v", e)
			}
		case "move_stage":
			if e.GetOutcome() != "succeeded" || e.GetRequest().GetPath() != "/opportunities/"+opp.ID+"/stage" || e.GetRule() == "" ||
				e.GetResponse() == nil || e.GetTriggerType() == "" {
				t.Errorf("the stage move: %v", e)
			}
		}
	}

	// Per connection, and filtered.
	if conn := read(c.owner, "/v1/atsConnection/syncAudit?direction=push"); len(conn) < len(log)-1 || slices.Contains(actions(conn), "echo_suppressed") {
		t.Fatalf("the connection's pushes are %d entries %v, the candidate's log %d", len(conn), actions(conn), len(log))
	}
	if moves := read(c.owner, "/v1/atsConnection/syncAudit?action=move_stage"); len(moves) != 1 || moves[0].GetCandidateId() != sam {
		t.Fatalf("the stage moves: %v", moves)
	}
	// Another organization reads none of it.
	_, other := signedIn(t, c.s, newBrowser(t, c.s), as{email: fabrikamAdmin, consentForOrg: true})
	if got := read(other, "/v1/candidates/"+sam+"/syncAudit"); len(got) != 0 {
		t.Fatalf("another organization reads %v", got)
	}
	if got := read(other, "/v1/atsConnection/syncAudit"); len(got) != 0 {
		t.Fatalf("another organization reads %v", got)
	}
}
