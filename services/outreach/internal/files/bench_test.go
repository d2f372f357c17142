package files_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// bigDOCX is a DOCX of about n bytes (a stored, uncompressed image part
// makes the size).
func bigDOCX(b *testing.B, n int) []byte {
	b.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string][]byte{
		"[Content_Types].xml":   []byte(contentTypes(docxMain)),
		"word/document.xml":     []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>`),
		"word/media/image1.png": bytes.Repeat([]byte{0x89}, n),
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func bigPDF(n int) []byte {
	return append(append(tinyPDF()[:len(tinyPDF())-6], bytes.Repeat([]byte(" "), n)...), []byte("%%EOF\n")...)
}

// Sniffing a file just under the limit: what each upload costs before it is
// stored.
func BenchmarkSniff(b *testing.B) {
	for name, content := range map[string][]byte{
		"pdf_10MB":  bigPDF(files.MaxSize - 200),
		"docx_10MB": bigDOCX(b, files.MaxSize-1000),
		"doc_4KB":   compoundFile("WordDocument", wordFIB),
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(content)))
			for b.Loop() {
				if _, err := files.Sniff(content); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type noEvents struct{}

func (noEvents) Publish(context.Context, pgx.Tx, events.Event) (string, error) { return "", nil }

// A whole upload of 10 MB into a file:// bucket and Postgres: read to the
// limit, sniffed, hashed, written, recorded. Each iteration is new content
// (so none is found stored already).
func BenchmarkUpload10MB(b *testing.B) {
	pool := storetest.New(b)
	st := store.New(pool)
	bucket, err := files.OpenBucket(b.Context(), (&url.URL{Scheme: "file", Path: filepath.ToSlash(b.TempDir())}).String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bucket.Close() })
	fs := files.New(st, files.Options{Bucket: bucket, Publisher: noEvents{}})
	org := uuid.NewString()
	c, err := st.CreateCandidate(b.Context(), store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}}, "u")
	if err != nil {
		b.Fatal(err)
	}
	caller := authz.Principal{Kind: authz.KindAPIToken, OrgID: org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	content := bigPDF(files.MaxSize - 200)
	b.SetBytes(int64(len(content)))
	i := 0
	for b.Loop() {
		i++
		copy(content[20:], []byte(uuid.NewString())) // a different checksum each time
		if _, err := fs.Upload(b.Context(), caller, files.Upload{CandidateID: c.ID, Kind: files.KindResume, Filename: "cv.pdf"}, bytes.NewReader(content)); err != nil {
			b.Fatal(err)
		}
	}
}
