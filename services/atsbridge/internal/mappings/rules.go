package mappings

import (
	"fmt"
	"strings"

	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// TandemStage is one of the organization's active stages in outreach.
type TandemStage struct {
	ID, Name string
}

// Sides are both sides a table maps: Tandem's active stages in order, and
// the ATS's stages and archive reasons from the last import.
type Sides struct {
	Tandem []TandemStage
	store.Sides
}

// Problem is one reason a table cannot be saved.
type Problem struct {
	// One of the Reason* constants.
	Reason      string
	Field       string
	Description string
}

// Reasons of problems.
const (
	ReasonIncomplete = "incomplete"
	ReasonUnknown    = "unknown_stage"
	ReasonDuplicate  = "duplicate_row"
	ReasonBadPlace   = "bad_place"
	ReasonBounce     = "bounce"
)

// names tells the stages apart in descriptions.
type names struct {
	tandem  map[string]string
	stages  map[string]string
	reasons map[string]string
}

func (s Sides) names() names {
	n := names{tandem: map[string]string{}, stages: map[string]string{}, reasons: map[string]string{}}
	for _, t := range s.Tandem {
		n.tandem[t.ID] = t.Name
	}
	for _, st := range s.Stages {
		n.stages[st.RemoteID] = st.Name
	}
	for _, r := range s.Reasons {
		n.reasons[r.RemoteID] = r.Text
	}
	return n
}

func (n names) place(p store.Place) string {
	if p.ArchiveReasonID != "" {
		return fmt.Sprintf("archived (%s)", n.reasons[p.ArchiveReasonID])
	}
	return fmt.Sprintf("%q", n.stages[p.StageID])
}

func (n names) known(p store.Place) bool {
	if p.ArchiveReasonID != "" {
		_, ok := n.reasons[p.ArchiveReasonID]
		return ok
	}
	_, ok := n.stages[p.StageID]
	return ok
}

func validPlace(p store.Place) bool { return (p.StageID == "") != (p.ArchiveReasonID == "") }

// Validate lists everything that keeps t from being saved over sides, in
// the order of the rows: rows naming a stage that does not exist (any
// more) on either side, a place that is not exactly one of a stage and an
// archive reason, a stage or place with two rows, a stage or place
// without a row, and bounces.
//
// The round-trip rule: for each Tandem stage X with X → ATS Y and ATS Y →
// Tandem Z, either Z is X or Z → Y. A candidate moved to X in Tandem is
// then pushed to Y; when the ATS reports Y, Tandem moves it to Z (or
// leaves it at X), and Z maps to the Y it is already at, so nothing is
// pushed again. Z → W ≠ Y would push it on to W, come back as W's stage
// and so on: a bounce.
func Validate(t store.Table, s Sides) []Problem {
	n := s.names()
	var out []Problem
	toATS := map[string]store.Place{}
	for i, r := range t.ToATS {
		field := fmt.Sprintf("to_ats[%d]", i)
		switch name, ok := n.tandem[r.TandemStageID]; {
		case !ok:
			out = append(out, Problem{ReasonUnknown, field + ".tandem_stage_id", fmt.Sprintf("Tandem has no active stage %q", r.TandemStageID)})
			continue
		case !validPlace(r.ATS):
			out = append(out, Problem{ReasonBadPlace, field + ".ats", fmt.Sprintf("Tandem stage %q needs exactly one of an ATS stage and an archive reason", name)})
			continue
		case !n.known(r.ATS):
			out = append(out, Problem{ReasonUnknown, field + ".ats", fmt.Sprintf("Tandem stage %q maps to a stage or archive reason the ATS does not have", name)})
			continue
		}
		if _, dup := toATS[r.TandemStageID]; dup {
			out = append(out, Problem{ReasonDuplicate, field, fmt.Sprintf("Tandem stage %q has two rows", n.tandem[r.TandemStageID])})
			continue
		}
		toATS[r.TandemStageID] = r.ATS
	}
	fromATS := map[store.Place]string{}
	for i, r := range t.FromATS {
		field := fmt.Sprintf("from_ats[%d]", i)
		switch {
		case !validPlace(r.ATS):
			out = append(out, Problem{ReasonBadPlace, field + ".ats", "a row needs exactly one of an ATS stage and an archive reason"})
			continue
		case !n.known(r.ATS):
			out = append(out, Problem{ReasonUnknown, field + ".ats", "the ATS has no such stage or archive reason"})
			continue
		}
		if _, ok := n.tandem[r.TandemStageID]; !ok {
			out = append(out, Problem{ReasonUnknown, field + ".tandem_stage_id", fmt.Sprintf("ATS %s maps to a stage Tandem does not have (any more)", n.place(r.ATS))})
			continue
		}
		if _, dup := fromATS[r.ATS]; dup {
			out = append(out, Problem{ReasonDuplicate, field, fmt.Sprintf("ATS %s has two rows", n.place(r.ATS))})
			continue
		}
		fromATS[r.ATS] = r.TandemStageID
	}
	for _, ts := range s.Tandem {
		if _, ok := toATS[ts.ID]; !ok {
			out = append(out, Problem{ReasonIncomplete, "to_ats", fmt.Sprintf("Tandem stage %q has no place in the ATS", ts.Name)})
		}
	}
	for _, st := range s.Stages {
		if _, ok := fromATS[store.Place{StageID: st.RemoteID}]; !ok {
			out = append(out, Problem{ReasonIncomplete, "from_ats", fmt.Sprintf("ATS stage %q has no Tandem stage", st.Name)})
		}
	}
	for _, r := range s.Reasons {
		if _, ok := fromATS[store.Place{ArchiveReasonID: r.RemoteID}]; !ok {
			out = append(out, Problem{ReasonIncomplete, "from_ats", fmt.Sprintf("ATS archive reason %q has no Tandem stage", r.Text)})
		}
	}
	for _, ts := range s.Tandem {
		y, ok := toATS[ts.ID]
		if !ok {
			continue
		}
		z, ok := fromATS[y]
		if !ok || z == ts.ID {
			continue
		}
		if w, ok := toATS[z]; ok && w != y {
			out = append(out, Problem{ReasonBounce, "to_ats", fmt.Sprintf("Tandem %q goes to ATS %s, which comes back as Tandem %q, which goes on to ATS %s: a candidate would be moved back and forth",
				ts.Name, n.place(y), n.tandem[z], n.place(w))})
		}
	}
	return out
}

// Describe joins problems into one message for a refusal.
func Describe(ps []Problem) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, p.Description)
	}
	return strings.Join(parts, "; ")
}

// Defaults by name (DESIGN §7): Tandem's default stages and where they go
// on Lever's default pipeline, and back.
var (
	defaultToATS = map[string]string{
		"new": "new lead", "contacted": "reached out", "replied": "responded", "interested": "recruiter screen",
	}
	defaultFromATS = map[string]string{
		"new lead": "new", "reached out": "contacted", "responded": "replied", "new applicant": "interested", "recruiter screen": "interested",
	}
	// A candidate who is not interested left the process of their own
	// accord; Lever's closest archive reason.
	notInterestedReason = "withdrew"
)

const (
	tandemNotInterested = "not interested"
	tandemHired         = "hired"
	reasonTypeHired     = "hired"
)

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Propose returns the default table over sides: Tandem's default stages
// to Lever's default pipeline by name (New → New lead, Contacted →
// Reached out, Replied → Responded, Interested → Recruiter screen, Not
// interested → archived as withdrawn, Hired → archived as hired), and
// every ATS place back (New lead → New, Reached out → Contacted,
// Responded → Replied, New applicant and later stages → Interested,
// archived as hired → Hired, archived otherwise → Not interested). A stage
// without a default by name takes its neighbour's: an ATS stage the
// Tandem stage of the stage before it, a Tandem stage the ATS place of
// the stage before it; so the table is complete and round-trips. Names
// the sides do not have are left out, and Validate says what is missing.
func Propose(s Sides) store.Table {
	tandemByName := map[string]string{}
	for _, t := range s.Tandem {
		tandemByName[norm(t.Name)] = t.ID
	}
	stageByName := map[string]string{}
	for _, st := range s.Stages {
		stageByName[norm(st.Name)] = st.RemoteID
	}
	var hired, notInterested, firstNonHired string
	for _, r := range s.Reasons {
		switch {
		case r.Type == reasonTypeHired && hired == "":
			hired = r.RemoteID
		case r.Type != reasonTypeHired && norm(r.Text) == notInterestedReason:
			notInterested = r.RemoteID
		case r.Type != reasonTypeHired && firstNonHired == "":
			firstNonHired = r.RemoteID
		}
	}
	if notInterested == "" {
		notInterested = firstNonHired
	}

	var t store.Table
	// ATS → Tandem first: the Tandem side's neighbours read it.
	prev := ""
	if len(s.Tandem) > 0 {
		prev = s.Tandem[0].ID
	}
	for _, st := range s.Stages {
		if id, ok := tandemByName[defaultFromATS[norm(st.Name)]]; ok {
			prev = id
		}
		if prev != "" {
			t.FromATS = append(t.FromATS, store.FromATS{ATS: store.Place{StageID: st.RemoteID}, TandemStageID: prev})
		}
	}
	for _, r := range s.Reasons {
		want := tandemNotInterested
		if r.Type == reasonTypeHired {
			want = tandemHired
		}
		if id, ok := tandemByName[want]; ok {
			t.FromATS = append(t.FromATS, store.FromATS{ATS: store.Place{ArchiveReasonID: r.RemoteID}, TandemStageID: id})
		}
	}

	var prevPlace store.Place
	if len(s.Stages) > 0 {
		prevPlace = store.Place{StageID: s.Stages[0].RemoteID}
	}
	for _, ts := range s.Tandem {
		var p store.Place
		switch name := norm(ts.Name); {
		case name == tandemHired && hired != "":
			p = store.Place{ArchiveReasonID: hired}
		case name == tandemNotInterested && notInterested != "":
			p = store.Place{ArchiveReasonID: notInterested}
		default:
			if id, ok := stageByName[defaultToATS[name]]; ok {
				p = store.Place{StageID: id}
				prevPlace = p
			} else {
				p = prevPlace
			}
		}
		if validPlace(p) {
			t.ToATS = append(t.ToATS, store.ToATS{TandemStageID: ts.ID, ATS: p})
		}
	}
	return t
}

// DryRun is what a table would do to the linked candidates.
type DryRun struct {
	Linked    int64
	Moves     []Move
	Unchanged int64
	Unmapped  []Unmapped
	Problems  []Problem
}

// Move counts linked candidates that would move between Tandem stages.
type Move struct {
	From, To   string
	Candidates int64
}

// Unmapped counts linked candidates at an ATS place without a row.
type Unmapped struct {
	ATS        store.Place
	Candidates int64
}

// Simulate applies t to the linked candidates, grouped by place and the
// mapping version each was synced with (versions holds those versions'
// tables): a candidate moves when t gives its ATS place another Tandem
// stage than the version it was synced with did ("" for none).
func Simulate(t store.Table, s Sides, groups []store.LinkGroup, versions map[int]store.Table) DryRun {
	out := DryRun{Problems: Validate(t, s)}
	next := fromATS(t)
	moves := map[[2]string]int{}
	unmapped := map[store.Place]int{}
	for _, g := range groups {
		out.Linked += g.Candidates
		to, ok := next[g.ATS]
		if !ok {
			if i, seen := unmapped[g.ATS]; seen {
				out.Unmapped[i].Candidates += g.Candidates
			} else {
				unmapped[g.ATS] = len(out.Unmapped)
				out.Unmapped = append(out.Unmapped, Unmapped{ATS: g.ATS, Candidates: g.Candidates})
			}
			continue
		}
		from := fromATS(versions[g.MappingVersion])[g.ATS]
		if from == to {
			out.Unchanged += g.Candidates
			continue
		}
		key := [2]string{from, to}
		if i, seen := moves[key]; seen {
			out.Moves[i].Candidates += g.Candidates
		} else {
			moves[key] = len(out.Moves)
			out.Moves = append(out.Moves, Move{From: from, To: to, Candidates: g.Candidates})
		}
	}
	return out
}

func fromATS(t store.Table) map[store.Place]string {
	m := make(map[store.Place]string, len(t.FromATS))
	for _, r := range t.FromATS {
		m[r.ATS] = r.TandemStageID
	}
	return m
}

// Equal reports whether two tables have the same rows in the same order.
func Equal(a, b store.Table) bool {
	if len(a.ToATS) != len(b.ToATS) || len(a.FromATS) != len(b.FromATS) {
		return false
	}
	for i := range a.ToATS {
		if a.ToATS[i] != b.ToATS[i] {
			return false
		}
	}
	for i := range a.FromATS {
		if a.FromATS[i] != b.FromATS[i] {
			return false
		}
	}
	return true
}
