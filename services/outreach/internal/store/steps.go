package store

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// StepKey names the enrollment a due step is of.
type StepKey struct {
	OrgID, EnrollmentID string
}

// StepCheck is what a due step's re-check reads of its enrollment: the
// enrollment, its flow (status as it is now, settings and steps of the
// enrollment's version), its candidate (the survivor of a merge) and
// which of the candidate's addresses are undeliverable.
type StepCheck struct {
	Enrollment    Enrollment
	Flow          Flow
	Candidate     Candidate
	Undeliverable map[string]bool
}

// stepEnrollmentColumns are enrollmentColumns of the enrollment e, in a
// query over several tables.
var stepEnrollmentColumns = func() string {
	cols := strings.Split(enrollmentColumns, ",")
	for i, c := range cols {
		cols[i] = "e." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// StepChecks reads the re-check of each enrollment of keys in one
// statement (one snapshot, no transaction, no lock): a step that passes
// is handed to mailbox on what it read, and RecordSubmittedMany's
// condition catches an enrollment rescheduled since. The answer is by
// enrollment id; an enrollment missing from it is not there, or its
// candidate (or flow) is not: the caller checks those again one by one,
// under the lock.
func (s *Store) StepChecks(ctx context.Context, keys []StepKey) (_ map[string]StepCheck, err error) {
	ctx, sp := span(ctx, "StepChecks")
	defer func() { end(sp, err) }()
	orgs, ids := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	for _, k := range keys {
		if isUUID(k.OrgID) && isUUID(k.EnrollmentID) {
			orgs, ids = append(orgs, k.OrgID), append(ids, k.EnrollmentID)
		}
	}
	out := make(map[string]StepCheck, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, stepChecksSQL, orgs, ids)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sc StepCheck
		var fs flowScan
		var cs candidateScan
		var bad []string
		dest := append(enrollmentDest(&sc.Enrollment), fs.dest()...)
		dest = append(append(dest, cs.dest()...), &bad)
		if err := rows.Scan(dest...); err != nil {
			return nil, postgres.MapError(err)
		}
		if sc.Flow, err = fs.finish(); err != nil {
			return nil, err
		}
		if sc.Candidate, err = cs.finish(); err != nil {
			return nil, err
		}
		sc.Undeliverable = make(map[string]bool, len(bad))
		for _, a := range bad {
			sc.Undeliverable[a] = true
		}
		out[sc.Enrollment.ID] = sc
	}
	return out, postgres.MapError(rows.Err())
}

// Submission is a step handed to mailbox, for RecordSubmittedMany.
type Submission struct {
	OrgID, EnrollmentID string
	Seq, Step           int
	MessageID, To       string
}

// RecordSubmittedMany notes, for each sub, that its step of the
// enrollment is with mailbox as MessageID, for the address To, unless the
// enrollment was scheduled again since (its schedule number is no longer
// Seq) or that step or a later one is with mailbox already; wrote[i]
// reports whether subs[i] was written. One statement for all (an
// enrollment named twice goes in a second one, so its second row's
// condition sees the first), which locks each row as it checks it: the
// step path's last write needs no transaction of its own, and the steps
// handed over at the same moment share it.
func (s *Store) RecordSubmittedMany(ctx context.Context, subs []Submission) (wrote []bool, err error) {
	ctx, sp := span(ctx, "RecordSubmittedMany")
	defer func() { end(sp, err) }()
	wrote = make([]bool, len(subs))
	left := make([]int, 0, len(subs))
	for i, sub := range subs {
		if isUUID(sub.OrgID) && isUUID(sub.EnrollmentID) {
			left = append(left, i)
		}
	}
	for len(left) > 0 {
		var now, later []int
		seen := make(map[string]bool, len(left))
		for _, i := range left {
			if seen[subs[i].EnrollmentID] {
				later = append(later, i)
				continue
			}
			seen[subs[i].EnrollmentID] = true
			now = append(now, i)
		}
		// In id order: two replicas' statements lock their rows in the
		// same order.
		slices.SortFunc(now, func(a, b int) int { return strings.Compare(subs[a].EnrollmentID, subs[b].EnrollmentID) })
		var orgs, ids, msgs, tos []string
		var seqs, steps []int
		for _, i := range now {
			sub := subs[i]
			orgs, ids, msgs, tos = append(orgs, sub.OrgID), append(ids, sub.EnrollmentID), append(msgs, sub.MessageID), append(tos, sub.To)
			seqs, steps = append(seqs, sub.Seq), append(steps, sub.Step)
		}
		rows, err := s.db.Query(ctx, `UPDATE enrollments e SET submitted_step = r.step, submitted_message_id = r.message_id, next_send_at = NULL,
			to_address = r.to_address, updated_at = now()
			FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY r (org_id, id, seq, step, message_id, to_address, n)
			WHERE e.id = ANY($2::uuid[]) AND e.org_id = r.org_id AND e.id = r.id AND e.schedule_seq = r.seq AND e.submitted_step < r.step
			AND e.status <> 'stopped'
			RETURNING r.n`, orgs, ids, seqs, steps, msgs, tos)
		if err != nil {
			return nil, postgres.MapError(err)
		}
		written, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, postgres.MapError(err)
		}
		for _, n := range written {
			wrote[now[n-1]] = true
		}
		left = later
	}
	return wrote, nil
}

// stepChecksSQL is StepChecks' statement: for each key, its enrollment by
// primary key and the rest by theirs (the lateral subquery, which its
// LIMIT keeps from being flattened: as one join of all the tables the
// planner may start from flows, and went through every enrollment of
// the flows named, 250 ms for 49 steps at 10,000 enrollments).
var stepChecksSQL = `SELECT s.* FROM unnest($1::uuid[], $2::uuid[]) k (org_id, id) CROSS JOIN LATERAL (
		SELECT ` + stepEnrollmentColumns + `, ` + flowColumns + `, ` + candidateColumns + `,
			coalesce((SELECT array_agg(ce.email) FROM candidate_emails ce WHERE ce.candidate_id = c.id
				AND EXISTS (SELECT 1 FROM undeliverable_addresses u WHERE u.org_id = e.org_id AND u.address = lower(btrim(ce.email)))), '{}')
		FROM enrollments e
		JOIN flows f ON f.org_id = e.org_id AND f.id = e.flow_id
		JOIN flow_versions v ON v.flow_id = f.id AND v.version = e.flow_version
		JOIN candidates c0 ON c0.org_id = e.org_id AND c0.id = e.candidate_id
		JOIN candidates c ON c.org_id = e.org_id AND c.id = coalesce(c0.merged_into, c0.id)
		WHERE e.org_id = k.org_id AND e.id = k.id
		LIMIT 1) s`
