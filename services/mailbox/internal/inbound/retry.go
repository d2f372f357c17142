package inbound

import (
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
)

// retryLater turns a throttled Graph call into a snooze until its
// Retry-After, so a mailbox over its limits waits without spending the
// job's attempts; other errors (ErrAddressesUnknown too: the addresses come
// within seconds of the connection) retry with River's backoff, a bounded
// number of times.
func retryLater(err error) error {
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Throttled() {
		return river.JobSnooze(max(ge.RetryAfter, time.Second))
	}
	return err
}
