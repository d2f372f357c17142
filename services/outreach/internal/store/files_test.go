package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// mustCreateFile records a file whose content is the text given.
func mustCreateFile(t *testing.T, st *store.Store, org, candidateID, content string) store.File {
	t.Helper()
	id, err := store.NewID()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	f, created, err := st.CreateFile(t.Context(), org, candidateID, store.File{ID: id, Kind: "resume", Name: "cv.pdf",
		ContentType: "application/pdf", Size: int64(len(content)), SHA256: sum[:], BlobKey: "orgs/" + org + "/files/" + id, UploaderUserID: "u"}, noFileEvents)
	if err != nil || !created {
		t.Fatalf("create file: %v (created %v)", err, created)
	}
	return f
}

func noFileEvents(context.Context, pgx.Tx, store.FileChange) error { return nil }

func noRemoval(t *testing.T) store.RemoveBlobs {
	return func(context.Context, pgx.Tx, []string) error {
		t.Error("nothing should be removed")
		return nil
	}
}

func TestFilesAreKeptPerCandidateAndOrganization(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.New(t))
	org, other := newOrg(), newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	f := mustCreateFile(t, st, org, c.ID, "one")
	if f.CandidateID != c.ID || f.OrgID != org || f.Size != 3 || f.CreatedAt.IsZero() {
		t.Fatalf("created %+v", f)
	}

	// The same content again is the same file: no second row, no second
	// timeline entry.
	again, created, err := st.CreateFile(t.Context(), org, c.ID, store.File{ID: "", Kind: "resume", Name: "other.pdf", ContentType: "application/pdf",
		Size: 3, SHA256: f.SHA256, BlobKey: "orgs/" + org + "/files/another", UploaderUserID: "u"}, noFileEvents)
	if err != nil || created || again.ID != f.ID {
		t.Fatalf("same content again: %+v created=%v %v", again, created, err)
	}
	if got, err := st.FileByContent(t.Context(), org, c.ID, f.SHA256); err != nil || got.ID != f.ID {
		t.Fatalf("by content: %+v %v", got, err)
	}

	got, err := st.File(t.Context(), org, c.ID, f.ID)
	if err != nil || got.BlobKey != f.BlobKey || !slices.Equal(got.SHA256, f.SHA256) {
		t.Fatalf("get: %+v %v", got, err)
	}
	// Another organization's candidate or file, or a file asked for under
	// another candidate, is not found.
	c2 := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Bob", Emails: []string{"bob@example.com"}})
	for _, q := range [][2]string{{other, c.ID}, {org, c2.ID}} {
		if _, err := st.File(t.Context(), q[0], q[1], f.ID); !errors.Is(err, postgres.ErrNotFound) {
			t.Fatalf("file via %v: %v", q, err)
		}
	}
	if _, err := st.Files(t.Context(), other, c.ID, "", nil, 10); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("list from another organization: %v", err)
	}
	if _, err := st.DeleteFile(t.Context(), other, c.ID, f.ID, "u", func(store.File) error { return nil }, noRemoval(t), noFileEvents); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("delete from another organization: %v", err)
	}

	entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{}, []string{store.KindFileAdded}, "", 10)
	if err != nil || len(entries) != 1 || entries[0].Detail["file_id"] != f.ID || entries[0].Detail["name"] != "cv.pdf" {
		t.Fatalf("timeline: %+v %v", entries, err)
	}
}

func TestFilesArePagedNewestFirst(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.New(t))
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	var made []string
	for _, content := range []string{"a", "b", "c"} {
		made = append(made, mustCreateFile(t, st, org, c.ID, content).ID)
	}
	slices.Reverse(made)
	page, err := st.Files(t.Context(), org, c.ID, "", nil, 2)
	if err != nil || len(page) != 2 || page[0].ID != made[0] || page[1].ID != made[1] {
		t.Fatalf("first page %v %v", page, err)
	}
	// The position stays good when its file is deleted.
	removed := []string{}
	if _, err := st.DeleteFile(t.Context(), org, c.ID, page[1].ID, "u", func(store.File) error { return nil }, func(_ context.Context, _ pgx.Tx, keys []string) error {
		removed = append(removed, keys...)
		return nil
	}, noFileEvents); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{page[1].BlobKey}) {
		t.Fatalf("removal of %v", removed)
	}
	rest, err := st.Files(t.Context(), org, c.ID, "", &store.FilePosition{CreatedAt: page[1].CreatedAt, ID: page[1].ID}, 2)
	if err != nil || len(rest) != 1 || rest[0].ID != made[2] {
		t.Fatalf("second page %v %v", rest, err)
	}
	if others, err := st.Files(t.Context(), org, c.ID, "other", nil, 10); err != nil || len(others) != 0 {
		t.Fatalf("kind other: %v %v", others, err)
	}
	entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{}, []string{store.KindFileDeleted}, "", 10)
	if err != nil || len(entries) != 1 || entries[0].Detail["file_id"] != page[1].ID {
		t.Fatalf("timeline: %+v %v", entries, err)
	}
}

func TestDeleteFileKeepsItWhenRefusedOrWhenRemovalFails(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.New(t))
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	f := mustCreateFile(t, st, org, c.ID, "x")
	refused := errors.New("not yours")
	if _, err := st.DeleteFile(t.Context(), org, c.ID, f.ID, "u", func(store.File) error { return refused }, noRemoval(t), noFileEvents); !errors.Is(err, refused) {
		t.Fatalf("refused delete: %v", err)
	}
	failed := errors.New("queue down")
	if _, err := st.DeleteFile(t.Context(), org, c.ID, f.ID, "u", func(store.File) error { return nil },
		func(context.Context, pgx.Tx, []string) error { return failed }, noFileEvents); !errors.Is(err, failed) {
		t.Fatalf("delete whose removal could not be enqueued: %v", err)
	}
	if _, err := st.File(t.Context(), org, c.ID, f.ID); err != nil {
		t.Fatalf("the file should still be there: %v", err)
	}
}

func TestMergeMovesFilesToTheSurvivor(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.New(t))
	org := newOrg()
	survivor := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	merged := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A. Lovelace", Emails: []string{"lovelace@example.com"}})
	mustCreateFile(t, st, org, survivor.ID, "same")
	moved := mustCreateFile(t, st, org, merged.ID, "other")
	dup := mustCreateFile(t, st, org, merged.ID, "same")
	if _, err := st.MergeCandidates(t.Context(), org, survivor.ID, merged.ID, "u", func(s, m store.Candidate) store.Candidate {
		s.Emails = append(s.Emails, m.Emails...)
		return s
	}); err != nil {
		t.Fatal(err)
	}
	files, err := st.Files(t.Context(), org, survivor.ID, "", nil, 10)
	if err != nil || len(files) != 3 {
		t.Fatalf("survivor's files %v %v", files, err)
	}
	for _, f := range files {
		if f.CandidateID != survivor.ID {
			t.Fatalf("file %s is still on %s", f.ID, f.CandidateID)
		}
	}
	// The merged id reads the survivor's files.
	for _, id := range []string{moved.ID, dup.ID} {
		if _, err := st.File(t.Context(), org, merged.ID, id); err != nil {
			t.Fatalf("file %s through the merged id: %v", id, err)
		}
	}
}

func TestCreateFileRefusesACandidateThatIsNotLive(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.New(t))
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	if _, err := st.DeleteCandidate(t.Context(), org, c.ID); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x"))
	if _, _, err := st.CreateFile(t.Context(), org, c.ID, store.File{Kind: "resume", Name: "cv.pdf", ContentType: "application/pdf", Size: 1,
		SHA256: sum[:], BlobKey: "k", UploaderUserID: "u"}, noFileEvents); !errors.Is(err, store.ErrNotLive) {
		t.Fatalf("file on a deleted candidate: %v", err)
	}
}
