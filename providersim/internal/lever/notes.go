package lever

import (
	"net/http"

	"github.com/tandemhq/tandem/providersim/simclient"
)

func (s *Service) renderNote(n simclient.LeverNote) map[string]any {
	fields := []map[string]any{{"type": "note", "text": "note", "value": n.Value}}
	if n.Score != 0 {
		fields = append(fields, map[string]any{"type": "score-system", "text": "Rating", "value": n.Score})
	}
	comments := []map[string]any{}
	for _, c := range n.Comments {
		comments = append(comments, map[string]any{"id": c.ID, "text": c.Value, "user": c.UserID, "createdAt": c.CreatedAt})
	}
	return map[string]any{
		"id": n.ID, "text": "", "fields": fields, "user": n.UserID, "secret": n.Secret,
		"completedAt": n.CreatedAt, "createdAt": n.CreatedAt, "deletedAt": nil, "comments": comments,
	}
}

func (s *Service) listNotes(c *call) *apiError {
	s.mu.Lock()
	o, e := c.opportunity(s)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	items := []map[string]any{}
	for _, n := range o.rec.Notes {
		items = append(items, s.renderNote(n))
	}
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) getNote(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.opportunity(s)
	if e != nil {
		return e
	}
	for _, n := range o.rec.Notes {
		if n.ID == c.r.PathValue("noteId") {
			return c.data(http.StatusOK, s.renderNote(n))
		}
	}
	return notFoundErr("Note not found")
}

// createNote serves POST /opportunities/:id/notes: a note, or with note_id
// a comment on one. Without perform_as the note is the authorizing user's.
func (s *Service) createNote(c *call) *apiError {
	var in struct {
		Value           *string `json:"value"`
		Secret          bool    `json:"secret"`
		Score           int     `json:"score"`
		NotifyFollowers bool    `json:"notifyFollowers"`
		CreatedAt       *int64  `json:"createdAt"`
	}
	if e := c.decode(&in); e != nil {
		return e
	}
	if in.Value == nil || *in.Value == "" {
		return badRequest("Missing required field: value")
	}
	if in.Score < 0 || in.Score > 4 {
		return badRequest("Invalid score: must be between 1 and 4")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.opportunity(s)
	if e != nil {
		return e
	}
	performer, e := c.performAs(false)
	if e != nil {
		return e
	}
	uid := c.actor
	if performer != nil {
		uid = performer.ID
	}
	now := s.nowMs()
	created := now
	if in.CreatedAt != nil {
		created = *in.CreatedAt
	}
	n := simclient.LeverNote{ID: s.ids.GUID("lever-note"), Value: *in.Value, Secret: in.Secret, Score: in.Score, UserID: uid, CreatedAt: created}
	if parent := c.r.URL.Query().Get("note_id"); parent != "" {
		for i := range o.rec.Notes {
			if o.rec.Notes[i].ID == parent {
				o.rec.Notes[i].Comments = append(o.rec.Notes[i].Comments, n)
				s.record(o, "comment", uid, "api", now)
				return c.data(http.StatusCreated, map[string]string{"noteId": parent})
			}
		}
		return notFoundErr("Note not found")
	}
	o.rec.Notes = append(o.rec.Notes, n)
	s.record(o, "note", uid, "api", now)
	s.counters.Inc("lever.notes.created")
	return c.data(http.StatusCreated, map[string]string{"noteId": n.ID})
}
