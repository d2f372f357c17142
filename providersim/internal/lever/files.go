package lever

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// maxFile is the largest file the simulator takes (Lever's own limit is
// UNCONFIRMED).
const maxFile = simcore.MaxBody

type upload struct {
	name, contentType string
	data              []byte
}

func readPart(p *multipart.Part) (*upload, *apiError) {
	data, err := io.ReadAll(io.LimitReader(p, maxFile+1))
	if err != nil {
		return nil, badRequest("Invalid multipart body")
	}
	if len(data) > maxFile {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge", message: "File too large"}
	}
	ct := p.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &upload{name: p.FileName(), contentType: ct, data: data}, nil
}

// readMultipartCreate reads a multipart create-opportunity request: the
// fields as form values (lists repeated, with or without "[]"), the resume
// in resumeFile.
func readMultipartCreate(r *http.Request) (createInput, *upload, *apiError) {
	var in createInput
	mr, err := r.MultipartReader()
	if err != nil {
		return in, nil, badRequest("Invalid multipart body")
	}
	var resume *upload
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return in, nil, badRequest("Invalid multipart body")
		}
		name := strings.TrimSuffix(p.FormName(), "[]")
		if name == "resumeFile" {
			up, e := readPart(p)
			if e != nil {
				// Whatever is wrong with the part, the answer names the field.
				return in, nil, badRequest("Invalid resumeFile")
			}
			resume = up
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(p, 64<<10))
		if err != nil {
			return in, nil, badRequest("Invalid multipart body")
		}
		v := string(raw)
		switch name {
		case "name":
			in.Name = v
		case "headline":
			in.Headline = v
		case "stage":
			in.Stage = v
		case "location":
			in.Location = v
		case "origin":
			in.Origin = v
		case "owner":
			in.Owner = v
		case "contact":
			in.Contact = v
		case "emails":
			in.Emails = append(in.Emails, v)
		case "links":
			in.Links = append(in.Links, v)
		case "tags":
			in.Tags = append(in.Tags, v)
		case "sources":
			in.Sources = append(in.Sources, v)
		case "followers":
			in.Followers = append(in.Followers, v)
		case "postings":
			in.Postings = append(in.Postings, v)
		case "phones":
			in.Phones = append(in.Phones, phone{Value: v})
		case "createdAt":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return in, nil, badRequest("Invalid createdAt")
			}
			in.CreatedAt = &n
		}
	}
	return in, resume, nil
}

func (s *Service) attachLocked(o *opportunity, kind string, u *upload, userID, via string) simclient.LeverFile {
	sum := sha256.Sum256(u.data)
	name := u.name
	if name == "" {
		name = "file"
	}
	f := simclient.LeverFile{
		ID: s.ids.GUID("lever-file"), Kind: kind, Name: name, ContentType: u.contentType, Size: int64(len(u.data)),
		SHA256: hex.EncodeToString(sum[:]), UserID: userID, UploadedAt: s.nowMs(),
	}
	o.rec.Files = append(o.rec.Files, f)
	o.blobs[f.ID] = u.data
	s.record(o, kind, userID, via, f.UploadedAt)
	return f
}

func (s *Service) renderFile(o *opportunity, f simclient.LeverFile) map[string]any {
	coll := "files"
	if f.Kind == "resume" {
		coll = "resumes"
	}
	file := map[string]any{
		"name": f.Name, "ext": strings.TrimPrefix(path.Ext(f.Name), "."), "uploadedAt": f.UploadedAt,
		"downloadUrl": s.apiURL + "/v1/opportunities/" + o.rec.ID + "/" + coll + "/" + f.ID + "/download",
		"status":      "processed", "size": f.Size,
	}
	if f.Kind == "resume" {
		return map[string]any{"id": f.ID, "createdAt": f.UploadedAt, "file": file, "parsedData": map[string]any{"positions": []any{}, "schools": []any{}}}
	}
	file["id"] = f.ID
	return file
}

func (s *Service) listFiles(kind string) handler {
	return func(c *call) *apiError {
		s.mu.Lock()
		o, e := c.opportunity(s)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		items := []map[string]any{}
		for _, f := range o.rec.Files {
			if f.Kind == kind {
				items = append(items, s.renderFile(o, f))
			}
		}
		s.mu.Unlock()
		return page(c, items)
	}
}

// uploadFile serves POST /opportunities/:id/files (multipart, field file).
func (s *Service) uploadFile(c *call) *apiError {
	mr, err := c.r.MultipartReader()
	if err != nil {
		return badRequest("Expected a multipart/form-data body with a file field")
	}
	var up *upload
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return badRequest("Invalid multipart body")
		}
		if p.FormName() == "file" {
			var e *apiError
			if up, e = readPart(p); e != nil {
				return e
			}
		}
	}
	if up == nil {
		return badRequest("Missing required field: file")
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
	f := s.attachLocked(o, "file", up, uid, "api")
	return c.data(http.StatusCreated, s.renderFile(o, f))
}

func (s *Service) downloadFile(kind string) handler {
	return func(c *call) *apiError {
		s.mu.Lock()
		o, e := c.opportunity(s)
		if e != nil {
			s.mu.Unlock()
			return e
		}
		var found *simclient.LeverFile
		for _, f := range o.rec.Files {
			if f.ID == c.r.PathValue("fileId") && f.Kind == kind {
				found = &f
			}
		}
		if found == nil {
			s.mu.Unlock()
			return notFoundErr("File not found")
		}
		data := o.blobs[found.ID]
		s.mu.Unlock()
		c.w.Header().Set("Content-Type", found.ContentType)
		c.w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(found.Name, `"`, "")+`"`)
		c.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(data) // the status and headers are sent; a failed write is a client gone, with no one left to tell
		return nil
	}
}
