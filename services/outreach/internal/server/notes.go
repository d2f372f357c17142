package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func visibilityToProto(private bool) outreachv1.NoteVisibility {
	if private {
		return outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE
	}
	return outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC
}

func noteProto(n store.Note) *outreachv1.Note {
	return &outreachv1.Note{Id: n.ID, CandidateId: n.CandidateID, AuthorUserId: n.AuthorUserID, Body: n.Body,
		Visibility: visibilityToProto(n.Private), CreateTime: timestamppb.New(n.CreatedAt), UpdateTime: timestamppb.New(n.UpdatedAt)}
}

// CreateNote implements the RPC.
func (s *Server) CreateNote(ctx context.Context, req *outreachv1.CreateNoteRequest) (*outreachv1.CreateNoteResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	private := req.GetNote().GetVisibility() == outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE
	n, err := s.d.Notes.Create(ctx, p, req.GetCandidateId(), req.GetNote().GetBody(), private)
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.CreateNoteResponse{Note: noteProto(n)}, nil
}

// ListNotes implements the RPC.
func (s *Server) ListNotes(ctx context.Context, req *outreachv1.ListNotesRequest) (*outreachv1.ListNotesResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := s.d.Notes.List(ctx, p, req.GetCandidateId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListNotesResponse{}
	for _, n := range ns {
		out.Notes = append(out.Notes, noteProto(n))
	}
	return out, nil
}

// UpdateNote implements the RPC.
func (s *Server) UpdateNote(ctx context.Context, req *outreachv1.UpdateNoteRequest) (*outreachv1.UpdateNoteResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.d.Notes.Update(ctx, p, req.GetNote().GetId(), notes.Update{Paths: req.GetUpdateMask().GetPaths(), Body: req.GetNote().GetBody(),
		Private: req.GetNote().GetVisibility() == outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE})
	if err != nil {
		return nil, mapErr(err, "note")
	}
	return &outreachv1.UpdateNoteResponse{Note: noteProto(n)}, nil
}

// DeleteNote implements the RPC.
func (s *Server) DeleteNote(ctx context.Context, req *outreachv1.DeleteNoteRequest) (*outreachv1.DeleteNoteResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Notes.Delete(ctx, p, req.GetNoteId()); err != nil {
		return nil, mapErr(err, "note")
	}
	return &outreachv1.DeleteNoteResponse{}, nil
}

// noteVisibility checks that a note names its visibility where it is set:
// left unspecified, a private note would become public.
func noteVisibility(note func(any) (*outreachv1.Note, []string, bool)) func(any) error {
	return func(req any) error {
		n, paths, ok := note(req)
		if !ok {
			return errUnexpected
		}
		if n == nil {
			return fieldRequired("note")
		}
		if (paths == nil || slices.Contains(paths, "visibility")) && n.GetVisibility() == outreachv1.NoteVisibility_NOTE_VISIBILITY_UNSPECIFIED {
			return fieldRequired("note.visibility")
		}
		return nil
	}
}
