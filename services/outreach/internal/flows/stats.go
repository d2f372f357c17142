package flows

import (
	"context"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// FlowStats are a flow's figures: the flow's own (candidates) and each
// step's (e-mails), with rates.
type FlowStats struct {
	Flow  store.Stats
	Steps []store.StepStats
}

// Stats returns a flow's figures, read from counters the changes keep
// current (no scan of enrollments).
func (f *Flows) Stats(ctx context.Context, orgID, flowID string) (FlowStats, error) {
	rows, err := f.store.FlowStats(ctx, orgID, flowID)
	if err != nil {
		return FlowStats{}, notFound(err, "flow")
	}
	var out FlowStats
	for _, r := range rows {
		if r.StepIndex == store.FlowStepIndex {
			out.Flow = r.Stats
			continue
		}
		out.Steps = append(out.Steps, r)
	}
	return out, nil
}

// Rate is part over whole, 0 when whole is 0.
func Rate(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}
