package lever_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
)

var writeScopes = []string{"offline_access", "opportunities:write:admin", "notes:write:admin", "stages:read:admin",
	"postings:read:admin", "users:read:admin", "archive_reasons:read:admin"}

func TestWritesAnOpportunity(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	ctx := t.Context()
	c := client(t, sim)
	a := lever.Auth{ConnectionID: "conn-1", Token: levertest.AccessToken(t, sim, writeScopes...)}

	recruiter, err := c.UserByEmail(ctx, a, "ADELE.VANCE@contoso.example")
	if err != nil || recruiter.Email != providersim.DemoLeverUser {
		t.Fatalf("user by e-mail: %+v, %v", recruiter, err)
	}
	if _, err := c.UserByEmail(ctx, a, "nobody@contoso.example"); !errors.Is(err, lever.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	stages, err := c.Stages(ctx, a)
	if err != nil || len(stages) < 3 {
		t.Fatalf("stages: %v, %v", stages, err)
	}
	postings, err := c.Postings(ctx, a)
	if err != nil || len(postings) == 0 {
		t.Fatalf("postings: %v", err)
	}
	posting := postings[0].ID

	found, err := c.OpportunitiesByEmail(ctx, a, "sam.rivera@example.org", posting)
	if err != nil || len(found) != 0 {
		t.Fatalf("search before the create: %v, %v", found, err)
	}
	o, err := c.CreateOpportunity(ctx, a, recruiter.ID, lever.NewOpportunity{Name: "Sam Rivera", Emails: []string{"sam.rivera@example.org"},
		Phones: []lever.Phone{{Value: "+1 555 0100"}}, Origin: "sourced", Stage: stages[1].ID, Postings: []string{posting}})
	if err != nil || o.ID == "" || o.Stage != stages[1].ID || o.Origin != "sourced" || o.Contact == "" {
		t.Fatalf("create: %+v, %v", o, err)
	}
	found, err = c.OpportunitiesByEmail(ctx, a, "SAM.RIVERA@example.org", posting)
	if err != nil || len(found) != 1 || found[0].ID != o.ID {
		t.Fatalf("search after the create: %v, %v", found, err)
	}
	if _, err := c.CreateOpportunity(ctx, a, "", lever.NewOpportunity{Name: "x"}); err == nil {
		t.Fatal("a create without perform_as was sent")
	}
	if _, err := c.CreateOpportunity(ctx, a, "not-a-user", lever.NewOpportunity{Name: "x"}); !errors.Is(err, lever.ErrInvalid) {
		t.Fatalf("create as an unknown user: %v, want ErrInvalid", err)
	}

	moved, err := c.ChangeStage(ctx, a, o.ID, stages[2].ID, recruiter.ID)
	if err != nil || moved.Stage != stages[2].ID {
		t.Fatalf("change stage: %+v, %v", moved, err)
	}
	reasons, err := c.ArchiveReasons(ctx, a)
	if err != nil || len(reasons) == 0 {
		t.Fatalf("archive reasons: %v", err)
	}
	arch, err := c.Archive(ctx, a, o.ID, reasons[0].ID, recruiter.ID)
	if err != nil || arch.Archived == nil || arch.Archived.Reason != reasons[0].ID {
		t.Fatalf("archive: %+v, %v", arch, err)
	}
	back, err := c.Archive(ctx, a, o.ID, "", recruiter.ID)
	if err != nil || back.Archived != nil {
		t.Fatalf("restore: %+v, %v", back, err)
	}

	noteID, err := c.AddNote(ctx, a, o.ID, recruiter.ID, "Met at GopherCon", 1_700_000_000_000)
	if err != nil || noteID == "" {
		t.Fatalf("add note: %q, %v", noteID, err)
	}
	notes, err := c.Notes(ctx, a, o.ID)
	if err != nil || !slices.ContainsFunc(notes, func(x lever.Note) bool {
		return x.ID == noteID && x.Value() == "Met at GopherCon" && !x.Secret && x.CreatedAt == 1_700_000_000_000
	}) {
		t.Fatalf("notes: %+v, %v", notes, err)
	}
	got, err := c.OpportunityPlace(ctx, a, o.ID)
	if err != nil || got.ID != o.ID || got.Stage != stages[2].ID {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, err := c.OpportunityPlace(ctx, a, "missing"); !errors.Is(err, lever.ErrNotFound) {
		t.Fatalf("missing opportunity: %v", err)
	}
}
