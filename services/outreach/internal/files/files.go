// Package files holds the rules of files on candidates (resumes and
// others): PDF, DOC or DOCX only, decided from the content; at most
// MaxSize bytes, refused without reading past the limit; nothing kept of a
// refused file; the bytes in a gocloud.dev/blob bucket, the metadata and
// a SHA-256 in Postgres (ADR 17).
package files

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is the bucket's transfer check, not a security measure
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gocloud.dev/blob"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Limits.
const (
	// MaxSize is the largest file accepted, in bytes.
	MaxSize = 10 * 1024 * 1024
	// DefaultMaxConcurrentUploads bounds the uploads a replica holds in
	// memory at once (each up to MaxSize); more wait their turn.
	DefaultMaxConcurrentUploads = 8
	DefaultPageSize             = 50
	MaxPageSize                 = 200
)

// Kinds of files.
const (
	KindResume = "resume"
	KindOther  = "other"
)

// Reasons of refusals, in the error's ErrorInfo.
const (
	ReasonTooLarge    = "file_too_large"
	ReasonNotAccepted = "file_type_not_accepted"
)

// Store is what the package needs of the store.
type Store interface {
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	FileByContent(ctx context.Context, orgID, candidateID string, sum []byte) (store.File, error)
	CreateFile(ctx context.Context, orgID, candidateID string, f store.File, publish store.PublishFile) (store.File, bool, error)
	File(ctx context.Context, orgID, candidateID, id string) (store.File, error)
	Files(ctx context.Context, orgID, candidateID, kind string, after *store.FilePosition, limit int) ([]store.File, error)
	DeleteFile(ctx context.Context, orgID, candidateID, id, actor string, allow func(store.File) error, remove store.RemoveBlobs, publish store.PublishFile) (store.File, error)
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Types of the events files publish: atsbridge attaches a resume to an
// application (DESIGN §8), the payload being the file's metadata
// (outreachv1.CandidateFile).
const (
	EventCreated = "file.created"
	EventDeleted = "file.deleted"
)

// JobInserter enqueues a job in the caller's transaction (River's client).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Options configures New.
type Options struct {
	// Bucket holds the files' bytes.
	Bucket *blob.Bucket
	// Jobs enqueues the removal of a deleted file's bytes.
	Jobs JobInserter
	// Publisher tells other services of files added and deleted.
	Publisher Publisher
	// MaxConcurrentUploads: DefaultMaxConcurrentUploads when zero.
	MaxConcurrentUploads int
	Logger               *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Files runs the rules over the store and the bucket.
type Files struct {
	store  Store
	bucket *blob.Bucket
	jobs   JobInserter
	pub    Publisher
	slots  chan struct{}
	// buffers hold uploads while they are checked: MaxSize+1 bytes each,
	// at most one per slot in use, reused rather than grown per upload.
	buffers *sync.Pool
	log     *slog.Logger
	now     func() time.Time
}

// New returns the rules over st.
func New(st Store, opts Options) *Files {
	if opts.MaxConcurrentUploads <= 0 {
		opts.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	buffers := &sync.Pool{New: func() any { b := make([]byte, MaxSize+1); return &b }}
	return &Files{buffers: buffers, store: st, bucket: opts.Bucket, jobs: opts.Jobs, pub: opts.Publisher, slots: make(chan struct{}, opts.MaxConcurrentUploads), log: opts.Logger, now: opts.Now}
}

// Upload is what an upload says before its bytes.
type Upload struct {
	CandidateID string
	// Kind is KindResume or KindOther.
	Kind string
	// Filename is the client's name for it; the content decides its type.
	Filename string
}

// CheckUpload checks an upload's metadata, before any byte is read, and
// returns it with the name cleaned. Fields are named as in the RPC.
func CheckUpload(u Upload) (Upload, error) {
	if u.Kind != KindResume && u.Kind != KindOther {
		return Upload{}, apperr.InvalidArgument("metadata.kind", "must be resume or other")
	}
	name, err := CleanName("metadata.filename", u.Filename)
	if err != nil {
		return Upload{}, err
	}
	u.Filename = name
	return u, nil
}

// TooLarge is the refusal of content over MaxSize.
func TooLarge() error {
	return &apperr.Error{Kind: apperr.KindInvalidArgument, Field: "file", Reason: ReasonTooLarge,
		Public: fmt.Sprintf("must be at most %d bytes (10 MB)", MaxSize)}
}

func notAccepted(err *RefusedError) error {
	return &apperr.Error{Kind: apperr.KindInvalidArgument, Field: "file", Reason: ReasonNotAccepted, Public: err.Error()}
}

var errCandidateNotLive = apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted or merged")

// Upload stores a file of the caller on a candidate. The candidate and the
// metadata are checked before the content is read; the content is read
// into memory up to MaxSize+1 bytes (never further), its type sniffed,
// and only then are the bytes written to the bucket and the metadata to
// Postgres. A refused file leaves nothing behind. The same content
// uploaded to the same candidate again returns the file stored the first
// time (so a retried upload makes one file).
func (f *Files) Upload(ctx context.Context, caller authz.Principal, u Upload, content io.Reader) (store.File, error) {
	u, err := CheckUpload(u)
	if err != nil {
		return store.File{}, err
	}
	c, err := f.store.Candidate(ctx, caller.OrgID, u.CandidateID)
	if err != nil {
		return store.File{}, err
	}
	if !c.Live() {
		return store.File{}, errCandidateNotLive
	}
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	case <-ctx.Done():
		return store.File{}, ctx.Err()
	}
	buf := f.buffers.Get().(*[]byte) //nolint:forcetypeassert // the pool holds nothing else
	defer f.buffers.Put(buf)
	n, err := io.ReadFull(content, *buf)
	switch {
	case n > MaxSize:
		return store.File{}, TooLarge()
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		return store.File{}, err
	}
	data := (*buf)[:n]
	t, err := Sniff(data)
	var refused *RefusedError
	if errors.As(err, &refused) {
		return store.File{}, notAccepted(refused)
	}
	if err != nil {
		return store.File{}, err
	}
	sum := sha256.Sum256(data)
	if existing, err := f.store.FileByContent(ctx, caller.OrgID, c.ID, sum[:]); err == nil {
		return existing, nil
	} else if !errors.Is(err, postgres.ErrNotFound) {
		return store.File{}, err
	}
	id, err := store.NewID()
	if err != nil {
		return store.File{}, err
	}
	rec := store.File{ID: id, Kind: u.Kind, Name: withExtension(u.Filename, t), ContentType: t.ContentType, Size: int64(len(data)),
		SHA256: sum[:], BlobKey: BlobKey(caller.OrgID, id), UploaderUserID: caller.UserID}
	md5sum := md5.Sum(data) //nolint:gosec // see the import
	if err := f.bucket.WriteAll(ctx, rec.BlobKey, data, &blob.WriterOptions{ContentType: t.ContentType, ContentMD5: md5sum[:],
		ContentDisposition: "attachment"}); err != nil {
		return store.File{}, fmt.Errorf("files: write %s: %w", rec.BlobKey, err)
	}
	out, created, err := f.store.CreateFile(ctx, caller.OrgID, c.ID, rec, f.publish)
	if err != nil || !created {
		// The row was not written (or another upload of the same content
		// won): the bytes just written belong to nothing.
		f.discard(ctx, rec.BlobKey)
	}
	if errors.Is(err, store.ErrNotLive) {
		return store.File{}, errCandidateNotLive.Wrap(err)
	}
	return out, err
}

// discard removes bytes no row points to. Should it fail, they stay as an
// orphan under a key nothing names (ADR 17 says how to find those).
func (f *Files) discard(ctx context.Context, key string) {
	if err := f.bucket.Delete(context.WithoutCancel(ctx), key); err != nil {
		f.log.WarnContext(ctx, "files: could not delete the bytes of a file that was not recorded", slog.String("blob_key", key), slog.Any("error", err))
	}
}

// BlobKey is where a file's bytes are: by organization, then by file id.
// The candidate is not in it, so a merge moves no bytes, and an
// organization's files share one prefix.
func BlobKey(orgID, fileID string) string { return "orgs/" + orgID + "/files/" + fileID }

// Get returns a file's metadata.
func (f *Files) Get(ctx context.Context, caller authz.Principal, candidateID, id string) (store.File, error) {
	return f.store.File(ctx, caller.OrgID, candidateID, id)
}

// Open returns a file's metadata and a reader of its bytes, which the
// caller closes.
func (f *Files) Open(ctx context.Context, caller authz.Principal, candidateID, id string) (store.File, io.ReadCloser, error) {
	rec, err := f.store.File(ctx, caller.OrgID, candidateID, id)
	if err != nil {
		return store.File{}, nil, err
	}
	r, err := f.bucket.NewReader(ctx, rec.BlobKey, nil)
	if err != nil {
		return store.File{}, nil, fmt.Errorf("files: open %s: %w", rec.BlobKey, err)
	}
	return rec, &verifiedReader{r: r, h: sha256.New(), want: rec}, nil
}

// ErrCorrupt is bytes in the bucket that are not the file recorded: a
// different size or checksum.
var ErrCorrupt = errors.New("files: stored bytes do not match the file's size and checksum")

// verifiedReader reads a file's bytes and, at their end, checks them
// against its size and SHA-256: a download of bytes that changed in the
// bucket ends in an error instead of passing for the file.
type verifiedReader struct {
	r    io.ReadCloser
	h    hash.Hash
	n    int64
	want store.File
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.want.Size {
		return n, fmt.Errorf("%w (%s is longer than %d bytes)", ErrCorrupt, v.want.BlobKey, v.want.Size)
	}
	if errors.Is(err, io.EOF) && (v.n != v.want.Size || !bytes.Equal(v.h.Sum(nil), v.want.SHA256)) {
		return n, fmt.Errorf("%w (%s)", ErrCorrupt, v.want.BlobKey)
	}
	return n, err
}

func (v *verifiedReader) Close() error { return v.r.Close() }

// Query is a page of a candidate's files.
type Query struct {
	CandidateID string
	// Kind filters by kind; "" is every kind.
	Kind      string
	PageSize  int
	PageToken string
}

// Page is a page of files; NextPageToken is empty on the last one.
type Page struct {
	Files         []store.File
	NextPageToken string
}

type pageToken struct {
	CandidateID string    `json:"c"`
	Kind        string    `json:"k"`
	CreatedAt   time.Time `json:"t"`
	ID          string    `json:"i"`
}

// List returns a page of a candidate's files, newest first.
func (f *Files) List(ctx context.Context, caller authz.Principal, q Query) (Page, error) {
	if q.Kind != "" && q.Kind != KindResume && q.Kind != KindOther {
		return Page{}, apperr.InvalidArgument("kind", "must be resume or other")
	}
	size, err := paging.Size(q.PageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	c, err := f.store.Candidate(ctx, caller.OrgID, q.CandidateID)
	if err != nil {
		return Page{}, err
	}
	var after *store.FilePosition
	if q.PageToken != "" {
		tok, err := paging.Decode[pageToken](q.PageToken)
		if err != nil || tok.CandidateID != c.ID || tok.Kind != q.Kind {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
		}
		after = &store.FilePosition{CreatedAt: tok.CreatedAt, ID: tok.ID}
	}
	rows, err := f.store.Files(ctx, caller.OrgID, c.ID, q.Kind, after, size+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Files: rows}
	if len(rows) > size {
		page.Files = rows[:size]
		last := page.Files[size-1]
		if page.NextPageToken, err = paging.Encode(pageToken{CandidateID: c.ID, Kind: q.Kind, CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

var errNotTheUploader = apperr.PermissionDenied("only the file's uploader or a recruiter may delete it")

// Delete deletes a file: Recruiters and above any file, others (Hiring
// Managers) the files they uploaded. Its bytes are removed by a job
// enqueued in the same transaction, once the deletion has committed.
func (f *Files) Delete(ctx context.Context, caller authz.Principal, candidateID, id string) error {
	allow := func(rec store.File) error {
		if caller.Role.AtLeast(authz.RoleRecruiter) || (rec.UploaderUserID != "" && rec.UploaderUserID == caller.UserID) {
			return nil
		}
		return errNotTheUploader
	}
	_, err := f.store.DeleteFile(ctx, caller.OrgID, candidateID, id, caller.UserID, allow, EnqueueRemoval(f.jobs), f.publish)
	return err
}

// publish is the store's callback: a file added or deleted, in the
// change's transaction. A file is never changed, so its events need no
// order beyond created before deleted, which the outbox keeps (version 0,
// as notes' creations and deletions).
func (f *Files) publish(ctx context.Context, tx pgx.Tx, c store.FileChange) error {
	typ, rec := EventCreated, c.After
	if rec == nil {
		typ, rec = EventDeleted, c.Before
	}
	kind := outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER
	if rec.Kind == KindResume {
		kind = outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME
	}
	payload := &outreachv1.CandidateFile{Id: rec.ID, CandidateId: rec.CandidateID, Kind: kind, Filename: rec.Name, ContentType: rec.ContentType,
		SizeBytes: rec.Size, Sha256: hex.EncodeToString(rec.SHA256), UploaderUserId: rec.UploaderUserID, CreateTime: timestamppb.New(rec.CreatedAt)}
	_, err := f.pub.Publish(ctx, tx, events.Event{Type: typ, OrganizationID: rec.OrgID, AggregateID: rec.ID, OccurredAt: f.now(), Payload: payload})
	return err
}
