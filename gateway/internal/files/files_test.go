package files_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/files"
	"github.com/tandemhq/tandem/gateway/internal/rest"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// outreach is a stand-in for the outreach service's file RPCs: it keeps
// the last upload and serves one file.
type outreach struct {
	outreachv1.UnimplementedOutreachServiceServer
	mu       sync.Mutex
	meta     *outreachv1.UploadCandidateFileMetadata
	got      []byte
	auth     []string
	received atomic.Int64
	file     []byte
	name     string
}

func (o *outreach) UploadCandidateFile(stream grpc.ClientStreamingServer[outreachv1.UploadCandidateFileRequest, outreachv1.UploadCandidateFileResponse]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if len(md.Get("authorization")) == 0 {
		return status.Error(codes.Unauthenticated, "authentication required")
	}
	var meta *outreachv1.UploadCandidateFileMetadata
	var buf bytes.Buffer
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if m := req.GetMetadata(); m != nil {
			meta = m
		}
		buf.Write(req.GetChunk())
		o.received.Add(int64(len(req.GetChunk())))
	}
	if meta.GetCandidateId() == "elsewhere" {
		return status.Error(codes.NotFound, "candidate not found")
	}
	o.mu.Lock()
	o.meta, o.got, o.auth = meta, buf.Bytes(), md.Get("authorization")
	o.mu.Unlock()
	sum := sha256.Sum256(buf.Bytes())
	return stream.SendAndClose(&outreachv1.UploadCandidateFileResponse{File: &outreachv1.CandidateFile{Id: "f1", CandidateId: meta.GetCandidateId(),
		Filename: meta.GetFilename(), SizeBytes: int64(buf.Len()), Sha256: hex.EncodeToString(sum[:]), ContentType: "application/pdf"}})
}

func (o *outreach) DownloadCandidateFile(req *outreachv1.DownloadCandidateFileRequest, stream grpc.ServerStreamingServer[outreachv1.DownloadCandidateFileResponse]) error {
	if req.GetFileId() == "broken" {
		// The bytes in the bucket fail their checksum after the first chunk.
		if err := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_File{File: &outreachv1.CandidateFile{
			Id: "broken", Filename: "x.pdf", SizeBytes: 2000, Sha256: strings.Repeat("00", 32), ContentType: "application/pdf"}}}); err != nil {
			return err
		}
		if err := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_Chunk{Chunk: make([]byte, 1000)}}); err != nil {
			return err
		}
		return status.Error(codes.Internal, "internal error")
	}
	if req.GetFileId() != "f1" {
		return status.Error(codes.NotFound, "file not found")
	}
	sum := sha256.Sum256(o.file)
	if err := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_File{File: &outreachv1.CandidateFile{
		Id: "f1", Filename: o.name, SizeBytes: int64(len(o.file)), Sha256: hex.EncodeToString(sum[:]), ContentType: "application/pdf"}}}); err != nil {
		return err
	}
	for b := o.file; len(b) > 0; b = b[min(len(b), 1000):] {
		if err := stream.Send(&outreachv1.DownloadCandidateFileResponse{Part: &outreachv1.DownloadCandidateFileResponse_Chunk{Chunk: b[:min(len(b), 1000)]}}); err != nil {
			return err
		}
	}
	return nil
}

func (o *outreach) GetCandidateFile(_ context.Context, req *outreachv1.GetCandidateFileRequest) (*outreachv1.GetCandidateFileResponse, error) {
	return &outreachv1.GetCandidateFileResponse{File: &outreachv1.CandidateFile{Id: req.GetFileId(), Filename: "from-the-rpc"}}, nil
}

// countingBody counts what the gateway reads of a request's body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type world struct {
	url  string
	svc  *outreach
	read atomic.Int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	svc := &outreach{file: []byte("%PDF-1.4 the file\n%%EOF\n"), name: "Ada's CV.pdf"}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	outreachv1.RegisterOutreachServiceServer(gs, svc)
	go func() {
		if err := gs.Serve(lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(gs.Stop)
	g, err := rest.New(t.Context(), rest.Options{Upstreams: []rest.Upstream{{Name: "outreach", Addr: lis.Addr().String(), Register: outreachv1.RegisterOutreachServiceHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	(&files.Routes{Outreach: outreachv1.NewOutreachServiceClient(g.Conn("outreach")), Log: discard()}).Register(g)
	w := &world{svc: svc}
	h := g.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = countingBody{r.Body, &w.read}
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

var client = &http.Client{Timeout: 60 * time.Second}

// answer is a response read to its end.
type answer struct {
	StatusCode int
	Header     http.Header
}

func do(t *testing.T, req *http.Request) (*answer, []byte) {
	t.Helper()
	req.Header.Set("Authorization", "Bearer tdm_test")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &answer{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

func errorOf(t *testing.T, b []byte) rest.ErrorDetail {
	t.Helper()
	var e rest.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Status == "" {
		t.Fatalf("not the error shape: %s (%v)", b, err)
	}
	return e.Error
}

func multipartBody(t *testing.T, kind, filename string, content io.Reader) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if kind != "" {
				if err := mw.WriteField("kind", kind); err != nil {
					return err
				}
			}
			fw, err := mw.CreateFormFile("file", filename)
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, content); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

func TestMultipartUploadStreamsToOutreach(t *testing.T) {
	w := newWorld(t)
	content := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB: several chunks
	body, ct := multipartBody(t, "other", "cv.pdf", bytes.NewReader(content))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/c1/files", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	resp, b := do(t, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var out struct {
		File struct {
			ID        string `json:"id"`
			SizeBytes string `json:"sizeBytes"`
		} `json:"file"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.File.ID != "f1" || out.File.SizeBytes != "1000000" {
		t.Fatalf("answer %s (%v)", b, err)
	}
	w.svc.mu.Lock()
	defer w.svc.mu.Unlock()
	if !bytes.Equal(w.svc.got, content) || w.svc.meta.GetCandidateId() != "c1" || w.svc.meta.GetFilename() != "cv.pdf" ||
		w.svc.meta.GetKind() != outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER || len(w.svc.auth) != 1 || w.svc.auth[0] != "Bearer tdm_test" {
		t.Fatalf("outreach got %v, %d bytes, auth %v", w.svc.meta, len(w.svc.got), w.svc.auth)
	}
}

func TestRawUploadNeedsAName(t *testing.T) {
	w := newWorld(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/c1/files", strings.NewReader("%PDF-"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/pdf")
	resp, b := do(t, req)
	if e := errorOf(t, b); resp.StatusCode != http.StatusBadRequest || len(e.Fields) != 1 || e.Fields[0].Field != "filename" {
		t.Fatalf("no name: %d %s", resp.StatusCode, b)
	}
	// Without a token the answer is 401, whatever is wrong with the body.
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/c1/files", strings.NewReader("%PDF-"))
	if err != nil {
		t.Fatal(err)
	}
	anon, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(anon.Body)
	anon.Body.Close()
	if err != nil || anon.StatusCode != http.StatusUnauthorized || errorOf(t, b).Status != "UNAUTHENTICATED" {
		t.Fatalf("no token: %d %s", anon.StatusCode, b)
	}
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/c1/files?filename=cv.pdf&kind=resume", strings.NewReader("%PDF-"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := do(t, req); resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw upload: %d %s", resp.StatusCode, b)
	}
	// Outreach's refusal reaches the client in the one error shape.
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/elsewhere/files?filename=cv.pdf", strings.NewReader("%PDF-"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := do(t, req); resp.StatusCode != http.StatusNotFound || errorOf(t, b).Status != "NOT_FOUND" {
		t.Fatalf("another organization's candidate: %d %s", resp.StatusCode, b)
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// sendWhileReading sends req on a connection of its own and reads the
// answer while the body is still going out, as a browser does: the
// gateway answers an upload that is too large before the client has sent
// it all, and then stops reading, so a client that only reads after
// writing would see its write fail instead of the answer.
func sendWhileReading(t *testing.T, base string, req *http.Request) (*answer, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tdm_test")
	go func() { _ = req.Write(conn) }() //nolint:errcheck // the write is cut short once the gateway has answered
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &answer{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

// onlyReader hides a body's length, so it is sent chunked.
type onlyReader struct{ io.Reader }

func want413(t *testing.T, resp *answer, b []byte) {
	t.Helper()
	e := errorOf(t, b)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Code != http.StatusRequestEntityTooLarge || e.Status != "INVALID_ARGUMENT" {
		t.Fatalf("want 413, got %d %s", resp.StatusCode, b)
	}
}

func TestElevenMegabytesAreRefusedWithoutReadingPastTheLimit(t *testing.T) {
	const eleven = 11 * 1024 * 1024
	for name, tc := range map[string]struct {
		body     func(t *testing.T) (io.Reader, string)
		maxRead  int64
		withSize bool
	}{
		// The file alone may not pass the limit: one byte past it says so.
		"raw, chunked": {func(*testing.T) (io.Reader, string) {
			return onlyReader{io.LimitReader(endless{}, eleven)}, "application/pdf"
		},
			files.MaxFileBytes + 1, false},
		// Its Content-Length says it all: nothing is read.
		"raw, with its length": {func(*testing.T) (io.Reader, string) { return bytes.NewReader(make([]byte, eleven)), "application/pdf" }, 0, true},
		// Multipart: the file part is cut one byte past the limit too; the
		// multipart reader reads a little ahead of it, never past the
		// route's cap on the body.
		"multipart": {func(t *testing.T) (io.Reader, string) {
			return multipartBody(t, "resume", "big.pdf", io.LimitReader(endless{}, eleven))
		}, files.MaxBodyBytes + 1, false},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			body, ct := tc.body(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/candidates/c1/files?filename=big.pdf", body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.withSize {
				req.ContentLength = eleven
			}
			req.Header.Set("Content-Type", ct)
			resp, b := sendWhileReading(t, w.url, req)
			want413(t, resp, b)
			if n := w.read.Load(); n > tc.maxRead {
				t.Fatalf("the gateway read %d bytes of the body, more than %d", n, tc.maxRead)
			}
			if n := w.svc.received.Load(); n > files.MaxFileBytes {
				t.Fatalf("outreach was sent %d bytes", n)
			}
		})
	}
}

func TestDownloadSendsTheBytesWithTypeNameAndChecksum(t *testing.T) {
	w := newWorld(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+"/v1/candidates/c1/files/f1:download", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, req)
	sum := sha256.Sum256(w.svc.file)
	h := resp.Header
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, w.svc.file) || h.Get("Content-Type") != "application/pdf" ||
		h.Get("Content-Length") != "24" || h.Get("Repr-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %v %q", resp.StatusCode, h, b)
	}
	if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err != nil || params["filename"] != "Ada's CV.pdf" {
		t.Fatalf("Content-Disposition %q: %v %v", h.Get("Content-Disposition"), params, err)
	}

	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+"/v1/candidates/c1/files/nope:download", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := do(t, req); resp.StatusCode != http.StatusNotFound || errorOf(t, b).Status != "NOT_FOUND" {
		t.Fatalf("unknown file: %d %s", resp.StatusCode, b)
	}
	// A download that fails midway is cut short, never passed off whole.
	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+"/v1/candidates/c1/files/broken:download", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tdm_test")
	broken, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(broken.Body)
	broken.Body.Close()
	if broken.StatusCode != http.StatusOK || !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1000 {
		t.Fatalf("broken download: %d, %d bytes, %v; want the body cut short", broken.StatusCode, len(got), err)
	}

	// Without ":download" the path is GetCandidateFile's.
	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+"/v1/candidates/c1/files/f1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := do(t, req); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "from-the-rpc") {
		t.Fatalf("get: %d %s", resp.StatusCode, b)
	}
}

func TestContentDispositionIsSafe(t *testing.T) {
	for name, want := range map[string]string{
		"cv.pdf":                "cv.pdf",
		`a"b\c.pdf`:             "a_b_c.pdf",
		"x\r\nSet-Cookie: y":    "xSet-Cookie: y",
		"Lebenslauf Jürgen.pdf": "Lebenslauf Jürgen.pdf",
	} {
		v := files.ContentDisposition(name)
		if strings.ContainsAny(v, "\r\n") {
			t.Fatalf("%q: header breaks: %q", name, v)
		}
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" || params["filename"] != want {
			t.Errorf("%q: %q parses to %s %v (%v), want filename %q", name, v, disp, params, err, want)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
