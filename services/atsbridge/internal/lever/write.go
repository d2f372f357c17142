package lever

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The writes of the sync engine (providers.md §2.2): opportunities made
// and found, stage moves, archives and notes, each acting as a Lever user
// (perform_as) so Lever attributes it to the recruiter.
//
// None of Lever's writes takes an idempotency key. The callers make them
// safe to retry: a create searches first (OpportunitiesByEmail), a note
// is looked for by its value and creation time (Notes), and a stage move
// or an archive to where the opportunity already is changes nothing.

// Phone is a phone number of a candidate.
type Phone struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// NewOpportunity is what a create sends.
type NewOpportunity struct {
	Name     string   `json:"name"`
	Headline string   `json:"headline,omitempty"`
	Location string   `json:"location,omitempty"`
	Emails   []string `json:"emails,omitempty"`
	Phones   []Phone  `json:"phones,omitempty"`
	Links    []string `json:"links,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Sources  []string `json:"sources,omitempty"`
	// Origin is one of agency, applied, internal, referred, sourced,
	// university.
	Origin string `json:"origin,omitempty"`
	// Stage is a stage id; Lever's default is its first stage.
	Stage string `json:"stage,omitempty"`
	// Postings holds at most one posting id: Lever takes one per create.
	Postings []string `json:"postings,omitempty"`
	// Owner is a user id; Lever's default is the perform_as user.
	Owner string `json:"owner,omitempty"`
}

// Opportunity is an opportunity as the API answers it (unexpanded).
type Opportunity struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Contact   string        `json:"contact"`
	Emails    []string      `json:"emails"`
	Stage     string        `json:"stage"`
	Archived  *ArchiveState `json:"archived"`
	Origin    string        `json:"origin"`
	CreatedAt int64         `json:"createdAt"`
	UpdatedAt int64         `json:"updatedAt"`
	URLs      struct {
		Show string `json:"show"`
	} `json:"urls"`
}

// Note is a note on an opportunity. Lever answers its text as fields;
// Value is the note field's.
type Note struct {
	ID        string `json:"id"`
	Secret    bool   `json:"secret"`
	CreatedAt int64  `json:"createdAt"`
	Fields    []struct {
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"fields"`
}

// Value is the note's text.
func (n Note) Value() string {
	for _, f := range n.Fields {
		if v, ok := f.Value.(string); ok && f.Type == "note" {
			return v
		}
	}
	return ""
}

type one[T any] struct {
	Data T `json:"data"`
}

func performAs(userID string) url.Values {
	q := url.Values{}
	if userID != "" {
		q.Set("perform_as", userID)
	}
	return q
}

func opportunityPath(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return "", errors.New("lever: an opportunity id is required")
	}
	return "/opportunities/" + url.PathEscape(id), nil
}

// CreateOpportunity creates an opportunity acting as user asUserID
// (required by Lever). Lever de-duplicates by e-mail onto the existing
// contact; the answer says which contact it went to.
func (c *Client) CreateOpportunity(ctx context.Context, a Auth, asUserID string, in NewOpportunity) (Opportunity, error) {
	if asUserID == "" {
		return Opportunity{}, errors.New("lever: a create needs the Lever user it acts as")
	}
	if len(in.Postings) > 1 {
		return Opportunity{}, errors.New("lever: one posting per create")
	}
	var out one[Opportunity]
	err := c.do(ctx, a, http.MethodPost, "/opportunities", performAs(asUserID), in, &out)
	return out.Data, err
}

// OpportunitiesByEmail lists the opportunities of the contact with that
// e-mail, on postingID when it is not empty.
func (c *Client) OpportunitiesByEmail(ctx context.Context, a Auth, email, postingID string) ([]Opportunity, error) {
	if email == "" {
		return nil, errors.New("lever: an e-mail is required")
	}
	q := url.Values{"email": {email}}
	if postingID != "" {
		q.Set("posting_id", postingID)
	}
	return list[Opportunity](ctx, c, a, "/opportunities", q)
}

// ChangeStage moves an opportunity to stageID, attributed to asUserID
// when it is not empty.
func (c *Client) ChangeStage(ctx context.Context, a Auth, id, stageID, asUserID string) (Opportunity, error) {
	p, err := opportunityPath(id)
	if err != nil {
		return Opportunity{}, err
	}
	if stageID == "" {
		return Opportunity{}, errors.New("lever: a stage is required")
	}
	var out one[Opportunity]
	err = c.do(ctx, a, http.MethodPut, p+"/stage", performAs(asUserID), map[string]string{"stage": stageID}, &out)
	return out.Data, err
}

// Archive archives an opportunity with reasonID, or restores it when
// reasonID is empty.
func (c *Client) Archive(ctx context.Context, a Auth, id, reasonID, asUserID string) (Opportunity, error) {
	p, err := opportunityPath(id)
	if err != nil {
		return Opportunity{}, err
	}
	body := map[string]any{"reason": nil}
	if reasonID != "" {
		body["reason"] = reasonID
	}
	var out one[Opportunity]
	err = c.do(ctx, a, http.MethodPut, p+"/archived", performAs(asUserID), body, &out)
	return out.Data, err
}

// Notes lists an opportunity's notes.
func (c *Client) Notes(ctx context.Context, a Auth, id string) ([]Note, error) {
	p, err := opportunityPath(id)
	if err != nil {
		return nil, err
	}
	return list[Note](ctx, c, a, p+"/notes", nil)
}

// AddNote adds a public note (Tandem never sends private ones) dated
// createdAtMs, acting as asUserID, and returns its id.
func (c *Client) AddNote(ctx context.Context, a Auth, id, asUserID, value string, createdAtMs int64) (string, error) {
	p, err := opportunityPath(id)
	if err != nil {
		return "", err
	}
	if value == "" {
		return "", errors.New("lever: a note needs a value")
	}
	body := map[string]any{"value": value, "secret": false}
	if createdAtMs > 0 {
		body["createdAt"] = createdAtMs
	}
	var out one[struct {
		NoteID string `json:"noteId"`
	}]
	err = c.do(ctx, a, http.MethodPost, p+"/notes", performAs(asUserID), body, &out)
	return out.Data.NoteID, err
}

// UserByEmail finds the active Lever user with that e-mail (case is
// ignored); ErrNotFound when there is none.
func (c *Client) UserByEmail(ctx context.Context, a Auth, email string) (User, error) {
	if email == "" {
		return User{}, errors.New("lever: an e-mail is required")
	}
	users, err := list[User](ctx, c, a, "/users", url.Values{"email": {email}})
	if err != nil {
		return User{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, email) && u.DeactivatedAt == nil {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("%w: no active Lever user has that e-mail", ErrNotFound)
}
