package store

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Timeline entry kinds of files.
const (
	KindFileAdded   = "file_added"
	KindFileDeleted = "file_deleted"
)

// File is the metadata of a file on a candidate; its bytes are in the blob
// bucket under BlobKey.
type File struct {
	ID          string
	OrgID       string
	CandidateID string
	// Kind is "resume" or "other".
	Kind string
	// Name is the sanitized file name.
	Name string
	// ContentType is what the content was sniffed as.
	ContentType    string
	Size           int64
	SHA256         []byte
	BlobKey        string
	UploaderUserID string
	CreatedAt      time.Time
}

// RemoveBlobs is called inside the transaction that deletes file rows,
// with their blob keys. It must not touch the bucket itself (no external
// call inside a transaction): it enqueues the removal, which then happens
// only if the deletion commits.
type RemoveBlobs func(ctx context.Context, tx pgx.Tx, keys []string) error

// FileChange is a file added (After) or deleted (Before), for the
// callback that publishes it.
type FileChange struct {
	Before, After *File
}

// PublishFile is called inside the transaction of each change of a file,
// last; its error rolls the change back.
type PublishFile func(ctx context.Context, tx pgx.Tx, c FileChange) error

const fileColumns = `id::text, org_id::text, candidate_id::text, kind, name, content_type, size_bytes, sha256, blob_key, uploader_user_id, created_at`

func scanFile(row pgx.Row) (File, error) {
	var f File
	err := row.Scan(&f.ID, &f.OrgID, &f.CandidateID, &f.Kind, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.BlobKey, &f.UploaderUserID, &f.CreatedAt)
	return f, postgres.MapError(err)
}

func fileDetail(f File) map[string]string {
	return map[string]string{"file_id": f.ID, "name": f.Name, "kind": f.Kind, "content_type": f.ContentType, "sha256": hex.EncodeToString(f.SHA256)}
}

// FileByContent returns the file of a candidate (a merged id: its
// survivor's) with this SHA-256, if it has one.
func (s *Store) FileByContent(ctx context.Context, orgID, candidateID string, sum []byte) (_ File, err error) {
	ctx, sp := span(ctx, "FileByContent")
	defer func() { end(sp, err) }()
	c, err := candidate(ctx, s.db, orgID, candidateID, "")
	if err != nil {
		return File{}, err
	}
	return scanFile(s.db.QueryRow(ctx, `SELECT `+fileColumns+` FROM candidate_files WHERE org_id = $1 AND candidate_id = $2 AND sha256 = $3
		ORDER BY created_at LIMIT 1`, orgID, c.ID, sum))
}

// CreateFile records a file whose bytes are stored already on a live
// candidate (a merged id: its survivor), with a "file_added" entry on its
// timeline. Under the candidate's row lock it first looks for a file with
// the same content: if there is one, it is returned with created false and
// nothing changes, so a retried upload makes one file. publish runs last,
// for a file created.
func (s *Store) CreateFile(ctx context.Context, orgID, candidateID string, f File, publish PublishFile) (_ File, created bool, err error) {
	ctx, sp := span(ctx, "CreateFile")
	defer func() { end(sp, err) }()
	var out File
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := candidate(ctx, tx, orgID, candidateID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if !c.Live() {
			return ErrNotLive
		}
		out, err = scanFile(tx.QueryRow(ctx, `SELECT `+fileColumns+` FROM candidate_files WHERE org_id = $1 AND candidate_id = $2 AND sha256 = $3
			ORDER BY created_at LIMIT 1`, orgID, c.ID, f.SHA256))
		if err == nil {
			return nil
		}
		if !errors.Is(err, postgres.ErrNotFound) {
			return err
		}
		if !isUUID(f.ID) {
			if f.ID, err = newID(); err != nil {
				return err
			}
		}
		out, err = scanFile(tx.QueryRow(ctx, `INSERT INTO candidate_files (id, org_id, candidate_id, kind, name, content_type, size_bytes, sha256, blob_key, uploader_user_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now()) RETURNING `+fileColumns,
			f.ID, orgID, c.ID, f.Kind, f.Name, f.ContentType, f.Size, f.SHA256, f.BlobKey, f.UploaderUserID))
		if err != nil {
			return err
		}
		created = true
		if err := addEntry(ctx, tx, orgID, c.ID, KindFileAdded, f.UploaderUserID, fileDetail(out)); err != nil {
			return err
		}
		return publish(ctx, tx, FileChange{After: &out})
	})
	if err != nil {
		return File{}, false, err
	}
	return out, created, nil
}

// lookupFile reads a file of a candidate of the organization; the id of a
// merged candidate reads its survivor's files (a merge moves them there).
func lookupFile(ctx context.Context, q querier, orgID, candidateID, id, lock string) (File, error) {
	if !isUUID(id) {
		return File{}, postgres.ErrNotFound
	}
	c, err := candidate(ctx, q, orgID, candidateID, "")
	if err != nil {
		return File{}, err
	}
	return scanFile(q.QueryRow(ctx, `SELECT `+fileColumns+` FROM candidate_files WHERE org_id = $1 AND candidate_id = $2 AND id = $3 `+lock, orgID, c.ID, id))
}

// File returns a file of a candidate.
func (s *Store) File(ctx context.Context, orgID, candidateID, id string) (_ File, err error) {
	ctx, sp := span(ctx, "File")
	defer func() { end(sp, err) }()
	return lookupFile(ctx, s.db, orgID, candidateID, id, "")
}

// FilePosition is where a page of files ended: the last file's time and
// id. A page token keeps these, not a row, so the next page is right even
// when that file is deleted in between.
type FilePosition struct {
	CreatedAt time.Time
	ID        string
}

// Files returns at most limit files of a candidate, newest first, after
// the position after (nil from the start), of one kind ("" for every kind).
func (s *Store) Files(ctx context.Context, orgID, candidateID, kind string, after *FilePosition, limit int) (_ []File, err error) {
	ctx, sp := span(ctx, "Files")
	defer func() { end(sp, err) }()
	c, err := candidate(ctx, s.db, orgID, candidateID, "")
	if err != nil {
		return nil, err
	}
	var afterTime *time.Time
	afterID := ""
	if after != nil {
		afterTime, afterID = &after.CreatedAt, after.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+fileColumns+` FROM candidate_files
		WHERE org_id = $1 AND candidate_id = $2 AND ($3 = '' OR kind = $3)
		  AND ($4::timestamptz IS NULL OR (created_at, id::text) < ($4, $5))
		ORDER BY created_at DESC, id DESC LIMIT $6`, orgID, c.ID, kind, afterTime, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, postgres.MapError(rows.Err())
}

// DeleteFile deletes a file's row under its lock, unless allow (which sees
// it) refuses, puts a "file_deleted" entry on the candidate's timeline and
// hands its blob key to remove and the change to publish in the same
// transaction.
func (s *Store) DeleteFile(ctx context.Context, orgID, candidateID, id, actor string, allow func(File) error, remove RemoveBlobs, publish PublishFile) (_ File, err error) {
	ctx, sp := span(ctx, "DeleteFile")
	defer func() { end(sp, err) }()
	var out File
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		f, err := lookupFile(ctx, tx, orgID, candidateID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := allow(f); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM candidate_files WHERE id = $1`, f.ID); err != nil {
			return postgres.MapError(err)
		}
		if err := addEntry(ctx, tx, orgID, f.CandidateID, KindFileDeleted, actor, fileDetail(f)); err != nil {
			return err
		}
		out = f
		if err := remove(ctx, tx, []string{f.BlobKey}); err != nil {
			return err
		}
		return publish(ctx, tx, FileChange{Before: &f})
	})
	return out, err
}

// NewID returns a new, time-ordered id for a row of this store, for a
// caller that must name a row before it writes it (a file's blob key).
func NewID() (string, error) { return newID() }
