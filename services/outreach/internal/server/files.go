package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Chunk sizes of the byte streams.
const (
	// MaxUploadChunk is the largest chunk an upload may send in one message.
	MaxUploadChunk = 1 << 20
	// downloadChunk is the size of the chunks a download sends.
	downloadChunk = 256 << 10
)

// FileStreamDeadline bounds an upload or a download. They move as fast as
// the client on the far side of the gateway, not as fast as the service,
// so the service's own bound (30 s by default) would cut off a 10 MB file
// on a slow link; the gateway gives these routes as long.
const FileStreamDeadline = 5 * time.Minute

// MaxDeadlines are the methods with a bound of their own.
var MaxDeadlines = map[string]time.Duration{
	svc + "UploadCandidateFile":   FileStreamDeadline,
	svc + "DownloadCandidateFile": FileStreamDeadline,
}

var fileKindToProto = map[string]outreachv1.CandidateFileKind{
	files.KindResume: outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME,
	files.KindOther:  outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER,
}

// fileKindFromProto is "" for UNSPECIFIED (a list of every kind; an upload
// refuses it).
func fileKindFromProto(k outreachv1.CandidateFileKind) string {
	for s, p := range fileKindToProto {
		if p == k {
			return s
		}
	}
	return ""
}

func fileProto(f store.File) *outreachv1.CandidateFile {
	return &outreachv1.CandidateFile{Id: f.ID, CandidateId: f.CandidateID, Kind: fileKindToProto[f.Kind], Filename: f.Name,
		ContentType: f.ContentType, SizeBytes: f.Size, Sha256: hex.EncodeToString(f.SHA256), UploaderUserId: f.UploaderUserID,
		CreateTime: timestamppb.New(f.CreatedAt)}
}

// chunks reads an upload's chunk messages as one stream of bytes.
type chunks struct {
	stream grpc.ClientStreamingServer[outreachv1.UploadCandidateFileRequest, outreachv1.UploadCandidateFileResponse]
	buf    []byte
}

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		req, err := c.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end, as a Reader's
		}
		if req.GetMetadata() != nil {
			return 0, apperr.InvalidArgument("metadata", "must be sent once, in the first message")
		}
		c.buf = req.GetChunk()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// UploadCandidateFile implements the RPC.
func (s *Server) UploadCandidateFile(stream grpc.ClientStreamingServer[outreachv1.UploadCandidateFileRequest, outreachv1.UploadCandidateFileResponse]) error {
	ctx := stream.Context()
	p, err := authz.Caller(ctx)
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return fieldRequired("metadata")
	}
	if err != nil {
		return err
	}
	meta := first.GetMetadata()
	if meta == nil {
		return apperr.InvalidArgument("metadata", "must be the first message, before the chunks")
	}
	f, err := s.d.Files.Upload(ctx, p, files.Upload{CandidateID: meta.GetCandidateId(), Kind: fileKindFromProto(meta.GetKind()),
		Filename: meta.GetFilename()}, &chunks{stream: stream})
	if err != nil {
		return mapErr(err, "candidate")
	}
	return stream.SendAndClose(&outreachv1.UploadCandidateFileResponse{File: fileProto(f)})
}

// ListCandidateFiles implements the RPC.
func (s *Server) ListCandidateFiles(ctx context.Context, req *outreachv1.ListCandidateFilesRequest) (*outreachv1.ListCandidateFilesResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Files.List(ctx, p, files.Query{CandidateID: req.GetCandidateId(), Kind: fileKindFromProto(req.GetKind()),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListCandidateFilesResponse{NextPageToken: page.NextPageToken, Files: []*outreachv1.CandidateFile{}}
	for _, f := range page.Files {
		out.Files = append(out.Files, fileProto(f))
	}
	return out, nil
}

// GetCandidateFile implements the RPC.
func (s *Server) GetCandidateFile(ctx context.Context, req *outreachv1.GetCandidateFileRequest) (*outreachv1.GetCandidateFileResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Files.Get(ctx, p, req.GetCandidateId(), req.GetFileId())
	if err != nil {
		return nil, mapErr(err, "file")
	}
	return &outreachv1.GetCandidateFileResponse{File: fileProto(f)}, nil
}

// DownloadCandidateFile implements the RPC.
func (s *Server) DownloadCandidateFile(req *outreachv1.DownloadCandidateFileRequest, stream grpc.ServerStreamingServer[outreachv1.DownloadCandidateFileResponse]) error {
	ctx := stream.Context()
	p, err := authz.Caller(ctx)
	if err != nil {
		return err
	}
	f, r, err := s.d.Files.Open(ctx, p, req.GetCandidateId(), req.GetFileId())
	if err != nil {
		return mapErr(err, "file")
	}
	defer r.Close()
	if err := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_File{File: fileProto(f)}}); err != nil {
		return err
	}
	buf := make([]byte, downloadChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_Chunk{Chunk: buf[:n]}}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// DeleteCandidateFile implements the RPC.
func (s *Server) DeleteCandidateFile(ctx context.Context, req *outreachv1.DeleteCandidateFileRequest) (*outreachv1.DeleteCandidateFileResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Files.Delete(ctx, p, req.GetCandidateId(), req.GetFileId()); err != nil {
		return nil, mapErr(err, "file")
	}
	return &outreachv1.DeleteCandidateFileResponse{}, nil
}

// uploadPart checks each message of an upload on its own: the metadata
// whole, a chunk's size. That the metadata comes first, once, is the
// handler's check.
func uploadPart(req any) error {
	r, ok := req.(*outreachv1.UploadCandidateFileRequest)
	if !ok {
		return errUnexpected
	}
	switch part := r.GetPart().(type) {
	case *outreachv1.UploadCandidateFileRequest_Metadata:
		m := part.Metadata
		switch {
		case m.GetCandidateId() == "":
			return fieldRequired("metadata.candidate_id")
		case m.GetKind() == outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_UNSPECIFIED:
			return fieldRequired("metadata.kind")
		case m.GetFilename() == "":
			return fieldRequired("metadata.filename")
		}
	case *outreachv1.UploadCandidateFileRequest_Chunk:
		if len(part.Chunk) > MaxUploadChunk {
			return apperr.InvalidArgument("chunk", fmt.Sprintf("must be at most %d bytes", MaxUploadChunk))
		}
	default:
		return apperr.InvalidArgument("part", "must be metadata or a chunk")
	}
	return nil
}
