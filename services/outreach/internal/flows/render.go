package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/templates"
)

// render renders step of the flow's version for the candidate writing to
// address to.
func (f *Flows) render(ctx context.Context, fl store.Flow, step int, c store.Candidate, to string) (Message, error) {
	v, err := f.values(ctx, fl, c, to)
	if err != nil {
		return Message{}, err
	}
	s := fl.Current.Steps[step]
	subject, err := f.templates.RenderText(s.Subject, v)
	if err != nil {
		return Message{}, templateError(step, "subject", err)
	}
	body, err := f.templates.RenderHTML(s.Body, v)
	if err != nil {
		return Message{}, templateError(step, "body", err)
	}
	subject = strings.TrimSpace(subject)
	if subject == "" {
		subject = "(no subject)" // mailbox needs one; a template of only empty values makes none
	}
	return Message{Subject: subject, HTMLBody: body}, nil
}

// values are the template variables for a candidate of the flow.
func (f *Flows) values(ctx context.Context, fl store.Flow, c store.Candidate, to string) (templates.Values, error) {
	first, last := splitName(c.Name)
	if to == "" && len(c.Emails) > 0 {
		to = c.Emails[0]
	}
	senderFirst, _ := splitName(fl.Current.SenderName)
	job := map[string]string{}
	if fl.Current.JobID != "" {
		var err error
		if job, err = f.dir.Job(ctx, fl.OrgID, fl.Current.JobID); err != nil {
			return templates.Values{}, fmt.Errorf("job fields: %w", err)
		}
	}
	org, err := f.dir.Organization(ctx, fl.OrgID)
	if err != nil {
		return templates.Values{}, fmt.Errorf("organization fields: %w", err)
	}
	return templates.Values{
		Objects: map[string]map[string]string{
			"candidate": {"name": c.Name, "first_name": first, "last_name": last, "email": to, "title": c.Title,
				"company": c.Company, "location": c.Location},
			"sender":       {"name": fl.Current.SenderName, "first_name": senderFirst, "email": fl.Current.SenderEmail},
			"job":          job,
			"organization": org,
		},
		CustomFields: c.CustomFields,
	}, nil
}

// splitName takes the first word for the first name and the rest for the
// last: right for most names people write in outreach tools, and the
// recruiter sees it in the preview.
func splitName(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if i := strings.IndexAny(name, " \t"); i > 0 {
		return name[:i], strings.TrimSpace(name[i:])
	}
	return name, ""
}

// Preview renders a step of a flow (its current version, or the one
// asked) for a candidate of the organization.
func (f *Flows) Preview(ctx context.Context, orgID, flowID string, step, version int, candidateID string) (Message, error) {
	var fl store.Flow
	var err error
	if version == 0 {
		fl, err = f.store.Flow(ctx, orgID, flowID)
	} else {
		fl, err = f.store.FlowVersion(ctx, orgID, flowID, version)
	}
	if err != nil {
		return Message{}, notFound(err, "flow")
	}
	if step < 0 || step >= len(fl.Current.Steps) {
		return Message{}, apperr.InvalidArgument("step_index", fmt.Sprintf("must be 0 to %d", len(fl.Current.Steps)-1))
	}
	c, err := f.store.Candidate(ctx, orgID, candidateID)
	if errors.Is(err, postgres.ErrNotFound) {
		return Message{}, apperr.NotFound("candidate").Wrap(err)
	}
	if err != nil {
		return Message{}, err
	}
	return f.render(ctx, fl, step, c, "")
}
