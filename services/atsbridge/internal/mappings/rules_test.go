package mappings_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// sides are Tandem's defaults and Lever's default pipeline, with short ids.
func sides() mappings.Sides {
	return mappings.Sides{
		Tandem: []mappings.TandemStage{{ID: "t-new", Name: "New"}, {ID: "t-contacted", Name: "Contacted"}, {ID: "t-replied", Name: "Replied"},
			{ID: "t-interested", Name: "Interested"}, {ID: "t-not", Name: "Not interested"}, {ID: "t-hired", Name: "Hired"}},
		Sides: store.Sides{
			Stages: []store.Stage{st("lead-new", "New lead", 0), st("lead-reached-out", "Reached out", 1), st("lead-responded", "Responded", 2),
				st("applicant-new", "New applicant", 3), st("screen", "Recruiter screen", 4), st("phone", "Phone interview", 5),
				st("onsite", "On-site interview", 6), st("offer", "Offer", 7)},
			Reasons: []store.ArchiveReason{ar("r-hired", "Hired", "hired"), ar("r-timing", "Timing", "non-hired"), ar("r-withdrew", "Withdrew", "non-hired")},
		},
	}
}

func stage(id string) store.Place { return store.Place{StageID: id} }

func st(id, name string, pos int) store.Stage {
	return store.Stage{RemoteID: id, Name: name, Position: pos}
}

func ar(id, text, typ string) store.ArchiveReason {
	return store.ArchiveReason{RemoteID: id, Text: text, Type: typ}
}

func to(tandem string, p store.Place) store.ToATS { return store.ToATS{TandemStageID: tandem, ATS: p} }

func from(p store.Place, tandem string) store.FromATS {
	return store.FromATS{ATS: p, TandemStageID: tandem}
}
func reason(id string) store.Place { return store.Place{ArchiveReasonID: id} }

func TestProposeMapsLeversDefaultPipeline(t *testing.T) {
	s := sides()
	tab := mappings.Propose(s)
	if ps := mappings.Validate(tab, s); len(ps) != 0 {
		t.Fatalf("the defaults have problems: %+v", ps)
	}
	wantTo := []store.ToATS{to("t-new", stage("lead-new")), to("t-contacted", stage("lead-reached-out")), to("t-replied", stage("lead-responded")),
		to("t-interested", stage("screen")), to("t-not", reason("r-withdrew")), to("t-hired", reason("r-hired"))}
	if !slices.Equal(tab.ToATS, wantTo) {
		t.Errorf("to ATS %+v, want %+v", tab.ToATS, wantTo)
	}
	wantFrom := []store.FromATS{from(stage("lead-new"), "t-new"), from(stage("lead-reached-out"), "t-contacted"), from(stage("lead-responded"), "t-replied"),
		from(stage("applicant-new"), "t-interested"), from(stage("screen"), "t-interested"), from(stage("phone"), "t-interested"),
		from(stage("onsite"), "t-interested"), from(stage("offer"), "t-interested"),
		from(reason("r-hired"), "t-hired"), from(reason("r-timing"), "t-not"), from(reason("r-withdrew"), "t-not")}
	if !slices.Equal(tab.FromATS, wantFrom) {
		t.Errorf("from ATS %+v, want %+v", tab.FromATS, wantFrom)
	}
}

// A Tandem stage of its own and renamed ATS stages still get a complete
// table that round-trips.
func TestProposeFillsStagesWithoutADefault(t *testing.T) {
	s := sides()
	s.Tandem = slices.Insert(s.Tandem, 4, mappings.TandemStage{ID: "t-screening", Name: "Screening"})
	s.Stages[1].Name = "Emailed"
	tab := mappings.Propose(s)
	if ps := mappings.Validate(tab, s); len(ps) != 0 {
		t.Fatalf("problems: %+v", ps)
	}
	if tab.ToATS[4] != (to("t-screening", stage("screen"))) || tab.FromATS[1] != (from(stage("lead-reached-out"), "t-new")) {
		t.Fatalf("table %+v", tab)
	}
}

func TestValidateRefusesWithTheReason(t *testing.T) {
	edit := func(f func(*store.Table)) store.Table {
		tab := mappings.Propose(sides())
		f(&tab)
		return tab
	}
	for name, tc := range map[string]struct {
		table         store.Table
		reason, field string
		says          string
	}{
		"a Tandem stage without a row": {edit(func(t *store.Table) { t.ToATS = t.ToATS[:5] }), mappings.ReasonIncomplete, "to_ats", `Tandem stage "Hired" has no place`},
		"an ATS stage without a row": {edit(func(t *store.Table) { t.FromATS = slices.Delete(t.FromATS, 7, 8) }), mappings.ReasonIncomplete, "from_ats",
			`ATS stage "Offer" has no Tandem stage`},
		"an archive reason without a row": {edit(func(t *store.Table) { t.FromATS = t.FromATS[:10] }), mappings.ReasonIncomplete, "from_ats",
			`archive reason "Withdrew" has no Tandem stage`},
		"a Tandem stage that is gone":    {edit(func(t *store.Table) { t.ToATS[0].TandemStageID = "t-retired" }), mappings.ReasonUnknown, "to_ats[0].tandem_stage_id", `no active stage "t-retired"`},
		"an ATS stage that is gone":      {edit(func(t *store.Table) { t.ToATS[1].ATS = stage("deleted") }), mappings.ReasonUnknown, "to_ats[1].ats", `"Contacted" maps to a stage or archive reason the ATS does not have`},
		"an archive reason that is gone": {edit(func(t *store.Table) { t.FromATS[9].ATS = reason("gone") }), mappings.ReasonUnknown, "from_ats[9].ats", "no such stage"},
		"back to a Tandem stage that is gone": {edit(func(t *store.Table) { t.FromATS[0].TandemStageID = "t-retired" }), mappings.ReasonUnknown, "from_ats[0].tandem_stage_id",
			`"New lead" maps to a stage Tandem does not have`},
		"a place that is both":        {edit(func(t *store.Table) { t.ToATS[2].ATS.ArchiveReasonID = "r-timing" }), mappings.ReasonBadPlace, "to_ats[2].ats", "exactly one"},
		"a place that is neither":     {edit(func(t *store.Table) { t.FromATS[3].ATS = store.Place{} }), mappings.ReasonBadPlace, "from_ats[3].ats", "exactly one"},
		"two rows for a Tandem stage": {edit(func(t *store.Table) { t.ToATS = append(t.ToATS, t.ToATS[0]) }), mappings.ReasonDuplicate, "to_ats[6]", `"New" has two rows`},
		// Interested goes to Recruiter screen, which comes back as Replied,
		// which goes to Responded: moved to Interested, a candidate would
		// end up at Replied and be pushed on.
		"a bounce": {edit(func(t *store.Table) { t.FromATS[4].TandemStageID = "t-replied" }), mappings.ReasonBounce, "to_ats",
			`Tandem "Interested" goes to ATS "Recruiter screen", which comes back as Tandem "Replied", which goes on to ATS "Responded"`},
	} {
		t.Run(name, func(t *testing.T) {
			// A bad row also leaves its stage without a row: that comes after.
			ps := mappings.Validate(tc.table, sides())
			if len(ps) == 2 && ps[1].Reason == mappings.ReasonIncomplete && tc.reason != mappings.ReasonIncomplete && tc.reason != mappings.ReasonDuplicate {
				ps = ps[:1]
			}
			if len(ps) != 1 || ps[0].Reason != tc.reason || ps[0].Field != tc.field || !strings.Contains(ps[0].Description, tc.says) {
				t.Fatalf("problems %+v, want one %s at %s saying %q", ps, tc.reason, tc.field, tc.says)
			}
		})
	}
}

// Coming back as another Tandem stage is no bounce when that stage goes
// to the same ATS place: the candidate settles.
func TestValidateAllowsARoundTripThatSettles(t *testing.T) {
	tab := mappings.Propose(sides())
	tab.ToATS[1].ATS = stage("lead-responded") // Contacted → Responded → Replied → Responded
	tab.ToATS[3].ATS = stage("applicant-new")  // Interested → New applicant → Interested
	if ps := mappings.Validate(tab, sides()); len(ps) != 0 {
		t.Fatalf("problems %+v", ps)
	}
}

func TestSimulateCountsTheLinkedCandidates(t *testing.T) {
	v1 := mappings.Propose(sides())
	next := mappings.Propose(sides())
	next.FromATS[7].TandemStageID = "t-hired"        // Offer → Hired
	next.FromATS = slices.Delete(next.FromATS, 5, 6) // Phone interview unmapped
	groups := []store.LinkGroup{
		{ATS: stage("screen"), MappingVersion: 1, Candidates: 3},
		{ATS: stage("offer"), MappingVersion: 1, Candidates: 2},
		{ATS: stage("offer"), MappingVersion: 0, Candidates: 1},
		{ATS: stage("phone"), MappingVersion: 1, Candidates: 4},
	}
	d := mappings.Simulate(next, sides(), groups, map[int]store.Table{1: v1})
	wantMoves := []mappings.Move{{From: "t-interested", To: "t-hired", Candidates: 2}, {From: "", To: "t-hired", Candidates: 1}}
	if d.Linked != 10 || d.Unchanged != 3 || !slices.Equal(d.Moves, wantMoves) ||
		!slices.Equal(d.Unmapped, []mappings.Unmapped{{ATS: stage("phone"), Candidates: 4}}) ||
		len(d.Problems) != 1 || d.Problems[0].Reason != mappings.ReasonIncomplete {
		t.Fatalf("dry run %+v", d)
	}
}
