package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

var tinyPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// upload sends the metadata (when given) and the content in chunks.
func upload(ctx context.Context, c outreachv1.OutreachServiceClient, meta *outreachv1.UploadCandidateFileMetadata, content []byte, chunk int) (*outreachv1.CandidateFile, error) {
	stream, err := c.UploadCandidateFile(ctx)
	if err != nil {
		return nil, err
	}
	send := func(req *outreachv1.UploadCandidateFileRequest) error {
		// A stream the server has ended answers io.EOF; its status comes
		// from CloseAndRecv.
		if err := stream.Send(req); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
	if meta != nil {
		if err := send(&outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Metadata{Metadata: meta}}); err != nil {
			return nil, err
		}
	}
	for len(content) > 0 {
		n := min(chunk, len(content))
		if err := send(&outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Chunk{Chunk: content[:n]}}); err != nil {
			return nil, err
		}
		content = content[n:]
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetFile(), err
}

func download(ctx context.Context, c outreachv1.OutreachServiceClient, candidateID, fileID string) (*outreachv1.CandidateFile, []byte, error) {
	stream, err := c.DownloadCandidateFile(ctx, &outreachv1.DownloadCandidateFileRequest{CandidateId: candidateID, FileId: fileID})
	if err != nil {
		return nil, nil, err
	}
	var meta *outreachv1.CandidateFile
	var buf bytes.Buffer
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return meta, buf.Bytes(), nil
		}
		if err != nil {
			return nil, nil, err
		}
		if f := resp.GetFile(); f != nil {
			meta = f
		}
		buf.Write(resp.GetChunk())
	}
}

func (w *world) bucketFiles() int {
	n := 0
	if err := filepath.WalkDir(w.bucketDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".attrs") {
			n++
		}
		return err
	}); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func TestFilesOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec, member := w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleMember)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	cid := created.GetCandidate().GetId()
	meta := &outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME, Filename: "cv.pdf"}
	f, err := upload(rec, w.client, meta, tinyPDF, 7)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tinyPDF)
	if f.GetContentType() != "application/pdf" || f.GetSizeBytes() != int64(len(tinyPDF)) || f.GetSha256() != hex.EncodeToString(sum[:]) ||
		f.GetFilename() != "cv.pdf" || f.GetKind() != outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME || f.GetCandidateId() != cid {
		t.Fatalf("uploaded %v", f)
	}

	// Any member reads and downloads it.
	got, body, err := download(member, w.client, cid, f.GetId())
	if err != nil || !bytes.Equal(body, tinyPDF) || got.GetSha256() != f.GetSha256() {
		t.Fatalf("download: %v %d bytes %v", got, len(body), err)
	}
	list, err := w.client.ListCandidateFiles(member, &outreachv1.ListCandidateFilesRequest{CandidateId: cid})
	if err != nil || len(list.GetFiles()) != 1 || list.GetFiles()[0].GetId() != f.GetId() {
		t.Fatalf("list: %v %v", list, err)
	}
	if g, err := w.client.GetCandidateFile(member, &outreachv1.GetCandidateFileRequest{CandidateId: cid, FileId: f.GetId()}); err != nil || g.GetFile().GetId() != f.GetId() {
		t.Fatalf("get: %v %v", g, err)
	}
	tl, err := w.client.ListTimeline(member, &outreachv1.ListTimelineRequest{CandidateId: cid, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_FILE_ADDED}})
	if err != nil || len(tl.GetEntries()) != 1 || tl.GetEntries()[0].GetFile().GetFileId() != f.GetId() {
		t.Fatalf("timeline: %v %v", tl, err)
	}

	// A member cannot upload or delete.
	_, err = upload(member, w.client, meta, tinyPDF, 1<<20)
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.DeleteCandidateFile(member, &outreachv1.DeleteCandidateFileRequest{CandidateId: cid, FileId: f.GetId()})
	wantCode(t, err, codes.PermissionDenied)

	// Another organization's candidate and file are not found, by every RPC.
	stranger := w.as(uuid.NewString(), authz.RoleAdmin)
	_, err = upload(stranger, w.client, meta, tinyPDF, 1<<20)
	wantCode(t, err, codes.NotFound)
	_, err = w.client.ListCandidateFiles(stranger, &outreachv1.ListCandidateFilesRequest{CandidateId: cid})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetCandidateFile(stranger, &outreachv1.GetCandidateFileRequest{CandidateId: cid, FileId: f.GetId()})
	wantCode(t, err, codes.NotFound)
	_, _, err = download(stranger, w.client, cid, f.GetId())
	wantCode(t, err, codes.NotFound)
	_, err = w.client.DeleteCandidateFile(stranger, &outreachv1.DeleteCandidateFileRequest{CandidateId: cid, FileId: f.GetId()})
	wantCode(t, err, codes.NotFound)

	if _, err := w.client.DeleteCandidateFile(rec, &outreachv1.DeleteCandidateFileRequest{CandidateId: cid, FileId: f.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, _, err = download(member, w.client, cid, f.GetId())
	wantCode(t, err, codes.NotFound)
}

func TestUploadRefusesBadInputNamingTheFieldAndKeepsNothing(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	cid := created.GetCandidate().GetId()
	resume := outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME
	exe := append([]byte("MZ\x90\x00\x03"), make([]byte, 4000)...)
	for field, tc := range map[string]struct {
		meta    *outreachv1.UploadCandidateFileMetadata
		content []byte
		chunk   int
	}{
		"metadata":              {nil, tinyPDF, 10},
		"metadata.candidate_id": {&outreachv1.UploadCandidateFileMetadata{Kind: resume, Filename: "cv.pdf"}, tinyPDF, 10},
		"metadata.kind":         {&outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Filename: "cv.pdf"}, tinyPDF, 10},
		"metadata.filename":     {&outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: resume}, tinyPDF, 10},
		"chunk":                 {&outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: resume, Filename: "cv.pdf"}, make([]byte, 1<<20+1), 1<<20 + 1},
		"file":                  {&outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: resume, Filename: "cv.pdf"}, exe, 1000},
	} {
		_, err := upload(rec, w.client, tc.meta, tc.content, tc.chunk)
		wantBadField(t, err, field)
	}
	// 11 MB in 1 MiB chunks is refused as too large.
	_, err = upload(rec, w.client, &outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: resume, Filename: "big.pdf"},
		append(append([]byte{}, tinyPDF...), make([]byte, 11<<20)...), 1<<20)
	st := wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(st.Message(), "at most 10485760 bytes") {
		t.Fatalf("too large: %v", st.Message())
	}
	// Metadata twice is refused.
	stream, err := w.client.UploadCandidateFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	m := &outreachv1.UploadCandidateFileRequest{Part: &outreachv1.UploadCandidateFileRequest_Metadata{Metadata: &outreachv1.UploadCandidateFileMetadata{
		CandidateId: cid, Kind: resume, Filename: "cv.pdf"}}}
	for range 2 {
		if err := stream.Send(m); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	_, err = stream.CloseAndRecv()
	wantBadField(t, err, "metadata")

	_, err = w.client.ListCandidateFiles(rec, &outreachv1.ListCandidateFilesRequest{})
	wantBadField(t, err, "candidate_id")
	_, err = w.client.GetCandidateFile(rec, &outreachv1.GetCandidateFileRequest{CandidateId: cid})
	wantBadField(t, err, "file_id")
	_, _, err = download(rec, w.client, "", "x")
	wantBadField(t, err, "candidate_id")
	_, err = w.client.DeleteCandidateFile(rec, &outreachv1.DeleteCandidateFileRequest{CandidateId: cid})
	wantBadField(t, err, "file_id")
	_, err = w.client.ListCandidateFiles(rec, &outreachv1.ListCandidateFilesRequest{CandidateId: cid, PageToken: "nonsense"})
	wantBadField(t, err, "page_token")

	if n := w.bucketFiles(); n != 0 {
		t.Fatalf("the bucket holds %d files after only refused uploads", n)
	}
	list, err := w.client.ListCandidateFiles(rec, &outreachv1.ListCandidateFilesRequest{CandidateId: cid})
	if err != nil || len(list.GetFiles()) != 0 {
		t.Fatalf("files after refused uploads: %v %v", list, err)
	}
}

func TestListCandidateFilesPages(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	cid := created.GetCandidate().GetId()
	var ids []string
	for i := range 3 {
		content := append(append([]byte{}, tinyPDF[:len(tinyPDF)-6]...), []byte(strings.Repeat("%", i+1)+"\n%%EOF\n")...)
		f, err := upload(rec, w.client, &outreachv1.UploadCandidateFileMetadata{CandidateId: cid, Kind: outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_OTHER,
			Filename: "doc.pdf"}, content, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{f.GetId()}, ids...)
	}
	var seen []string
	token := ""
	for range 3 {
		page, err := w.client.ListCandidateFiles(rec, &outreachv1.ListCandidateFilesRequest{CandidateId: cid, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.GetFiles() {
			seen = append(seen, f.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages %v, want %v newest first", seen, ids)
	}
	resumes, err := w.client.ListCandidateFiles(rec, &outreachv1.ListCandidateFilesRequest{CandidateId: cid, Kind: outreachv1.CandidateFileKind_CANDIDATE_FILE_KIND_RESUME})
	if err != nil || len(resumes.GetFiles()) != 0 {
		t.Fatalf("resumes: %v %v", resumes, err)
	}
}
