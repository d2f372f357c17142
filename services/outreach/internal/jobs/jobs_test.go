package jobs_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

func newJobs(t *testing.T) (*jobs.Jobs, *store.Store) {
	t.Helper()
	st := store.New(storetest.New(t))
	return jobs.New(st), st
}

func principal(org string, role authz.Role) authz.Principal {
	return authz.Principal{Kind: authz.KindUser, OrgID: org, UserID: uuid.NewString(), Role: role}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
		t.Fatalf("want a bad %s, got %v", field, err)
	}
}

func TestCreateUpdateAndClose(t *testing.T) {
	t.Parallel()
	js, _ := newJobs(t)
	org := uuid.NewString()
	rec := principal(org, authz.RoleRecruiter)
	j, err := js.Create(t.Context(), rec, store.Job{Title: " Staff engineer ", Department: "Engineering", Team: "Platform", Location: "Paris", Status: store.JobOpen})
	if err != nil || j.Title != "Staff engineer" || j.CreateUserID != rec.UserID || j.OrgID != org || j.ExternalSource != "" {
		t.Fatalf("create: %+v, %v", j, err)
	}
	up, err := js.Update(t.Context(), rec, j.ID, store.Job{Location: "Remote", Title: "not in the mask"}, []string{"location"})
	if err != nil || up.Location != "Remote" || up.Title != "Staff engineer" || !up.UpdatedAt.After(j.UpdatedAt) {
		t.Fatalf("update: %+v, %v", up, err)
	}
	linked, err := js.Update(t.Context(), rec, j.ID, store.Job{ExternalSource: "ashby", ExternalID: "ash-1"}, []string{"external_source", "external_id"})
	if err != nil || linked.ExternalSource != "ashby" || linked.ExternalID != "ash-1" {
		t.Fatalf("link to the ATS: %+v, %v", linked, err)
	}
	// Half a pair is refused, against the stored job, and changes nothing.
	_, err = js.Update(t.Context(), rec, j.ID, store.Job{}, []string{"external_id"})
	wantField(t, err, "job.external_id")
	if got, err := js.Get(t.Context(), rec, j.ID); err != nil || got.ExternalID != "ash-1" {
		t.Fatalf("a refused update changed the job: %+v, %v", got, err)
	}
	closed, err := js.Close(t.Context(), rec, j.ID)
	if err != nil || closed.Status != store.JobClosed || closed.ExternalID != "ash-1" {
		t.Fatalf("close: %+v, %v", closed, err)
	}
	if again, err := js.Close(t.Context(), rec, j.ID); err != nil || again.Status != store.JobClosed {
		t.Fatalf("close again: %+v, %v", again, err)
	}
	reopened, err := js.Update(t.Context(), rec, j.ID, store.Job{Status: store.JobOpen}, []string{"status"})
	if err != nil || reopened.Status != store.JobOpen {
		t.Fatalf("reopen: %+v, %v", reopened, err)
	}
	// An external id is one job per organization and source.
	_, err = js.Create(t.Context(), rec, store.Job{Title: "Copy", Status: store.JobOpen, ExternalSource: "ashby", ExternalID: "ash-1"})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindAlreadyExists || ae.Reason != "job_exists" {
		t.Fatalf("a second job with the external id: %v", err)
	}
	if _, err := js.Create(t.Context(), rec, store.Job{Title: "Same id, other ATS", Status: store.JobOpen, ExternalSource: "lever", ExternalID: "ash-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Create(t.Context(), principal(uuid.NewString(), authz.RoleAdmin), store.Job{Title: "Theirs", Status: store.JobOpen, ExternalSource: "ashby", ExternalID: "ash-1"}); err != nil {
		t.Fatalf("another organization has its own ids: %v", err)
	}
	other := principal(uuid.NewString(), authz.RoleAdmin)
	if _, err := js.Get(t.Context(), other, j.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization reads the job: %v", err)
	}
	if _, err := js.Update(t.Context(), other, j.ID, store.Job{Title: "Mine"}, []string{"title"}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization updates the job: %v", err)
	}
	if _, err := js.Close(t.Context(), other, j.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization closes the job: %v", err)
	}
}

func TestBadJobsNameTheirField(t *testing.T) {
	t.Parallel()
	js, st := newJobs(t)
	org := uuid.NewString()
	rec := principal(org, authz.RoleRecruiter)
	for field, j := range map[string]store.Job{
		"job.title":           {Title: " ", Status: store.JobOpen},
		"job.department":      {Title: "T", Department: "a\x00", Status: store.JobOpen},
		"job.status":          {Title: "T"},
		"job.external_source": {Title: "T", Status: store.JobOpen, ExternalSource: "workday", ExternalID: "1"},
		"job.external_id":     {Title: "T", Status: store.JobOpen, ExternalSource: "lever"},
	} {
		_, err := js.Create(t.Context(), rec, j)
		wantField(t, err, field)
	}
	j, err := js.Create(t.Context(), rec, store.Job{Title: "Kept", Status: store.JobOpen})
	if err != nil {
		t.Fatal(err)
	}
	for field, tc := range map[string]struct {
		in    store.Job
		paths []string
	}{
		"update_mask": {store.Job{Title: "x"}, []string{"create_user_id"}},
		"job.title":   {store.Job{Title: ""}, []string{"title"}},
		"job.status":  {store.Job{Status: "archived"}, []string{"status"}},
	} {
		_, err := js.Update(t.Context(), rec, j.ID, tc.in, tc.paths)
		wantField(t, err, field)
	}
	_, err = js.Update(t.Context(), rec, j.ID, store.Job{}, nil)
	wantField(t, err, "update_mask")
	all, err := st.Jobs(t.Context(), org, store.JobFilter{}, "", 10)
	if err != nil || len(all) != 1 || all[0].Title != "Kept" || all[0].UpdatedAt != j.UpdatedAt {
		t.Fatalf("bad input stored something: %+v, %v", all, err)
	}
}

// Drafts are for those who manage jobs; lists are paged, newest first.
func TestWhoSeesWhichJobs(t *testing.T) {
	t.Parallel()
	js, _ := newJobs(t)
	org := uuid.NewString()
	rec, member := principal(org, authz.RoleRecruiter), principal(org, authz.RoleMember)
	var ids []string
	for _, status := range []string{store.JobOpen, store.JobClosed, store.JobDraft, store.JobOpen} {
		j, err := js.Create(t.Context(), rec, store.Job{Title: "Job " + status, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if _, err := js.Get(t.Context(), member, ids[2]); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("a member reads a draft: %v", err)
	}
	if _, err := js.Get(t.Context(), member, ids[1]); err != nil {
		t.Fatalf("a member reads a closed job: %v", err)
	}
	if _, err := js.List(t.Context(), member, jobs.Query{Status: store.JobDraft}); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("a member lists drafts: %v", err)
	}
	for _, tc := range []struct {
		who    authz.Principal
		status string
		want   []string
	}{
		{member, "", []string{ids[3], ids[1], ids[0]}},
		{member, store.JobOpen, []string{ids[3], ids[0]}},
		{rec, "", []string{ids[3], ids[2], ids[1], ids[0]}},
		{rec, store.JobDraft, []string{ids[2]}},
	} {
		var got []string
		token := ""
		for range 10 {
			page, err := js.List(t.Context(), tc.who, jobs.Query{Status: tc.status, PageSize: 1, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			if token = page.NextPageToken; token == "" {
				break
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s lists %q: %v, want %v", tc.who.Role, tc.status, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%s lists %q: %v, want %v", tc.who.Role, tc.status, got, tc.want)
			}
		}
	}
	first, err := js.List(t.Context(), rec, jobs.Query{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.List(t.Context(), rec, jobs.Query{Status: store.JobOpen, PageToken: first.NextPageToken})
	wantField(t, err, "page_token")
	_, err = js.List(t.Context(), rec, jobs.Query{Status: "archived"})
	wantField(t, err, "status")
	if page, err := js.List(t.Context(), principal(uuid.NewString(), authz.RoleAdmin), jobs.Query{}); err != nil || len(page.Jobs) != 0 {
		t.Fatalf("another organization lists %+v, %v", page, err)
	}
}
