package events

import (
	"testing"

	"github.com/tandemhq/tandem/platform/authz"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// The sink's rule is Internal, added to a copy: the service's own policy
// (which policyjson exports for the REST document) is left as it was.
func TestAddSinkPolicy(t *testing.T) {
	own := authz.Policy{"/tandem.outreach.v1.OutreachService/GetCandidate": authz.AnyMember()}
	merged := AddSinkPolicy(own)
	if got := merged[eventsv1.EventSinkService_Deliver_FullMethodName].String(); got != "internal" {
		t.Fatalf("Deliver is %s, want internal", got)
	}
	if len(merged) != 2 || len(own) != 1 {
		t.Fatalf("merged %d rules, own %d; want 2 and 1", len(merged), len(own))
	}
	if missing := AddSinkPolicy(nil).Missing(eventsv1.EventSinkService_ServiceDesc); len(missing) != 0 {
		t.Fatalf("methods without a rule: %v", missing)
	}
}

func TestSinkHandleRefusesBadRegistrations(t *testing.T) {
	s := NewSink(nil)
	s.Handle("candidate.stage_changed", nil)
	for name, typ := range map[string]string{"twice": "candidate.stage_changed", "invalid": "Candidate"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Handle(%q) did not panic", name, typ)
				}
			}()
			s.Handle(typ, nil)
		}()
	}
}
