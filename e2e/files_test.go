package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// resumePDF is a small, whole PDF.
var resumePDF = []byte("%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
	"% Grace Hopper, Rear Admiral\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// multipartUpload is a multipart/form-data body holding one file.
func multipartUpload(t *testing.T, kind, filename string, content []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("kind", kind); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// raw sends a request with a's token and returns the status, headers and
// body.
func (a api) raw(method, path, contentType string, body io.Reader) (int, http.Header, []byte) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.t.Context(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.s.GatewayURL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// postWhileReading sends a body the gateway refuses before it has all
// arrived, reading the answer as the body goes out (a client that only
// reads after writing would see its write cut off instead).
func (a api) postWhileReading(path, contentType string, body io.Reader) (int, []byte) {
	a.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.s.GatewayURL, "http://"))
	if err != nil {
		a.t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		a.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), http.MethodPost, a.s.GatewayURL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", contentType)
	go func() { _ = req.Write(conn) }() //nolint:errcheck // the write is cut off once the gateway has answered
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// storedFiles lists the files outreach's bucket holds (without fileblob's
// attribute files beside them).
func storedFiles(t *testing.T, s *stack.Stack) []string {
	t.Helper()
	var out []string
	if err := filepath.WalkDir(s.FilesDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".attrs") {
			out = append(out, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// onlyBytes hides a body's length, so it is sent chunked.
type onlyBytes struct{ io.Reader }

// A recruiter uploads a resume through the gateway; it is listed,
// downloaded byte for byte with its type, name and checksum, and on the
// candidate's timeline. A program renamed cv.pdf and an 11 MB file are
// refused, and nothing of them is kept.
func TestOutreach_ResumeUpload(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Grace Hopper", Emails: []string{"grace@navy.example"}}, created)
	cid := created.GetCandidate().GetId()
	files := "/v1/candidates/" + cid + "/files"

	body, ct := multipartUpload(t, "resume", "Grace Hopper CV.pdf", resumePDF)
	code, _, b := recruiterAPI.raw("POST", files, ct, body)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	up := &outreachv1.UploadCandidateFileResponse{}
	if err := protojson.Unmarshal(b, up); err != nil {
		t.Fatalf("upload answer %s: %v", b, err)
	}
	f := up.GetFile()
	sum := sha256.Sum256(resumePDF)
	if f.GetContentType() != "application/pdf" || f.GetSizeBytes() != int64(len(resumePDF)) || f.GetSha256() != hex.EncodeToString(sum[:]) ||
		f.GetFilename() != "Grace Hopper CV.pdf" || f.GetKind() != outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME {
		t.Fatalf("uploaded %v", f)
	}

	list := &outreachv1.ListCandidateFilesResponse{}
	recruiterAPI.must("GET", files, nil, list)
	if len(list.GetFiles()) != 1 || list.GetFiles()[0].GetId() != f.GetId() {
		t.Fatalf("list: %v", list)
	}

	code, h, got := recruiterAPI.raw("GET", files+"/"+f.GetId()+":download", "", nil)
	if code != http.StatusOK || !bytes.Equal(got, resumePDF) {
		t.Fatalf("download: %d, %d bytes", code, len(got))
	}
	if h.Get("Content-Type") != "application/pdf" || h.Get("Content-Length") != fmt.Sprint(len(resumePDF)) ||
		h.Get("Repr-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
		t.Fatalf("download headers %v", h)
	}
	if disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err != nil || disp != "attachment" || params["filename"] != "Grace Hopper CV.pdf" {
		t.Fatalf("Content-Disposition %q (%v)", h.Get("Content-Disposition"), err)
	}
	timeline := &outreachv1.ListTimelineResponse{}
	recruiterAPI.must("GET", "/v1/candidates/"+cid+"/timeline?kinds=TIMELINE_KIND_FILE_ADDED", nil, timeline)
	if len(timeline.GetEntries()) != 1 || timeline.GetEntries()[0].GetFile().GetFileId() != f.GetId() {
		t.Fatalf("timeline: %v", timeline)
	}

	// A Windows program named cv.pdf and declared a PDF is refused for
	// what it is.
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), bytes.Repeat([]byte{0}, 2048)...)
	code, _, b = recruiterAPI.raw("POST", files+"?filename=cv.pdf&kind=resume", "application/pdf", bytes.NewReader(exe))
	wantError(t, code, b, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(b), `"field":"file"`) || !strings.Contains(string(b), `"reason":"file_type_not_accepted"`) || !strings.Contains(string(b), "a Windows program") {
		t.Fatalf("the refusal should name the field and say why: %s", b)
	}

	// 11 MB is refused as too large, multipart or raw, without being read
	// to its end.
	big := append(append([]byte{}, resumePDF...), bytes.Repeat([]byte(" "), 11<<20)...)
	body, ct = multipartUpload(t, "resume", "big.pdf", big)
	code, b = recruiterAPI.postWhileReading(files, ct, onlyBytes{body})
	wantError(t, code, b, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT")
	if !strings.Contains(string(b), `"reason":"file_too_large"`) {
		t.Fatalf("too large: %s", b)
	}
	code, b = recruiterAPI.postWhileReading(files+"?filename=big.pdf", "application/pdf", onlyBytes{bytes.NewReader(big)})
	wantError(t, code, b, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT")

	recruiterAPI.must("GET", files, nil, list)
	if len(list.GetFiles()) != 1 {
		t.Fatalf("refused uploads were kept: %v", list)
	}
	if stored := storedFiles(t, s); len(stored) != 1 {
		t.Fatalf("the bucket holds %v, want the one resume", stored)
	}

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, _, b = otherAPI.raw("GET", files+"/"+f.GetId()+":download", "", nil)
	wantError(t, code, b, http.StatusNotFound, "NOT_FOUND")
	body, ct = multipartUpload(t, "resume", "cv.pdf", resumePDF)
	code, _, b = otherAPI.raw("POST", files, ct, body)
	wantError(t, code, b, http.StatusNotFound, "NOT_FOUND")

	// Deleted, the file is gone, and its bytes follow (a job removes them).
	recruiterAPI.must("DELETE", files+"/"+f.GetId(), nil, &outreachv1.DeleteCandidateFileResponse{})
	code, _, b = recruiterAPI.raw("GET", files+"/"+f.GetId()+":download", "", nil)
	wantError(t, code, b, http.StatusNotFound, "NOT_FOUND")
	poll.Until(t, 30*time.Second, func() error {
		if stored := storedFiles(t, s); len(stored) != 0 {
			return fmt.Errorf("the bucket still holds %v", stored)
		}
		return nil
	})
}
