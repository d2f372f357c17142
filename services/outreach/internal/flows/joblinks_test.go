package flows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
)

// jobLinks refuses the jobs in refused and records what it was asked.
type jobLinks struct {
	refused map[string]bool
	asked   []string
}

func (j *jobLinks) CheckJobLink(_ context.Context, _, jobID string) error {
	j.asked = append(j.asked, jobID)
	if j.refused[jobID] {
		return apperr.FailedPrecondition("stage_mapping_required", "save the stage mapping first")
	}
	return nil
}

// A flow's job is checked when it is set or changed, not on other edits:
// a flow keeps its link when the ATS's side changes later.
func TestJobLinkIsCheckedWhenSet(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	links := &jobLinks{refused: map[string]bool{}}
	rules := flows.New(flows.Options{Store: w.st, Publisher: w.pub, Mailbox: w.mail, JobLinks: links, Now: w.clock.now})
	ctx := t.Context()
	refused, allowed := uuid.NewString(), uuid.NewString()
	links.refused[refused] = true

	in := input()
	in.JobID = refused
	if _, err := rules.Create(ctx, w.owner, in); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("a refused job: %v", err)
	}
	in.JobID = allowed
	f, err := rules.Create(ctx, w.owner, in)
	if err != nil || f.Current.JobID != allowed {
		t.Fatalf("an allowed job: %+v, %v", f, err)
	}
	in.Name = "Renamed"
	if _, err := rules.Update(ctx, w.owner, f.ID, in, []string{"name", "job_id"}); err != nil {
		t.Fatal(err)
	}
	if len(links.asked) != 2 {
		t.Fatalf("asked %v: the unchanged job was checked again", links.asked)
	}
	in.JobID = refused
	if _, err := rules.Update(ctx, w.owner, f.ID, in, []string{"job_id"}); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("changing to a refused job: %v", err)
	}
	if got, err := rules.Get(ctx, w.org, f.ID); err != nil || got.Current.JobID != allowed {
		t.Fatalf("after the refusal: %+v, %v", got.Current, err)
	}
}
