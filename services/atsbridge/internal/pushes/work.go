package pushes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/providerhttp"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// reasonHeld is why a push waits, as the audit log and the push show it
// (a refused token's reason is grants.ReasonRefused).
const reasonHeld = "the ATS connection needs reconnecting; the push waits and goes after reconnection"

// permanent is a push that cannot succeed as it is: it fails with the
// reason, and the candidate's next push goes.
type permanent struct{ reason string }

func (e *permanent) Error() string { return e.reason }

func fail(format string, args ...any) error { return &permanent{reason: fmt.Sprintf(format, args...)} }

// errRefused is identity refusing a token for the connection: the push is held and the
// connection marked.
var errRefused = errors.New("pushes: the ATS refused the connection's access")

// Worker works the pushes' jobs.
type Worker struct {
	river.WorkerDefaults[Args]
	ps *Pushes
}

// Worker returns the River worker of the pushes.
func (ps *Pushes) Worker() *Worker { return &Worker{ps: ps} }

// Timeout ends an attempt well before its claim does, so no other job
// takes the push over while this one still writes.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.ps.opts.Claim / 2 }

// outcome is what an attempt did, for the finishing transaction.
type outcome struct {
	state    string // succeeded or skipped
	remoteID string
	entries  []audit.Entry
	// links to record, and places written on linked opportunities.
	links   []store.Link
	written []store.Link
	// writtenAt is the ATS's time of each write, by opportunity.
	writtenAt map[string]time.Time
	linked    *atsbridgev1.AtsLinked
	note      string // why a push was skipped
}

// attempt is the context of one attempt.
type attempt struct {
	push    store.Push
	conn    store.Connection
	links   []store.Link
	number  int
	auth    lever.Auth
	base    audit.Entry
	mapping store.Mapping
}

// Work runs one attempt at a push.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	ps := w.ps
	op := job.Args.OperationID
	connID, candID, err := ps.store.PushConnectionKey(ctx, op)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var a attempt
	var wait time.Duration
	proceed := false
	err = ps.store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.LockCandidate(ctx, tx, connID, candID); err != nil {
			return err
		}
		p, waits, err := store.PushForWork(ctx, tx, op)
		if err != nil {
			return err
		}
		if !p.Open() || waits {
			return nil // done, or the push before it enqueues it when it ends
		}
		conn, err := store.ConnectionTx(ctx, tx, p.ConnectionID)
		if err != nil {
			return err
		}
		a.push, a.conn = p, conn
		a.base = audit.Entry{OrgID: p.OrgID, ConnectionID: p.ConnectionID, CandidateID: p.CandidateID, OperationID: p.OperationID,
			TriggerID: p.TriggerID, TriggerType: p.TriggerType, Direction: audit.DirectionPush, ActorUserID: p.ActorUserID}
		if conn.Status == store.StatusReconnectRequired || conn.Status == store.StatusDisconnected {
			return ps.hold(ctx, tx, a, p.Attempts)
		}
		now := ps.now()
		if p.ClaimedBy != nil && *p.ClaimedBy != job.ID && p.ClaimExpires != nil && p.ClaimExpires.After(now) {
			wait = p.ClaimExpires.Sub(now)
			return nil
		}
		if a.number, err = store.ClaimPush(ctx, tx, op, job.ID, now.Add(ps.opts.Claim)); err != nil {
			return err
		}
		a.base.Attempt = a.number
		a.links, err = store.CandidateLinks(ctx, tx, p.ConnectionID, p.CandidateID)
		proceed = err == nil
		return err
	})
	if err != nil || !proceed {
		if wait > 0 {
			return river.JobSnooze(wait)
		}
		return err
	}
	log := ps.log.With(slog.String("operation_id", op), slog.String("kind", a.push.Kind), slog.Int("attempt", a.number))
	out, err := ps.run(ctx, &a)
	if err == nil {
		return ps.finish(ctx, a, out)
	}
	return ps.failed(ctx, a, err, log)
}

// run does the push's calls.
func (ps *Pushes) run(ctx context.Context, a *attempt) (outcome, error) {
	tok, err := ps.tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: a.conn.ID})
	switch status.Code(err) {
	case codes.OK:
	case codes.FailedPrecondition, codes.NotFound:
		return outcome{}, errRefused
	default:
		return outcome{}, fmt.Errorf("pushes: identity could not hand out a token: %w", err)
	}
	a.auth = lever.Auth{ConnectionID: a.conn.ID, Token: tok.GetAccessToken()}
	m, err := ps.store.Mapping(ctx, a.conn.ID, 0)
	if errors.Is(err, postgres.ErrNotFound) {
		return outcome{}, fail("the stage mapping with the ATS is not saved")
	}
	if err != nil {
		return outcome{}, err
	}
	a.mapping = m
	a.base.MappingVersion = m.Version
	switch a.push.Kind {
	case KindLinkCandidate:
		return ps.link(ctx, a)
	case KindMoveStage:
		return ps.move(ctx, a)
	case KindAddNote:
		return ps.note(ctx, a)
	}
	return outcome{}, fail("unknown push kind %q", a.push.Kind)
}

// toATS is where the mapping puts a Tandem stage, with its rule readable.
func toATS(m store.Mapping, tandemStageID string) (store.Place, bool) {
	for _, r := range m.ToATS {
		if r.TandemStageID == tandemStageID {
			return r.ATS, true
		}
	}
	return store.Place{}, false
}

// performer maps the recruiter a push acts for to their ATS user by
// e-mail: the import's users first, then the ATS itself (a user added
// since).
func (ps *Pushes) performer(ctx context.Context, a *attempt, userID string) (string, error) {
	if userID == "" {
		return "", fail("the push names no recruiter to act as in Lever")
	}
	email, err := ps.users.UserEmail(ctx, a.push.OrgID, userID)
	if errors.Is(err, ErrGone) {
		return "", fail("the recruiter who added the candidate is no longer a user of the organization")
	}
	if err != nil {
		return "", err
	}
	if u, err := ps.store.UserByEmail(ctx, a.conn.ID, email); err == nil {
		a.base.ActorRemoteID = u.RemoteID
		return u.RemoteID, nil
	} else if !errors.Is(err, postgres.ErrNotFound) {
		return "", err
	}
	u, err := ps.ats.UserByEmail(ctx, a.auth, email)
	if errors.Is(err, lever.ErrNotFound) {
		return "", fail("the recruiter %s has no active Lever user; add them to Lever with this e-mail", email)
	}
	if err != nil {
		return "", err
	}
	a.base.ActorRemoteID = u.ID
	return u.ID, nil
}

func (ps *Pushes) entry(a *attempt, action, rule string, req, resp *audit.Exchange) audit.Entry {
	e := a.base
	e.Action, e.Rule, e.Request, e.Response, e.Outcome = action, rule, req, resp, audit.OutcomeSucceeded
	return e
}

// link finds or creates the candidate's opportunity on the flow's posting
// at the mapped stage, origin sourced, acting as the recruiter, then sends
// the public notes it does not have yet.
func (ps *Pushes) link(ctx context.Context, a *attempt) (outcome, error) {
	var p linkPayload
	if err := json.Unmarshal(a.push.Payload, &p); err != nil {
		return outcome{}, fail("unreadable push payload")
	}
	c, err := ps.cands.CandidateForSync(ctx, a.push.OrgID, a.push.CandidateID, p.JobID)
	if errors.Is(err, ErrGone) {
		return outcome{state: store.PushSkipped, note: "the candidate or the flow's job is gone"}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	if c.Job.Source != a.conn.Provider || c.Job.ExternalID == "" {
		return outcome{state: store.PushSkipped, note: "the flow's job is not a job of the ATS"}, nil
	}
	if len(c.Emails) == 0 {
		return outcome{}, fail("the candidate has no e-mail; Lever finds and merges candidates by e-mail")
	}
	place, ok := toATS(a.mapping, c.StageID)
	if !ok {
		return outcome{}, fail("the stage mapping has no row for the candidate's stage")
	}
	asUser, err := ps.performer(ctx, a, a.push.ActorUserID)
	if err != nil {
		return outcome{}, err
	}
	posting := c.Job.ExternalID
	email := c.Emails[0]
	var out outcome
	found, err := ps.ats.OpportunitiesByEmail(ctx, a.auth, email, posting)
	if err != nil {
		return outcome{}, err
	}
	search := &audit.Exchange{Method: "GET", Path: "/opportunities", Body: map[string]any{"email": email, "posting_id": posting}}
	var opp lever.Opportunity
	created := false
	if len(found) > 0 {
		opp = found[0]
		out.entries = append(out.entries, ps.entry(a, "link_opportunity", "", search, &audit.Exchange{Status: 200, Body: map[string]any{"id": opp.ID, "contact": opp.Contact}}))
	} else {
		in := lever.NewOpportunity{Name: c.Name, Headline: c.Headline, Location: c.Location, Emails: c.Emails, Links: c.Links,
			Origin: "sourced", Postings: []string{posting}, Stage: place.StageID, Sources: []string{"Tandem"}}
		if c.Phone != "" {
			in.Phones = []lever.Phone{{Value: c.Phone}}
		}
		if opp, err = ps.ats.CreateOpportunity(ctx, a.auth, asUser, in); err != nil {
			return outcome{}, err
		}
		created = true
		out.entries = append(out.entries, ps.entry(a, "create_opportunity", "Tandem stage → Lever stage "+place.StageID,
			&audit.Exchange{Method: "POST", Path: "/opportunities", Body: in}, &audit.Exchange{Status: 201, Body: map[string]any{"id": opp.ID, "contact": opp.Contact, "stage": opp.Stage}}))
		if place.ArchiveReasonID != "" {
			if opp, err = ps.ats.Archive(ctx, a.auth, opp.ID, place.ArchiveReasonID, asUser); err != nil {
				return outcome{}, err
			}
			out.entries = append(out.entries, ps.entry(a, "archive", "", &audit.Exchange{Method: "PUT", Path: "/opportunities/" + opp.ID + "/archived",
				Body: map[string]any{"reason": place.ArchiveReasonID}}, &audit.Exchange{Status: 200}))
		}
	}
	// Notes: an opportunity found may hold some already (an attempt that
	// died after sending them); they are matched by text and time.
	var have []lever.Note
	if !created && len(c.Notes) > 0 {
		if have, err = ps.ats.Notes(ctx, a.auth, opp.ID); err != nil {
			return outcome{}, err
		}
	}
	for _, n := range c.Notes {
		at := n.CreatedAt.UnixMilli()
		if hasNote(have, n.Body, at) {
			continue
		}
		id, err := ps.ats.AddNote(ctx, a.auth, opp.ID, asUser, n.Body, at)
		if err != nil {
			return outcome{}, err
		}
		out.entries = append(out.entries, ps.entry(a, "add_note", "public notes follow the candidate",
			&audit.Exchange{Method: "POST", Path: "/opportunities/" + opp.ID + "/notes", Body: map[string]any{"note_id": n.ID, "createdAt": at}},
			&audit.Exchange{Status: 201, Body: map[string]any{"noteId": id}}))
	}
	now := ps.placeOf(opp)
	out.state, out.remoteID = store.PushSucceeded, opp.ID
	out.links = []store.Link{{CandidateID: a.push.CandidateID, RemoteCandidateID: opp.Contact, RemoteOpportunityID: opp.ID, ATS: now, MappingVersion: a.mapping.Version}}
	out.linked = &atsbridgev1.AtsLinked{ConnectionId: a.conn.ID, Provider: a.conn.Provider, CandidateId: a.push.CandidateID, JobId: c.Job.ID,
		RemoteCandidateId: opp.Contact, RemoteOpportunityId: opp.ID, Url: opp.URLs.Show, Created: created}
	return out, nil
}

func hasNote(have []lever.Note, body string, at int64) bool {
	for _, h := range have {
		if h.CreatedAt == at && strings.TrimSpace(h.Value()) == strings.TrimSpace(body) {
			return true
		}
	}
	return false
}

func (ps *Pushes) placeOf(o lever.Opportunity) store.Place {
	if o.Archived != nil && o.Archived.Reason != "" {
		return store.Place{ArchiveReasonID: o.Archived.Reason}
	}
	return store.Place{StageID: o.Stage}
}

// move moves every linked opportunity of the candidate to the place the
// new stage maps to. The pending place is stored before the calls, so
// the ATS's webhooks about them are known as Tandem's own.
func (ps *Pushes) move(ctx context.Context, a *attempt) (outcome, error) {
	var p stagePayload
	if err := json.Unmarshal(a.push.Payload, &p); err != nil {
		return outcome{}, fail("unreadable push payload")
	}
	if len(a.links) == 0 {
		return outcome{state: store.PushSkipped, note: "the candidate is not linked to the ATS"}, nil
	}
	target, ok := toATS(a.mapping, p.ToStageID)
	if !ok {
		return outcome{}, fail("the stage mapping has no row for the stage %q", p.ToStageName)
	}
	var todo []store.Link
	var ids []string
	for _, l := range a.links {
		if l.ATS != target {
			todo = append(todo, l)
			ids = append(ids, l.RemoteOpportunityID)
		}
	}
	out := outcome{state: store.PushSucceeded}
	if len(todo) == 0 {
		out.state, out.note = store.PushSkipped, "the ATS has the candidate there already"
		return out, nil
	}
	asUser := ""
	if a.push.ActorUserID != "" {
		// A move is attributed to the recruiter when they have a Lever user;
		// without one Lever attributes it to the integration.
		if u, err := ps.performer(ctx, a, a.push.ActorUserID); err == nil {
			asUser = u
		} else if !isPermanent(err) {
			return outcome{}, err
		}
	}
	if err := ps.store.InTx(ctx, func(tx pgx.Tx) error {
		return store.SetPending(ctx, tx, a.conn.ID, ids, store.PendingPlace(target))
	}); err != nil {
		return outcome{}, err
	}
	rule := fmt.Sprintf("Tandem %q → Lever %s", p.ToStageName, describe(target))
	out.writtenAt = map[string]time.Time{}
	for _, l := range todo {
		var err error
		var after lever.Opportunity
		if target.ArchiveReasonID != "" {
			after, err = ps.ats.Archive(ctx, a.auth, l.RemoteOpportunityID, target.ArchiveReasonID, asUser)
			out.entries = append(out.entries, ps.entry(a, "archive", rule, &audit.Exchange{Method: "PUT", Path: "/opportunities/" + l.RemoteOpportunityID + "/archived",
				Body: map[string]any{"reason": target.ArchiveReasonID}}, &audit.Exchange{Status: 200}))
		} else {
			if l.ATS.ArchiveReasonID != "" {
				if _, err = ps.ats.Archive(ctx, a.auth, l.RemoteOpportunityID, "", asUser); err != nil {
					return outcome{}, err
				}
			}
			after, err = ps.ats.ChangeStage(ctx, a.auth, l.RemoteOpportunityID, target.StageID, asUser)
			out.entries = append(out.entries, ps.entry(a, "move_stage", rule, &audit.Exchange{Method: "PUT", Path: "/opportunities/" + l.RemoteOpportunityID + "/stage",
				Body: map[string]any{"stage": target.StageID}}, &audit.Exchange{Status: 200}))
		}
		if err != nil {
			return outcome{}, err
		}
		l.ATS, l.MappingVersion = target, a.mapping.Version
		out.written = append(out.written, l)
		if after.UpdatedAt > 0 {
			out.writtenAt[l.RemoteOpportunityID] = time.UnixMilli(after.UpdatedAt)
		}
	}
	return out, nil
}

// note sends a public note to each linked opportunity that does not have
// it yet (the link's own push may have sent it with the others).
func (ps *Pushes) note(ctx context.Context, a *attempt) (outcome, error) {
	var p notePayload
	if err := json.Unmarshal(a.push.Payload, &p); err != nil {
		return outcome{}, fail("unreadable push payload")
	}
	if len(a.links) == 0 {
		return outcome{state: store.PushSkipped, note: "the candidate is not linked to the ATS"}, nil
	}
	asUser := ""
	if u, err := ps.performer(ctx, a, a.push.ActorUserID); err == nil {
		asUser = u
	} else if !isPermanent(err) {
		return outcome{}, err
	}
	out := outcome{state: store.PushSucceeded}
	for _, l := range a.links {
		have, err := ps.ats.Notes(ctx, a.auth, l.RemoteOpportunityID)
		if err != nil {
			return outcome{}, err
		}
		if hasNote(have, p.Body, p.CreatedAt) {
			continue
		}
		id, err := ps.ats.AddNote(ctx, a.auth, l.RemoteOpportunityID, asUser, p.Body, p.CreatedAt)
		if err != nil {
			return outcome{}, err
		}
		out.entries = append(out.entries, ps.entry(a, "add_note", "public notes follow the candidate",
			&audit.Exchange{Method: "POST", Path: "/opportunities/" + l.RemoteOpportunityID + "/notes", Body: map[string]any{"note_id": p.NoteID, "createdAt": p.CreatedAt}},
			&audit.Exchange{Status: 201, Body: map[string]any{"noteId": id}}))
	}
	if len(out.entries) == 0 {
		out.state, out.note = store.PushSkipped, "the ATS has the note already"
	}
	return out, nil
}

func describe(p store.Place) string {
	if p.ArchiveReasonID != "" {
		return "archived (" + p.ArchiveReasonID + ")"
	}
	return "stage " + p.StageID
}

func isPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// finish stores an attempt's result with the push's completion, under
// the candidate's lock, and enqueues the candidate's next push.
func (ps *Pushes) finish(ctx context.Context, a attempt, out outcome) error {
	return ps.store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.LockCandidate(ctx, tx, a.push.ConnectionID, a.push.CandidateID); err != nil {
			return err
		}
		for _, l := range out.links {
			if err := store.LinkTx(ctx, tx, a.conn.ID, a.push.OrgID, l); err != nil {
				return err
			}
		}
		for _, l := range out.written {
			if err := store.PlaceWritten(ctx, tx, a.conn.ID, l.RemoteOpportunityID, l.ATS, l.MappingVersion, out.writtenAt[l.RemoteOpportunityID]); err != nil {
				return err
			}
		}
		if out.state == store.PushSkipped {
			e := a.base
			e.Action, e.Outcome, e.Error = "skipped", audit.OutcomeSkipped, out.note
			out.entries = append(out.entries, e)
		}
		for _, e := range out.entries {
			if err := audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		if len(out.entries) > 0 && out.state == store.PushSucceeded {
			if err := store.TouchSuccess(ctx, tx, a.conn.ID, ps.now()); err != nil {
				return err
			}
		}
		if out.linked != nil && ps.pub != nil {
			if _, err := ps.pub.Publish(ctx, tx, events.Event{Type: EventLinked, OrganizationID: a.push.OrgID,
				AggregateID: a.conn.ID + "/" + out.linked.GetRemoteOpportunityId(), Version: ps.now().UnixMicro(), Payload: out.linked}); err != nil {
				return fmt.Errorf("pushes: publish %s: %w", EventLinked, err)
			}
		}
		next, err := store.FinishPush(ctx, tx, a.push, out.state, out.remoteID, out.note)
		if err != nil || next == nil {
			return err
		}
		return ps.enqueue(ctx, tx, next.OperationID)
	})
}

// failed sorts an attempt's failure: the connection's access refused holds
// the push; a rate limit snoozes it; a permanent failure ends it; anything
// else is tried again with backoff, up to MaxAttempts.
func (ps *Pushes) failed(ctx context.Context, a attempt, err error, log *slog.Logger) error {
	var ra *providerhttp.RetryAfterError
	switch {
	case errors.Is(err, lever.ErrUnauthorized) && !grants.Revoked(ctx, ps.tokens, a.conn.ID):
		// Identity refreshed the token: the next attempt uses the new one.
		log.InfoContext(ctx, "Lever refused the token; identity refreshed it and the push goes again")
		return river.JobSnooze(backoff(a.number))
	case errors.Is(err, errRefused) || errors.Is(err, lever.ErrUnauthorized):
		log.WarnContext(ctx, "the ATS refused the connection's access; the push is held", slog.Any("error", err))
		if rerr := ps.store.RecordError(ctx, a.conn.ID, store.ErrorUnauthorized, "Lever refused the access token"); rerr != nil {
			return rerr
		}
		if _, merr := ps.store.MarkRefused(ctx, a.conn.ID, a.conn.SyncGeneration, grants.ReasonRefused); merr != nil {
			return merr
		}
		return ps.store.InTx(ctx, func(tx pgx.Tx) error { return ps.hold(ctx, tx, a, 0) })
	case errors.As(err, &ra) && errors.Is(err, providerhttp.ErrRateLimited):
		if rerr := ps.store.RecordError(ctx, a.conn.ID, store.ErrorRateLimited, "Lever's rate limit was reached; the push waits"); rerr != nil {
			return rerr
		}
		wait := max(ra.RetryAfter, time.Second)
		if rerr := ps.store.InTx(ctx, func(tx pgx.Tx) error {
			return store.RetryPush(ctx, tx, a.push.OperationID, "rate limited", ps.now().Add(wait))
		}); rerr != nil {
			return rerr
		}
		return river.JobSnooze(wait)
	case isPermanent(err), errors.Is(err, lever.ErrInvalid), errors.Is(err, lever.ErrForbidden), errors.Is(err, lever.ErrNotFound):
		return ps.end(ctx, a, describeFailure(err), log)
	}
	if a.number >= ps.opts.MaxAttempts {
		return ps.end(ctx, a, "gave up after "+fmt.Sprint(a.number)+" attempts: "+describeFailure(err), log)
	}
	log.WarnContext(ctx, "push failed; it is tried again", slog.Any("error", err))
	if rerr := ps.store.RecordError(ctx, a.conn.ID, store.ErrorUnavailable, "a push to Lever failed and is tried again"); rerr != nil {
		return rerr
	}
	next := ps.now().Add(backoff(a.number))
	if rerr := ps.store.InTx(ctx, func(tx pgx.Tx) error {
		e := a.base
		e.Action, e.Outcome, e.Error = a.push.Kind, audit.OutcomeRetrying, describeFailure(err)
		if err := audit.Record(ctx, tx, e); err != nil {
			return err
		}
		return store.RetryPush(ctx, tx, a.push.OperationID, describeFailure(err), next)
	}); rerr != nil {
		return rerr
	}
	return river.JobSnooze(time.Until(next))
}

// backoff grows with the attempts, from a second to five minutes.
func backoff(attempt int) time.Duration {
	d := time.Duration(math.Pow(2, float64(min(attempt, 9)))) * 500 * time.Millisecond
	return min(d, 5*time.Minute)
}

// describeFailure says what failed without the provider's text.
func describeFailure(err error) string {
	var p *permanent
	var api *lever.APIError
	switch {
	case errors.As(err, &p):
		return p.reason
	case errors.As(err, &api):
		return fmt.Sprintf("Lever answered %s %s with HTTP %d", api.Method, api.Path, api.StatusCode)
	case errors.Is(err, lever.ErrUnavailable):
		return "Lever was unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "the attempt timed out"
	}
	return "the push could not be made"
}

// end fails a push for good and lets the candidate's next one go.
func (ps *Pushes) end(ctx context.Context, a attempt, reason string, log *slog.Logger) error {
	log.WarnContext(ctx, "push failed", slog.String("reason", reason))
	if err := ps.store.RecordError(ctx, a.conn.ID, store.ErrorFailed, "a push to Lever failed: "+reason); err != nil {
		return err
	}
	return ps.store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.LockCandidate(ctx, tx, a.push.ConnectionID, a.push.CandidateID); err != nil {
			return err
		}
		e := a.base
		e.Action, e.Outcome, e.Error = a.push.Kind, audit.OutcomeFailed, reason
		if err := audit.Record(ctx, tx, e); err != nil {
			return err
		}
		next, err := store.FinishPush(ctx, tx, a.push, store.PushFailed, "", reason)
		if err != nil || next == nil {
			return err
		}
		return ps.enqueue(ctx, tx, next.OperationID)
	})
}

// hold parks the push until reconnection, with one audit row for each
// time it starts waiting.
func (ps *Pushes) hold(ctx context.Context, tx pgx.Tx, a attempt, attempts int) error {
	cur, _, err := store.PushForWork(ctx, tx, a.push.OperationID)
	if err != nil {
		return err
	}
	if cur.State == store.PushHeld {
		return nil
	}
	e := a.base
	e.Action, e.Outcome, e.Error, e.Attempt = a.push.Kind, audit.OutcomeHeld, reasonHeld, max(attempts, 1)
	if err := audit.Record(ctx, tx, e); err != nil {
		return err
	}
	return store.HoldPush(ctx, tx, a.push.OperationID, reasonHeld)
}
