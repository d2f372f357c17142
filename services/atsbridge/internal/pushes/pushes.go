// Package pushes writes Tandem's changes into the ATS, exactly once and in
// order (issue 15 item 4, LV-4, LV-5, LV-6).
//
// Every write starts as a row of ats_pushes, added in the transaction of
// the event that asks for it (enrollment.created, candidate.stage_changed)
// under an operation id derived from that event, so a redelivered event
// finds its row instead of adding a second. A River job works each row:
//
//  1. Under the candidate's lock it checks that the push is the
//     candidate's next (an earlier one goes first and enqueues this one
//     when it ends), that the connection may call the ATS (a connection
//     that is reconnect_required or disconnected holds the push, and
//     ReleaseHeld lets it go after reconnection), and claims the push for
//     the job until a lease runs out.
//  2. It reads what it writes (the candidate from outreach, the recruiter
//     from identity, the mapping) and calls the ATS outside any
//     transaction. Each call is safe to repeat: a create searches first
//     (Lever de-duplicates by e-mail, so the e-mail and the posting find
//     the opportunity an earlier attempt made), a note is looked for by
//     its text and time, a move to where the opportunity is changes
//     nothing.
//  3. Under the lock again it stores the result (the link, the remote id,
//     the stage written) with the push's completion, its audit rows and
//     its events, and enqueues the candidate's next push.
//
// A process killed between 2 and 3 leaves a claimed push whose lease runs
// out; the sweeper enqueues it again, and step 2's searches find what the
// killed attempt wrote.
//
// Echoes: before a stage move is sent, the link's pending place is set to
// the target, so the webhook that reports the move is recognised as
// Tandem's own (package inbound); a stage change that came from the ATS is
// never pushed back (its event says source ATS).
package pushes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/events"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Kinds of pushes.
const (
	// KindLinkCandidate finds or creates the candidate's opportunity on
	// the flow's posting and sends its public notes.
	KindLinkCandidate = "link_candidate"
	// KindMoveStage moves the candidate's opportunities to the place its
	// new Tandem stage maps to.
	KindMoveStage = "move_stage"
	// KindAddNote sends a public note to the candidate's opportunities.
	KindAddNote = "add_note"
)

// Event types the pushes act on, and the one they publish.
const (
	EventEnrollmentCreated = "enrollment.created"
	EventStageChanged      = "candidate.stage_changed"
	EventNoteCreated       = "note.created"
	EventLinked            = "ats.linked"
)

// Defaults of Options.
const (
	DefaultClaim       = 2 * time.Minute
	DefaultMaxAttempts = 25
	// DefaultSweepEvery is how often stranded pushes are looked for.
	DefaultSweepEvery = 15 * time.Second
	// Queue is the pushes' River queue, apart from the imports.
	Queue = "ats_pushes"
)

// Store is what the pushes need of the store besides transactions.
type Store interface {
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	PushConnectionKey(ctx context.Context, operationID string) (connectionID, candidateID string, err error)
	UserByEmail(ctx context.Context, connectionID, email string) (store.User, error)
	Mapping(ctx context.Context, connectionID string, version int) (store.Mapping, error)
	MarkRefused(ctx context.Context, id string, generation int64, reason string) (bool, error)
	RecordError(ctx context.Context, id, kind, description string) error
	StrandedPushes(ctx context.Context, idle time.Duration, limit int) ([]string, error)
}

// ATS is the ATS's API the pushes write with (the Lever client).
type ATS interface {
	CreateOpportunity(ctx context.Context, a lever.Auth, asUserID string, in lever.NewOpportunity) (lever.Opportunity, error)
	OpportunitiesByEmail(ctx context.Context, a lever.Auth, email, postingID string) ([]lever.Opportunity, error)
	ChangeStage(ctx context.Context, a lever.Auth, id, stageID, asUserID string) (lever.Opportunity, error)
	Archive(ctx context.Context, a lever.Auth, id, reasonID, asUserID string) (lever.Opportunity, error)
	Notes(ctx context.Context, a lever.Auth, id string) ([]lever.Note, error)
	AddNote(ctx context.Context, a lever.Auth, id, asUserID, value string, createdAtMs int64) (string, error)
	UserByEmail(ctx context.Context, a lever.Auth, email string) (lever.User, error)
}

// Candidate is what a push writes of a Tandem candidate.
type Candidate struct {
	ID, Name, Headline, Location, Phone string
	Emails, Links                       []string
	StageID                             string
	// Notes are the public ones, oldest first.
	Notes []Note
	// Job is the job asked for, when one was.
	Job Job
}

// Note is a public note.
type Note struct {
	ID, Body  string
	CreatedAt time.Time
}

// Job is a Tandem job and where it comes from.
type Job struct {
	ID, Source, ExternalID string
}

// ErrGone is a candidate or job that is no longer there (deleted, or not
// the organization's).
var ErrGone = errors.New("pushes: the candidate or the job is gone")

// Candidates reads candidates from outreach.
type Candidates interface {
	CandidateForSync(ctx context.Context, orgID, candidateID, jobID string) (Candidate, error)
}

// Users reads Tandem users from identity: the recruiter a push acts for.
type Users interface {
	UserEmail(ctx context.Context, orgID, userID string) (string, error)
}

// AccessTokenGetter is identity's GetAccessToken.
type AccessTokenGetter interface {
	GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error)
}

// Publisher publishes an event in the caller's transaction.
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// JobInserter enqueues a job in the caller's transaction (River).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Options are the pushes' settings.
type Options struct {
	// Claim is how long a job owns the push it works; a process killed
	// mid-push gives it up after this (DefaultClaim). A push's job times
	// out well before its claim ends.
	Claim time.Duration
	// MaxAttempts bounds the attempts of one push at transient failures
	// (DefaultMaxAttempts); after the last the push fails.
	MaxAttempts int
	Logger      *slog.Logger
}

// Pushes adds pushes from events and works them.
type Pushes struct {
	store  Store
	jobs   JobInserter
	pub    Publisher
	tokens AccessTokenGetter
	ats    ATS
	cands  Candidates
	users  Users
	opts   Options
	log    *slog.Logger
	now    func() time.Time
}

// New returns the pushes. jobs may be set later with SetJobs (the River
// client needs the worker first).
func New(st Store, tokens AccessTokenGetter, ats ATS, cands Candidates, users Users, pub Publisher, opts Options) *Pushes {
	if opts.Claim <= 0 {
		opts.Claim = DefaultClaim
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pushes{store: st, pub: pub, tokens: tokens, ats: ats, cands: cands, users: users, opts: opts, log: opts.Logger, now: time.Now}
}

// SetJobs sets the River client the pushes enqueue with.
func (ps *Pushes) SetJobs(j JobInserter) { ps.jobs = j }

// Args are a push's job: its operation id.
type Args struct {
	OperationID string `json:"operation_id"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "atsbridge_push" }

// InsertOpts puts pushes on their queue. A push may have more than one job
// (the sweeper's after a crash): the claim keeps them from writing side by
// side, and a finished push makes its other jobs end at once.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 1000}
}

func (ps *Pushes) enqueue(ctx context.Context, tx pgx.Tx, operationIDs ...string) error {
	if ps.jobs == nil {
		return errors.New("pushes: no job client")
	}
	for _, id := range operationIDs {
		if _, err := ps.jobs.InsertTx(ctx, tx, Args{OperationID: id}, nil); err != nil {
			return fmt.Errorf("pushes: enqueue %s: %w", id, err)
		}
	}
	return nil
}

// add stores p and enqueues it when it is its candidate's next push.
func (ps *Pushes) add(ctx context.Context, tx pgx.Tx, p store.Push) error {
	added, next, err := store.AddPush(ctx, tx, p)
	if err != nil {
		return fmt.Errorf("pushes: add %s: %w", p.OperationID, err)
	}
	if !added {
		ps.log.InfoContext(ctx, "push exists already", slog.String("operation_id", p.OperationID))
		return nil
	}
	if next {
		return ps.enqueue(ctx, tx, p.OperationID)
	}
	return nil
}

// ReleaseHeld lets the connection's held pushes go, in tx: the connection
// can call the ATS again (connections calls it on reconnection).
func (ps *Pushes) ReleaseHeld(ctx context.Context, tx pgx.Tx, connectionID string) error {
	heads, err := store.ReleaseHeld(ctx, tx, connectionID)
	if err != nil {
		return fmt.Errorf("pushes: release held pushes: %w", err)
	}
	if len(heads) > 0 {
		ps.log.InfoContext(ctx, "held pushes released", slog.String("connection_id", connectionID), slog.Int("candidates", len(heads)))
	}
	return ps.enqueue(ctx, tx, heads...)
}

func payload(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// The payloads are plain structs of strings and numbers.
		panic(err)
	}
	return b
}
