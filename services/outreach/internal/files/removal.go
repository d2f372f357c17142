package files

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// RemoveBlobsKind is the job that removes deleted files' bytes.
const RemoveBlobsKind = "files_remove_blobs"

// RemoveBlobsArgs are the arguments of a files_remove_blobs job.
type RemoveBlobsArgs struct {
	Keys []string `json:"keys"`
}

// Kind implements river.JobArgs.
func (RemoveBlobsArgs) Kind() string { return RemoveBlobsKind }

// EnqueueRemoval is the store.RemoveBlobs that enqueues a removal job with
// jobs, in the transaction that deletes the rows.
func EnqueueRemoval(jobs JobInserter) store.RemoveBlobs {
	return func(ctx context.Context, tx pgx.Tx, keys []string) error {
		if _, err := jobs.InsertTx(ctx, tx, RemoveBlobsArgs{Keys: keys}, nil); err != nil {
			return fmt.Errorf("files: enqueue removal of %d blobs: %w", len(keys), err)
		}
		return nil
	}
}

// EnqueueRemovalFromJob is the store.RemoveBlobs for a River worker (the
// candidates purge): it enqueues with the client working the current job.
func EnqueueRemovalFromJob(ctx context.Context, tx pgx.Tx, keys []string) error {
	c, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("files: enqueue removal outside a job: %w", err)
	}
	return EnqueueRemoval(c)(ctx, tx, keys)
}

// RemoveBlobsWorker removes the bytes of deleted files. Removing a key
// that is gone already succeeds, so a retried job is harmless.
type RemoveBlobsWorker struct {
	river.WorkerDefaults[RemoveBlobsArgs]

	bucket *blob.Bucket
	log    *slog.Logger
}

// NewRemoveBlobsWorker returns the worker over bucket; log may be nil.
func NewRemoveBlobsWorker(bucket *blob.Bucket, log *slog.Logger) *RemoveBlobsWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RemoveBlobsWorker{bucket: bucket, log: log}
}

// Work removes every key; a failure is retried by River with what is left.
func (w *RemoveBlobsWorker) Work(ctx context.Context, job *river.Job[RemoveBlobsArgs]) error {
	for _, key := range job.Args.Keys {
		if err := w.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			w.log.WarnContext(ctx, "files: removing a deleted file's bytes failed", slog.String("blob_key", key), slog.Any("error", err))
			return fmt.Errorf("files: remove %s: %w", key, err)
		}
	}
	return nil
}
