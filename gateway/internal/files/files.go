// Package files is the gateway's REST side of candidates' files: upload
// and download stream bytes, which grpc-gateway would hold in memory or
// wrap in JSON, so these two routes are written by hand over outreach's
// streaming RPCs. Listing, reading and deleting a file's metadata are
// ordinary RPC routes (proto/http_rules.yaml).
package files

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// Limits of the upload route.
const (
	// MaxFileBytes is the largest file outreach keeps (10 MB); the gateway
	// refuses a larger one itself, reading one byte past it at most.
	MaxFileBytes = 10 * 1024 * 1024
	// multipartOverhead is what a multipart body may hold besides the
	// file: boundaries, part headers, the kind field.
	multipartOverhead = 64 << 10
	// MaxBodyBytes caps the upload route's body.
	MaxBodyBytes = MaxFileBytes + multipartOverhead
	// chunk is the size of the messages the bytes travel in (outreach
	// takes up to 1 MiB a message).
	chunk = 256 << 10
	// Timeout bounds an upload (body included) or a download, as outreach
	// bounds their streams (server.FileStreamDeadline).
	Timeout = 5 * time.Minute
)

// Routes are the upload and download routes.
type Routes struct {
	Outreach outreachv1.OutreachServiceClient
	Log      *slog.Logger
}

// Register adds the routes to g.
func (rt *Routes) Register(g *rest.Gateway) {
	g.HandlePlain("POST /v1/candidates/{candidate}/files", http.HandlerFunc(rt.upload),
		rest.StreamBody(), rest.BodyLimit(MaxBodyBytes), rest.BodyTimeout(Timeout), rest.RequestTimeout(Timeout))
	// "{file}:download" is one path segment: the route takes the requests
	// whose path ends so (the route is chosen before the mux has set path
	// values); the others (GetCandidateFile) go to the REST API.
	g.HandlePlain("GET /v1/candidates/{candidate}/files/{file}", http.HandlerFunc(rt.download),
		rest.RequestTimeout(Timeout), rest.When(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ":download") }))
}

var kinds = map[string]outreachv1.CandidateFileKind{
	"":       outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME,
	"resume": outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME,
	"other":  outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER,
	// The enum's names, as the JSON API spells kinds elsewhere.
	"CANDIDATE_FILE_KIND_RESUME": outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME,
	"CANDIDATE_FILE_KIND_OTHER":  outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER,
}

// tooLarge is outreach's refusal of a file over the limit, which the
// gateway gives itself when it sees one.
func tooLarge() *status.Status {
	msg := fmt.Sprintf("must be at most %d bytes (10 MB)", MaxFileBytes)
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "file", Description: msg}}},
		&errdetails.ErrorInfo{Reason: "file_too_large", Domain: "tandem"})
	if err != nil {
		return status.New(codes.InvalidArgument, msg)
	}
	return st
}

func isTooLarge(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "file_too_large" {
			return true
		}
	}
	return false
}

// source is where an upload's file is in the request.
type source struct {
	body     io.Reader
	filename string
	kind     string
}

// fileSource finds the file in a multipart/form-data body (the part named
// "file"; "kind" as a field before it or in the query) or takes the raw
// body (the name in the query's filename, or Content-Disposition's).
func fileSource(r *http.Request) (source, string, string) {
	src := source{kind: r.URL.Query().Get("kind"), filename: r.URL.Query().Get("filename")}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		if src.filename == "" {
			if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
				src.filename = params["filename"]
			}
		}
		if src.filename == "" {
			return source{}, "filename", "is required: a query parameter, or the filename of Content-Disposition"
		}
		src.body = r.Body
		return src, "", ""
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return source{}, "file", "the multipart body cannot be read"
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return source{}, "file", "is required: a part named file"
		}
		if err != nil {
			return source{}, "file", "the multipart body cannot be read"
		}
		switch part.FormName() {
		case "kind":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return source{}, "kind", "cannot be read"
			}
			src.kind = strings.TrimSpace(string(b))
		case "file":
			src.body = part
			if src.filename == "" {
				src.filename = part.FileName()
			}
			if src.filename == "" {
				return source{}, "filename", "is required: the file part's filename"
			}
			return src, "", ""
		}
	}
}

func (rt *Routes) upload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stream, err := rt.Outreach.UploadCandidateFile(rest.OutgoingContext(r))
	if err != nil {
		rest.WriteError(ctx, w, status.Convert(err))
		return
	}
	src, field, problem := fileSource(r)
	kind, ok := kinds[src.kind]
	if field == "" && !ok {
		field, problem = "kind", "must be resume or other"
	}
	if field != "" {
		rt.refuse(w, r, stream, field, problem)
		return
	}
	send := func(req *outreachv1.UploadCandidateFileRequest) bool {
		// io.EOF: outreach has answered already (a refusal); the answer
		// comes with CloseAndRecv.
		return stream.Send(req) == nil
	}
	bodyRead := false
	answer := func() {
		if !bodyRead {
			// Outreach answered before the body ended (a refusal): the
			// rest is not read, and the connection cannot carry another
			// request after it.
			w.Header().Set("Connection", "close")
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			st := status.Convert(err)
			if isTooLarge(st) {
				rest.WriteErrorAs(ctx, w, st, http.StatusRequestEntityTooLarge)
				return
			}
			rest.WriteError(ctx, w, st)
			return
		}
		rt.writeJSON(w, http.StatusCreated, &outreachv1.UploadCandidateFileResponse{File: resp.GetFile()})
	}
	if !send(&outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Metadata{Metadata: &outreachv1.UploadCandidateFileMetadata{
		CandidateId: r.PathValue("candidate"), Kind: kind, Filename: src.filename}}}) {
		answer()
		return
	}
	// One byte past the limit at most: that byte says the file is too
	// large, and nothing after it is read.
	body := io.LimitReader(src.body, MaxFileBytes+1)
	buf := make([]byte, chunk)
	var sent int64
	for {
		n, err := io.ReadFull(body, buf)
		sent += int64(n)
		if sent > MaxFileBytes {
			stream.CloseSend() //nolint:errcheck // the call is abandoned; the client is told here
			rest.WriteErrorAs(ctx, w, tooLarge(), http.StatusRequestEntityTooLarge)
			return
		}
		if n > 0 && !send(&outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Chunk{Chunk: buf[:n]}}) {
			answer()
			return
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			bodyRead = true
			break
		}
		if err != nil {
			rt.bodyFailed(w, r, err)
			return
		}
	}
	answer()
}

// refuse answers a request the gateway finds wrong itself, but only once
// outreach has authenticated and authorized the caller, so a call without
// a token is 401 whatever its body, as on every other route: outreach is
// sent metadata it always refuses (no kind), and its answer counts only if
// it is about the caller.
func (rt *Routes) refuse(w http.ResponseWriter, r *http.Request, stream grpc.ClientStreamingClient[outreachv1.UploadCandidateFileRequest, outreachv1.UploadCandidateFileResponse], field, problem string) {
	w.Header().Set("Connection", "close") // the body is not read to its end
	//nolint:errcheck // a failed send shows in CloseAndRecv
	_ = stream.Send(&outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Metadata{Metadata: &outreachv1.UploadCandidateFileMetadata{
		CandidateId: r.PathValue("candidate")}}})
	_, err := stream.CloseAndRecv()
	if st := status.Convert(err); st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied || st.Code() == codes.Unavailable {
		rest.WriteError(r.Context(), w, st)
		return
	}
	rest.WriteInvalid(r.Context(), w, field, problem)
}

// bodyFailed answers a body that could not be read to its end.
func (rt *Routes) bodyFailed(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		// The body's cap is above the file's limit, so only the parts
		// around the file can reach it.
		rest.WriteErrorAs(r.Context(), w, tooLarge(), http.StatusRequestEntityTooLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		w.Header().Set("Connection", "close")
		rest.WriteErrorAs(r.Context(), w, status.New(codes.DeadlineExceeded, "the request body did not arrive in time"), http.StatusRequestTimeout)
	default:
		rt.Log.InfoContext(r.Context(), "upload body could not be read", slog.Any("error", err))
		rest.WriteInvalid(r.Context(), w, "file", "the request body could not be read")
	}
}

func (rt *Routes) download(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The server's write timeout is for JSON answers; a file may take as
	// long as the route's deadline to reach a slow client.
	rc := http.NewResponseController(w)
	//nolint:errcheck // a ResponseWriter without deadlines (a test recorder) has no connection to hold
	_ = rc.SetWriteDeadline(time.Now().Add(Timeout + 5*time.Second))
	fileID := strings.TrimSuffix(r.PathValue("file"), ":download")
	stream, err := rt.Outreach.DownloadCandidateFile(rest.OutgoingContext(r), &outreachv1.DownloadCandidateFileRequest{
		CandidateId: r.PathValue("candidate"), FileId: fileID})
	if err != nil {
		rest.WriteError(ctx, w, status.Convert(err))
		return
	}
	first, err := stream.Recv()
	if err != nil {
		rest.WriteError(ctx, w, status.Convert(err))
		return
	}
	f := first.GetFile()
	if f == nil {
		rt.Log.ErrorContext(ctx, "download: outreach sent bytes before the file's metadata")
		rest.WriteError(ctx, w, status.New(codes.Internal, "internal error"))
		return
	}
	sum, err := hex.DecodeString(f.GetSha256())
	if err != nil {
		rt.Log.ErrorContext(ctx, "download: the file's checksum is not hex", slog.String("file_id", f.GetId()))
		rest.WriteError(ctx, w, status.New(codes.Internal, "internal error"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.GetContentType())
	h.Set("Content-Length", strconv.FormatInt(f.GetSizeBytes(), 10))
	h.Set("Content-Disposition", ContentDisposition(f.GetFilename()))
	// RFC 9530: the checksum of the bytes, which a client can check.
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	h.Set("ETag", `"`+f.GetSha256()+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	var written int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The status is sent: cut the response short, so the client
			// sees a body shorter than Content-Length, not a whole file.
			rt.Log.WarnContext(ctx, "download failed midway", slog.String("file_id", f.GetId()), slog.Int64("written", written), slog.Any("error", err))
			panic(http.ErrAbortHandler)
		}
		n, err := w.Write(msg.GetChunk())
		written += int64(n)
		if err == nil {
			// Each chunk goes out as it comes: the gateway holds one at a time.
			err = rc.Flush()
		}
		if err != nil {
			return // the client has gone
		}
	}
}

// ContentDisposition is an attachment header naming the file: a plain
// ASCII name (anything else replaced by "_") that every client reads, and,
// when the name is not ASCII, the UTF-8 name as filename* (RFC 6266), which
// clients that can prefer. Control characters are dropped, so no name can
// break out of the header.
func ContentDisposition(name string) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, clean)
	v := mime.FormatMediaType("attachment", map[string]string{"filename": ascii})
	if v == "" {
		return "attachment"
	}
	for _, r := range clean {
		if r > 0x7e {
			return v + "; filename*=UTF-8''" + extValue(clean)
		}
	}
	return v
}

// extValue percent-encodes s as RFC 8187's value-chars.
func extValue(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

func (rt *Routes) writeJSON(w http.ResponseWriter, code int, resp *outreachv1.UploadCandidateFileResponse) {
	b, err := rest.MarshalJSON(resp)
	if err != nil {
		rt.Log.Error("upload: answer cannot be encoded", slog.Any("error", err))
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
