package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

type world struct {
	pool   *pgxpool.Pool
	st     *store.Store
	dir    string
	bucket *blob.Bucket
	files  *files.Files
	jobs   *jobs.Client
}

// newWorld is the files domain on a fresh database and a file:// bucket in
// a temporary directory, with River working the removal and purge jobs as
// cmd/outreach wires them.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	st := store.New(pool)
	dir := t.TempDir()
	bucket, err := files.OpenBucket(t.Context(), (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bucket.Close() })
	log := logging.Discard()
	if err := jobs.Migrate(t.Context(), pool, "outreach", log); err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, files.NewRemoveBlobsWorker(bucket, log))
	river.AddWorker(workers, candidates.NewPurgeWorker(st, files.EnqueueRemovalFromJob, log))
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Workers: workers, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-jc.Stopped()
	})
	return &world{pool: pool, st: st, dir: dir, bucket: bucket, files: files.New(st, files.Options{Bucket: bucket, Jobs: jc, Publisher: storetest.Publisher(t, pool), Logger: log}), jobs: jc}
}

func (w *world) candidate(t *testing.T, org string) store.Candidate {
	t.Helper()
	c, err := w.st.CreateCandidate(t.Context(), store.Candidate{OrgID: org, Name: "Ada", Emails: []string{uuid.NewString() + "@example.com"}}, "u")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blobs lists what is in the bucket's directory (fileblob keeps an
// attributes file beside each blob, which counts as the blob's).
func (w *world) blobs(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(w.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".attrs") {
			return err
		}
		rel, err := filepath.Rel(w.dir, path)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func recruiter(org string) authz.Principal {
	return authz.Principal{Kind: authz.KindAPIToken, OrgID: org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
}

func wantField(t *testing.T, err error, field, reason string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field || ae.Reason != reason {
		t.Fatalf("want InvalidArgument on %s (reason %q), got %v", field, reason, err)
	}
}

func TestUploadKeepsTheBytesAndTheirChecksum(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	org := uuid.NewString()
	c := w.candidate(t, org)
	caller := recruiter(org)
	pdf := tinyPDF()
	// The declared name says DOCX; the content is a PDF, and wins.
	f, err := w.files.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "../Ada CV.docx"}, bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if f.ContentType != files.PDF.ContentType || f.Name != "Ada CV.pdf" || f.Size != int64(len(pdf)) || !bytes.Equal(f.SHA256, sum[:]) ||
		f.UploaderUserID != caller.UserID || f.BlobKey != files.BlobKey(org, f.ID) {
		t.Fatalf("uploaded %+v", f)
	}
	meta, r, err := w.files.Open(t.Context(), caller, c.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, pdf) || meta.ID != f.ID {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// A retry of the same upload is the same file: one blob, one row.
	again, err := w.files.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "retry.pdf"}, bytes.NewReader(pdf))
	if err != nil || again.ID != f.ID {
		t.Fatalf("retry: %+v %v", again, err)
	}
	if b := w.blobs(t); len(b) != 1 || b[0] != f.BlobKey {
		t.Fatalf("bucket holds %v, want only %s", b, f.BlobKey)
	}
	// Other services hear of it once (atsbridge attaches resumes).
	evs := storetest.Published(t, w.pool, files.EventCreated)
	if len(evs) != 1 || evs[0].GetAggregateId() != f.ID || evs[0].GetOrganizationId() != org {
		t.Fatalf("events %v", evs)
	}
	payload := &outreachv1.CandidateFile{}
	if err := evs[0].GetPayload().UnmarshalTo(payload); err != nil || payload.GetSha256() != hex.EncodeToString(sum[:]) ||
		payload.GetKind() != outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME || payload.GetCandidateId() != c.ID {
		t.Fatalf("payload %v (%v)", payload, err)
	}

	// Bytes changed in the bucket are not passed off as the file.
	if err := w.bucket.WriteAll(t.Context(), f.BlobKey, append([]byte{}, pdf[:len(pdf)-1]...), nil); err != nil {
		t.Fatal(err)
	}
	_, r, err = w.files.Open(t.Context(), caller, c.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, files.ErrCorrupt) {
		t.Fatalf("reading changed bytes: %v", err)
	}
	_ = r.Close()
}

// countingReader counts what is read of it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestRefusedUploadsLeaveNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	org := uuid.NewString()
	c := w.candidate(t, org)
	caller := recruiter(org)
	pe := append([]byte("MZ\x90\x00"), make([]byte, 1000)...)

	_, err := w.files.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "cv.pdf"}, bytes.NewReader(pe))
	wantField(t, err, "file", files.ReasonNotAccepted)
	if !strings.Contains(err.Error(), "a Windows program") {
		t.Fatalf("the refusal should say what it is: %v", err)
	}

	// Too large: refused having read one byte past the limit, no more.
	body := &countingReader{r: io.MultiReader(bytes.NewReader(tinyPDF()), endless{})}
	_, err = w.files.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "big.pdf"}, body)
	wantField(t, err, "file", files.ReasonTooLarge)
	if body.n != files.MaxSize+1 {
		t.Fatalf("read %d bytes of an endless body, want %d", body.n, files.MaxSize+1)
	}
	// Exactly the limit is accepted.
	exact := append(tinyPDF(), bytes.Repeat([]byte(" "), files.MaxSize-len(tinyPDF())-6)...)
	exact = append(exact, []byte("%%EOF\n")...)
	if _, err := w.files.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindOther, Filename: "exact.pdf"}, bytes.NewReader(exact)); err != nil {
		t.Fatalf("a file of exactly %d bytes: %v", len(exact), err)
	}

	// Bad metadata, another organization's candidate and a deleted
	// candidate are refused before a byte is read.
	for name, tc := range map[string]struct {
		caller authz.Principal
		u      files.Upload
		check  func(error)
	}{
		"kind": {caller, files.Upload{CandidateID: c.ID, Filename: "cv.pdf"}, func(err error) { wantField(t, err, "metadata.kind", "") }},
		"name": {caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: " / "}, func(err error) { wantField(t, err, "metadata.filename", "") }},
		"other org": {recruiter(uuid.NewString()), files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "cv.pdf"}, func(err error) {
			if !errors.Is(err, postgres.ErrNotFound) {
				t.Fatalf("other organization: %v", err)
			}
		}},
	} {
		body := &countingReader{r: bytes.NewReader(tinyPDF())}
		_, err := w.files.Upload(t.Context(), tc.caller, tc.u, body)
		tc.check(err)
		if body.n != 0 {
			t.Fatalf("%s: read %d bytes before refusing", name, body.n)
		}
	}
	if b := w.blobs(t); len(b) != 1 {
		t.Fatalf("the bucket holds %v; only the exact-size file should be there", b)
	}
	if evs := storetest.Published(t, w.pool, files.EventCreated); len(evs) != 1 {
		t.Fatalf("%d file.created events; only the exact-size file was stored", len(evs))
	}
	page, err := w.files.List(t.Context(), caller, files.Query{CandidateID: c.ID})
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("files %v %v", page.Files, err)
	}
}

func TestDeleteAndPurgeRemoveTheBytesByAJob(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	org := uuid.NewString()
	c := w.candidate(t, org)
	caller := recruiter(org)
	upload := func(cand string, b []byte) store.File {
		t.Helper()
		f, err := w.files.Upload(t.Context(), caller, files.Upload{CandidateID: cand, Kind: files.KindResume, Filename: "cv.docx"}, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	kept := upload(c.ID, tinyDOCX(t))
	gone := upload(c.ID, tinyPDF())

	// A Hiring Manager deletes only what they uploaded.
	hm := authz.Principal{Kind: authz.KindAPIToken, OrgID: org, UserID: uuid.NewString(), Role: authz.RoleHiringManager}
	if err := w.files.Delete(t.Context(), hm, c.ID, gone.ID); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("hiring manager deleting another's file: %v", err)
	}
	if err := w.files.Delete(t.Context(), caller, c.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.files.Get(t.Context(), caller, c.ID, gone.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("deleted file: %v", err)
	}
	if evs := storetest.Published(t, w.pool, files.EventDeleted); len(evs) != 1 || evs[0].GetAggregateId() != gone.ID {
		t.Fatalf("file.deleted events %v", evs)
	}
	waitBlobs(t, w, kept.BlobKey)

	// A purged candidate's files go with it, the bytes by a job the purge
	// enqueues.
	other := w.candidate(t, org)
	doomed := upload(other.ID, compoundFile("WordDocument", wordFIB))
	if _, err := w.st.DeleteCandidate(t.Context(), org, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(t.Context(), `UPDATE candidates SET deleted_at = now() - interval '31 days' WHERE id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}
	waitBlobs(t, w, kept.BlobKey, doomed.BlobKey)
	if _, err := w.jobs.Insert(t.Context(), candidates.PurgeArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	waitBlobs(t, w, kept.BlobKey)
}

func waitBlobs(t *testing.T, w *world, want ...string) {
	t.Helper()
	poll.Until(t, 20*time.Second, func() error {
		got := w.blobs(t)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("bucket holds %v, want %v", got, want)
		}
		return nil
	})
}

// blockingReader signals its first read, then waits for release before
// giving its content.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	r       io.Reader
	once    bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.once {
		b.once = true
		close(b.started)
		<-b.release
	}
	return b.r.Read(p)
}

// Uploads beyond the replica's bound wait for a turn, reading nothing, and
// give up with their deadline.
func TestUploadsWaitForATurn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	one := files.New(w.st, files.Options{Bucket: w.bucket, Jobs: w.jobs, Publisher: storetest.Publisher(t, w.pool), MaxConcurrentUploads: 1})
	org := uuid.NewString()
	c := w.candidate(t, org)
	caller := recruiter(org)
	first := &blockingReader{started: make(chan struct{}), release: make(chan struct{}), r: bytes.NewReader(tinyPDF())}
	var once sync.Once
	release := func() { once.Do(func() { close(first.release) }) }
	t.Cleanup(release) // a failure below must not leave the first upload waiting
	done := make(chan error, 1)
	go func() {
		_, err := one.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "a.pdf"}, first)
		done <- err
	}()
	<-first.started // the first upload holds the only turn

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	second := &countingReader{r: bytes.NewReader(tinyDOCX(t))}
	if _, err := one.Upload(ctx, caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "b.docx"}, second); !errors.Is(err, context.DeadlineExceeded) || second.n != 0 {
		t.Fatalf("an upload without a turn: %v, %d bytes read", err, second.n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("the first upload: %v", err)
	}
	// The turn is free again.
	if _, err := one.Upload(t.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "b.docx"}, bytes.NewReader(tinyDOCX(t))); err != nil {
		t.Fatal(err)
	}
}
