package ashby

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
)

// uploadPath is the presigned POST endpoint, an S3 bucket in Ashby's case.
const uploadPath = "/s3/ashby-file-uploads"

// maxUpload is the largest file a handle may announce (UNCONFIRMED).
const maxUpload = 50 << 20

var uploadContexts = []string{"CandidateResume", "CandidateFiles", "ApplicationForm"}

// uploadSecret signs upload policies; it only has to be stable per process.
var uploadSecret = []byte("providersim-ashby-upload-policy")

func policySignature(policy string) string {
	m := hmac.New(sha256.New, uploadSecret)
	m.Write([]byte(policy))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Service) fileCreateUploadHandle(req *request) (any, *apiError) {
	var in struct {
		FileUploadContext string `json:"fileUploadContext"`
		Filename          string `json:"filename"`
		ContentType       string `json:"contentType"`
		ContentLength     *int   `json:"contentLength"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	switch {
	case in.FileUploadContext == "":
		return nil, invalid("fileUploadContext is required.")
	case !slices.Contains(uploadContexts, in.FileUploadContext):
		return nil, invalid("fileUploadContext %q is not one of CandidateResume, CandidateFiles, ApplicationForm.", in.FileUploadContext)
	case in.Filename == "":
		return nil, invalid("filename is required.")
	case in.ContentType == "":
		return nil, invalid("contentType is required.")
	case in.ContentLength == nil:
		return nil, invalid("contentLength is required.")
	case *in.ContentLength <= 0 || *in.ContentLength > maxUpload:
		return nil, invalid("contentLength must be between 1 and %d bytes.", maxUpload)
	}
	expires := req.now.Add(seconds(s.Settings().UploadURLTTLSeconds))
	f := &file{
		id: s.ids.GUID("ashby-file"), handle: s.ids.Token("ashby-handle", 24), orgID: req.org.id, keyID: req.key.id,
		name: in.Filename, contentType: in.ContentType, context: in.FileUploadContext,
		declaredLength: *in.ContentLength, expires: expires,
	}
	f.uploadKey = "uploads/" + req.org.id + "/" + f.id + "/" + in.Filename
	policyJSON, err := json.Marshal(object{
		"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"),
		"conditions": []any{
			object{"bucket": "ashby-file-uploads"},
			object{"key": f.uploadKey},
			object{"Content-Type": in.ContentType},
			[]any{"content-length-range", 0, *in.ContentLength},
		},
	})
	if err != nil {
		return nil, invalid("policy: %s", err.Error())
	}
	policy := base64.StdEncoding.EncodeToString(policyJSON)
	s.w.files[f.handle] = f
	date := req.now.UTC().Format("20060102T150405Z")
	return object{
		"handle": f.handle,
		"url":    s.base + uploadPath,
		"fields": object{
			"key": f.uploadKey, "Content-Type": in.ContentType, "policy": policy,
			"x-amz-algorithm":  "AWS4-HMAC-SHA256",
			"x-amz-credential": "AKIASIMULATOR/" + date[:8] + "/us-east-1/s3/aws4_request",
			"x-amz-date":       date,
			"x-amz-signature":  policySignature(policy),
		},
	}, nil
}

// s3Error answers as S3 does, in XML.
func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, message)
}

// serveUpload is the presigned multipart POST: every field of the handle,
// then the file, last, in a part named file. It answers 204 as S3 does.
func (s *Service) serveUpload(w http.ResponseWriter, r *http.Request) {
	s.counters.Inc("ashby.upload")
	if r.Method != http.MethodPost {
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "multipart/form-data" {
		s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
		return
	}
	fields := map[string]string{}
	var data []byte
	sawFile := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
			return
		}
		if sawFile {
			// S3 ignores what follows the file, so fields after it are lost.
			s3Error(w, http.StatusBadRequest, "InvalidArgument", "The file must be the last field of the form.")
			return
		}
		if p.FormName() == "file" {
			sawFile = true
			data, err = io.ReadAll(io.LimitReader(p, maxUpload+1))
			if err != nil {
				s3Error(w, http.StatusBadRequest, "IncompleteBody", "The request body ended early.")
				return
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, 64<<10))
		if err != nil {
			s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
			return
		}
		fields[p.FormName()] = string(v)
	}
	if !sawFile {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "POST requires exactly one file upload per request.")
		return
	}
	if policySignature(fields["policy"]) != fields["x-amz-signature"] || fields["policy"] == "" {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *file
	for _, x := range s.w.files {
		if x.uploadKey != "" && x.uploadKey == fields["key"] {
			f = x
			break
		}
	}
	switch {
	case f == nil:
		s3Error(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\"]")
	case now.After(f.expires):
		s3Error(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: Policy expired.")
	case fields["Content-Type"] != f.contentType:
		s3Error(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$Content-Type\"]")
	case len(data) > f.declaredLength:
		s3Error(w, http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
	default:
		f.data, f.uploaded = data, true
		s.counters.Inc("ashby.upload.stored")
		w.WriteHeader(http.StatusNoContent)
	}
}
