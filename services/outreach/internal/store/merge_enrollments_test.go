package store_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func mustFlow(t *testing.T, st *store.Store, org, name string) store.Flow {
	t.Helper()
	f, err := st.CreateFlow(t.Context(), store.Flow{OrgID: org, Name: name, OwnerUserID: "owner", Current: store.FlowVersion{
		MailboxConnectionID: "conn", SenderUserID: "owner", TimeZone: "UTC", WindowDays: []int{1, 2, 3, 4, 5}, WindowEnd: 24 * 60,
		Steps: []store.FlowStep{{Subject: "Hi", Body: "<p>Hi</p>"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustEnroll(t *testing.T, st *store.Store, org string, f store.Flow, candidateID string) store.Enrollment {
	t.Helper()
	var out store.Enrollment
	err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		var err error
		out, err = store.InsertEnrollment(t.Context(), tx, store.Enrollment{OrgID: org, FlowID: f.ID, CandidateID: candidateID,
			FlowVersion: 1, CreatedBy: "owner"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMergeMovesEnrollmentsAndStopsASecondRunningOne(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	combine := func(s, m store.Candidate) store.Candidate {
		s.Emails = append(append([]string{}, s.Emails...), m.Emails...)
		return s
	}
	survivor := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	merged := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A. Lovelace", Emails: []string{"lovelace@example.com"}})
	first, second, shared := mustFlow(t, st, org, "First"), mustFlow(t, st, org, "Second"), mustFlow(t, st, org, "Shared")

	// The survivor runs in First and stopped in Shared; the merged
	// candidate runs in Second and stopped in Shared too.
	stopped := func(e store.Enrollment) store.Enrollment {
		t.Helper()
		err := st.InTx(t.Context(), func(tx pgx.Tx) error {
			e.Stop(store.StopFinished, e.CreatedAt)
			_, err := store.WriteEnrollment(t.Context(), tx, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	survivorShared := stopped(mustEnroll(t, st, org, shared, survivor.ID))
	mergedShared := stopped(mustEnroll(t, st, org, shared, merged.ID))
	running := mustEnroll(t, st, org, first, survivor.ID)
	mergedRunning := mustEnroll(t, st, org, second, merged.ID)

	if _, err := st.MergeCandidates(t.Context(), org, survivor.ID, merged.ID, "actor", combine); err != nil {
		t.Fatalf("merge: %v", err)
	}
	for _, want := range []struct {
		e            store.Enrollment
		status, stop string
	}{
		{running, store.EnrollmentActive, ""},
		{survivorShared, store.EnrollmentStopped, store.StopFinished},
		{mergedRunning, store.EnrollmentStopped, store.StopMerged},
		{mergedShared, store.EnrollmentStopped, store.StopMerged},
	} {
		got, err := st.Enrollment(t.Context(), org, want.e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CandidateID != survivor.ID || got.Status != want.status || got.StopReason != want.stop {
			t.Errorf("enrollment of flow %s: candidate %s, %s (%s); want the survivor's, %s (%s)",
				got.FlowID, got.CandidateID, got.Status, got.StopReason, want.status, want.stop)
		}
	}
}

func TestMergeKeepsTheOnlyRunningEnrollmentRunning(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	survivor := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	merged := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A. Lovelace", Emails: []string{"lovelace@example.com"}})
	e := mustEnroll(t, st, org, mustFlow(t, st, org, "Only"), merged.ID)
	if _, err := st.MergeCandidates(t.Context(), org, survivor.ID, merged.ID, "actor", func(s, _ store.Candidate) store.Candidate { return s }); err != nil {
		t.Fatal(err)
	}
	got, err := st.Enrollment(t.Context(), org, e.ID)
	if err != nil || got.CandidateID != survivor.ID || got.Status != store.EnrollmentActive {
		t.Fatalf("the merged candidate's only running enrollment goes on for the survivor: %+v, %v", got, err)
	}
}
