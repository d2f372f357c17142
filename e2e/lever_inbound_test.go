package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// inboundLever is a connected Lever organization with its mapping saved,
// atsbridge's webhooks registered, and one Tandem candidate linked to a
// Lever opportunity at "New lead".
type inboundLever struct {
	connectedLever
	sim       *simclient.Client
	db        *pgx.Conn
	mapping   *atsbridgev1.StageMapping
	candidate string
	opp       string
}

func (c connectedLever) leverStage(t testing.TB, name string) string {
	t.Helper()
	for _, s := range c.acct.Stages {
		if s.Text == name {
			return s.ID
		}
	}
	t.Fatalf("no Lever stage %q", name)
	return ""
}

func (c connectedLever) leverReason(t *testing.T, name string) string {
	t.Helper()
	for _, r := range c.acct.ArchiveReasons {
		if r.Text == name {
			return r.ID
		}
	}
	t.Fatalf("no Lever archive reason %q", name)
	return ""
}

func newInboundLever(t testing.TB) inboundLever {
	t.Helper()
	c := connectLever(t)
	saved := &atsbridgev1.SaveStageMappingResponse{}
	c.owner.must("PUT", "/v1/atsConnection/stageMapping", &atsbridgev1.SaveStageMappingRequest{Mapping: c.propose(t).GetMapping()}, saved)
	in := inboundLever{connectedLever: c, sim: simclient.New(c.s.MicrosoftURL, nil), mapping: saved.GetMapping()}

	// atsbridge registers its two webhooks once the import is done.
	want := c.s.GatewayURL + "/webhooks/lever/" + c.connID
	poll.Until(t, 30*time.Second, func() error {
		hooks := in.hooks(t)
		n := 0
		for _, h := range hooks {
			if h.URL == want {
				n++
			}
		}
		if n != 2 || len(hooks) != 2 {
			return fmt.Errorf("webhooks %+v, want two to %s", hooks, want)
		}
		return nil
	})

	resp := &outreachv1.CreateCandidateResponse{}
	c.owner.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Katherine Johnson", Emails: []string{"katherine@nasa.example"}}, resp)
	created := resp.GetCandidate()
	opp, err := in.sim.AddLeverCandidate(t.Context(), providersim.DemoLeverAccount, simclient.LeverCandidate{Name: "Katherine Johnson",
		Emails: []string{"katherine@nasa.example"}, Stage: "New lead"})
	if err != nil {
		t.Fatal(err)
	}
	// The pushes that link candidates are built beside this: the link is
	// seeded in atsbridge's table, as LV-4's push would leave it.
	db, err := pgx.Connect(t.Context(), c.s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(t.Context()) })
	if _, err := db.Exec(t.Context(), `INSERT INTO atsbridge.candidate_links (connection_id, org_id, candidate_id, remote_candidate_id,
		remote_opportunity_id, ats_stage_id, mapping_version) SELECT id, org_id, $2, $3, $4, $5, $6 FROM atsbridge.ats_connections WHERE id = $1`,
		c.connID, created.GetId(), opp.ContactID, opp.ID, c.leverStage(t, "New lead"), saved.GetMapping().GetVersion()); err != nil {
		t.Fatal(err)
	}
	in.db, in.candidate, in.opp = db, created.GetId(), opp.ID
	return in
}

func (in inboundLever) hooks(t testing.TB) []simclient.LeverWebhook {
	t.Helper()
	hooks, err := in.sim.LeverWebhooks(t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	return hooks
}

// tandemFor is the Tandem stage the saved mapping gives a Lever place.
func (in inboundLever) tandemFor(t testing.TB, place *atsbridgev1.AtsPlace) string {
	t.Helper()
	for _, r := range in.mapping.GetFromAts() {
		if r.GetAts().GetStageId() == place.GetStageId() && r.GetAts().GetArchiveReasonId() == place.GetArchiveReasonId() {
			return r.GetTandemStageId()
		}
	}
	t.Fatalf("the mapping has no row for %v", place)
	return ""
}

func (in inboundLever) candidateStage(t *testing.T) (string, int64) {
	t.Helper()
	got := &outreachv1.GetCandidateResponse{}
	in.owner.must("GET", "/v1/candidates/"+in.candidate, nil, got)
	return got.GetCandidate().GetStageId(), got.GetCandidate().GetStageVersion()
}

func (in inboundLever) waitStage(t *testing.T, stageID string) {
	t.Helper()
	poll.Until(t, 30*time.Second, func() error {
		if got, _ := in.candidateStage(t); got != stageID {
			return fmt.Errorf("candidate at stage %s, want %s", got, stageID)
		}
		return nil
	})
}

func (in inboundLever) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := in.db.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScenario_LV_5_Inbound: a stage change and an archive made in Lever
// reach Tandem through atsbridge's webhooks and the stage mapping, land on
// the candidate's timeline with source ats and the rule applied, and are
// not written back to Lever.
func TestScenario_LV_5_Inbound(t *testing.T) {
	in := newInboundLever(t)
	ctx := t.Context()

	if _, err := in.sim.MoveLeverStage(ctx, in.opp, simclient.LeverStageMove{Stage: "Responded"}); err != nil {
		t.Fatal(err)
	}
	replied := in.tandemFor(t, &atsbridgev1.AtsPlace{StageId: in.leverStage(t, "Responded")})
	in.waitStage(t, replied)

	timeline := &outreachv1.ListTimelineResponse{}
	in.owner.must("GET", "/v1/candidates/"+in.candidate+"/timeline", nil, timeline)
	var moved *outreachv1.StageChange
	for _, e := range timeline.GetEntries() {
		if sc := e.GetStageChange(); sc != nil && sc.GetToStageId() == replied {
			moved = sc
		}
	}
	if moved == nil || moved.GetSource() != outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS || moved.GetReason() == "" {
		t.Fatalf("timeline: %v", timeline)
	}

	// Archived in Lever: the archive reason's row moves the candidate.
	if _, err := in.sim.ArchiveLever(ctx, in.opp, simclient.LeverArchive{Reason: "Underqualified"}); err != nil {
		t.Fatal(err)
	}
	in.waitStage(t, in.tandemFor(t, &atsbridgev1.AtsPlace{ArchiveReasonId: in.leverReason(t, "Underqualified")}))

	// Audited as inbound applies, and nothing went back to Lever: the
	// opportunity carries our two changes only.
	if n := in.count(t, `SELECT count(*) FROM atsbridge.sync_audit WHERE connection_id = $1 AND direction = 'inbound' AND action = 'apply_stage'
		AND outcome = 'succeeded' AND rule <> ''`, in.connID); n != 2 {
		t.Fatalf("%d inbound audit rows, want 2", n)
	}
	opp, err := in.sim.LeverOpportunity(ctx, in.opp)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range opp.History {
		if h.Via == "api" {
			t.Fatalf("Tandem wrote to the opportunity: %+v", opp.History)
		}
	}
	if len(opp.StageChanges) != 2 || opp.StageID != in.leverStage(t, "Responded") || opp.ArchiveReasonID != in.leverReason(t, "Underqualified") {
		t.Fatalf("the opportunity in Lever: %+v", opp)
	}

	// A restore whose webhook Lever lost is applied by the reconcile an
	// admin asks for.
	if err := in.sim.AddLeverDeliveryFault(ctx, simclient.LeverDeliveryFault{Mode: "drop", Event: "candidateArchiveChange"}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.sim.ArchiveLever(ctx, in.opp, simclient.LeverArchive{}); err != nil {
		t.Fatal(err)
	}
	resync := &atsbridgev1.ResyncAtsConnectionResponse{}
	in.owner.must("POST", "/v1/atsConnection:resync", &atsbridgev1.ResyncAtsConnectionRequest{}, resync)
	if resync.GetConnectionId() != in.connID {
		t.Fatalf("resync: %v", resync)
	}
	in.waitStage(t, replied)
	if n := in.count(t, `SELECT count(*) FROM atsbridge.sync_audit WHERE connection_id = $1 AND direction = 'reconcile' AND action = 'apply_stage'`, in.connID); n != 1 {
		t.Fatalf("%d reconcile audit rows, want 1", n)
	}
}

// signedDelivery is a delivery as Lever makes one, signed with key.
func signedDelivery(t *testing.T, key, event string, triggeredAt int64, data map[string]any) (map[string]any, []byte) {
	t.Helper()
	token := uuid.NewString()
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(token + strconv.FormatInt(triggeredAt, 10)))
	d := map[string]any{"id": uuid.NewString(), "triggeredAt": triggeredAt, "event": event, "token": token, "signature": hex.EncodeToString(m.Sum(nil)), "data": data}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

func postWebhook(t *testing.T, url string, raw []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSecurity_LeverWebhooks: a wrong signature, an unsigned delivery and
// an unknown connection are refused with nothing stored; a replayed
// delivery, and its signed token under a new id, are acknowledged and
// ignored; only the genuine delivery moves the candidate, once.
func TestSecurity_LeverWebhooks(t *testing.T) {
	in := newInboundLever(t)
	var key string
	for _, h := range in.hooks(t) {
		if h.Event == "candidateStageChange" {
			key = h.SignatureToken
		}
	}
	url := in.s.GatewayURL + "/webhooks/lever/" + in.connID
	now := time.Now().UnixMilli()
	offer := map[string]any{"opportunityId": in.opp, "toStageId": in.leverStage(t, "Offer")}

	_, wrong := signedDelivery(t, "not-the-signature-token", "candidateStageChange", now, offer)
	unsignedMap, _ := signedDelivery(t, key, "candidateStageChange", now, offer)
	delete(unsignedMap, "signature")
	unsigned, err := json.Marshal(unsignedMap)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		url  string
		raw  []byte
		want int
	}{
		"wrong signature":    {url, wrong, http.StatusUnauthorized},
		"unsigned":           {url, unsigned, http.StatusUnauthorized},
		"unknown connection": {in.s.GatewayURL + "/webhooks/lever/" + uuid.NewString(), wrong, http.StatusNotFound},
	} {
		if got := postWebhook(t, c.url, c.raw); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
	if n := in.count(t, `SELECT count(*) FROM atsbridge.ats_webhook_deliveries WHERE connection_id = $1`, in.connID); n != 0 {
		t.Fatalf("%d refused deliveries stored", n)
	}

	// The genuine delivery moves the candidate; sent again, it is
	// acknowledged and ignored.
	responded := map[string]any{"opportunityId": in.opp, "toStageId": in.leverStage(t, "Responded")}
	genuine, raw := signedDelivery(t, key, "candidateStageChange", now, responded)
	for range 2 {
		if got := postWebhook(t, url, raw); got != http.StatusOK {
			t.Fatalf("genuine delivery: %d", got)
		}
	}
	in.waitStage(t, in.tandemFor(t, &atsbridgev1.AtsPlace{StageId: in.leverStage(t, "Responded")}))
	_, version := in.candidateStage(t)

	// Its signed token under a new id with other data is a replay too.
	genuine["id"] = uuid.NewString()
	genuine["data"] = offer
	forged, err := json.Marshal(genuine)
	if err != nil {
		t.Fatal(err)
	}
	if got := postWebhook(t, url, forged); got != http.StatusOK {
		t.Fatalf("replayed token: %d", got)
	}
	if n := in.count(t, `SELECT count(*) FROM atsbridge.ats_webhook_deliveries WHERE connection_id = $1`, in.connID); n != 1 {
		t.Fatalf("%d deliveries stored, want the genuine one", n)
	}
	poll.Until(t, 30*time.Second, func() error {
		if n := in.count(t, `SELECT count(*) FROM atsbridge.ats_webhook_deliveries WHERE connection_id = $1 AND state = 'received'`, in.connID); n != 0 {
			return fmt.Errorf("%d deliveries still to apply", n)
		}
		return nil
	})
	if n := in.count(t, `SELECT count(*) FROM atsbridge.sync_audit WHERE connection_id = $1 AND action = 'apply_stage'`, in.connID); n != 1 {
		t.Fatalf("%d stage applications, want 1", n)
	}
	if _, v := in.candidateStage(t); v != version {
		t.Fatalf("stage version %d after the replays, want %d", v, version)
	}
}

// BenchmarkLeverWebhookToOutreachStage moves a linked opportunity in
// Lever (the simulator's control API), one move at a time, alternating two
// stages mapped to two Tandem stages, and waits for outreach's database to
// hold the candidate at the mapped stage. The delays come from the
// services' own records, all stamped by the one Postgres server's clock:
// atsbridge's delivery row (received_at: the receive transaction, after
// the gateway handed the delivery over), its audit row of the apply (the
// transaction that publishes ats.stage_changed) and outreach's timeline
// entry of the move (the transaction that applies it). So the waiting loop
// here adds nothing to the figures.
func BenchmarkLeverWebhookToOutreachStage(b *testing.B) {
	in := newInboundLever(b)
	ctx := b.Context()
	places := []string{"Responded", "Reached out"}
	tandem := map[string]string{}
	for _, p := range places {
		tandem[p] = in.tandemFor(b, &atsbridgev1.AtsPlace{StageId: in.leverStage(b, p)})
	}
	if tandem[places[0]] == tandem[places[1]] {
		b.Fatalf("the mapping sends %v to one Tandem stage", places)
	}
	var total, atsbridge, delivery []time.Duration
	b.ResetTimer()
	for i := range b.N {
		place := places[i%2]
		if _, err := in.sim.MoveLeverStage(ctx, in.opp, simclient.LeverStageMove{Stage: place}); err != nil {
			b.Fatal(err)
		}
		// The wait, not the measure: the figures are the services' stamps.
		poll.Until(b, 30*time.Second, func() error {
			var stage string
			if err := in.db.QueryRow(ctx, `SELECT coalesce(stage_id::text, '') FROM outreach.candidates WHERE id = $1`, in.candidate).Scan(&stage); err != nil {
				return err
			}
			if stage != tandem[place] {
				return fmt.Errorf("move %d: the candidate is at %s, want %s", i, stage, tandem[place])
			}
			return nil
		})
		var received, published, applied time.Time
		if err := in.db.QueryRow(ctx, `SELECT
			(SELECT max(received_at) FROM atsbridge.ats_webhook_deliveries WHERE connection_id = $1 AND event = 'candidateStageChange'),
			(SELECT max(occurred_at) FROM atsbridge.sync_audit WHERE connection_id = $1 AND action = 'apply_stage'),
			(SELECT max(occurred_at) FROM outreach.timeline_entries WHERE candidate_id = $2 AND kind = 'stage_changed')`,
			in.connID, in.candidate).Scan(&received, &published, &applied); err != nil {
			b.Fatal(err)
		}
		if !received.Before(applied) || published.Before(received) {
			b.Fatalf("move %d: received %v, published %v, applied %v", i, received, published, applied)
		}
		if testing.Verbose() {
			b.Logf("move %d: published +%v, applied +%v", i, published.Sub(received), applied.Sub(received))
		}
		total = append(total, applied.Sub(received))
		atsbridge = append(atsbridge, published.Sub(received))
		delivery = append(delivery, applied.Sub(published))
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		p50, p99 := percentiles(ds)
		b.ReportMetric(float64(p50.Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
	}
	report("applied", total)
	report("published", atsbridge)
	report("delivered", delivery)
}
