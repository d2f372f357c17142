package files

import (
	"context"
	"errors"
	"fmt"

	"gocloud.dev/blob"
	// The drivers a bucket URL may name: file:// for make run and tests,
	// s3:// (AWS or any S3-compatible store, with ?endpoint=) in
	// production.
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob"
)

// OpenBucket opens the bucket a URL names (file:///path, s3://name?region=...)
// and checks that it answers, so a wrong URL stops the service at start
// rather than at the first upload.
func OpenBucket(ctx context.Context, url string) (*blob.Bucket, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("files: open bucket: %w", err)
	}
	ok, err := b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("it does not exist")
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("files: bucket is not accessible: %w", err), b.Close())
	}
	return b, nil
}
