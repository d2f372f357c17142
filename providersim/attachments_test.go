package providersim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
)

func fileAttachment(name string, size int) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.fileAttachment", "name": name, "contentType": "application/pdf",
		"contentBytes": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'r'}, size)),
	}
}

// Requests over 4 MB get 413; files over 3 MB need an upload session.
func TestSizeLimitsAndUploadSessions(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	withFile := func(size int) map[string]any {
		m := mail(candidate)
		m["attachments"] = []any{fileAttachment("resume.pdf", size)}
		return map[string]any{"message": m}
	}
	e.graphJSON("POST", "/v1.0/me/sendMail", token, withFile(2<<20), 202)
	status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, withFile(3<<20+1))
	if status != 413 || graphErrorCode(t, raw) != "RequestEntityTooLarge" {
		t.Errorf("3 MB attachment inline: %d %.200s", status, raw)
	}
	big := mail(candidate)
	big["body"] = map[string]any{"contentType": "Text", "content": strings.Repeat("x", 4<<20)}
	if status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": big}); status != 413 {
		t.Errorf("5 MB request: %d %.200s", status, raw)
	}
	if ext, err := e.c.Messages(e.ctx, candidate, ""); err != nil || len(ext) != 1 {
		t.Errorf("delivered %d, want only the small one (err %v)", len(ext), err)
	}

	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	id := draft["id"].(string)
	small := e.graphJSON("POST", "/v1.0/me/messages/"+id+"/attachments", token, fileAttachment("note.txt", 1000), 201)
	if small["id"] == "" || small["size"] != float64(1000) || small["name"] != "note.txt" {
		t.Errorf("small attachment %v", small)
	}
	if status, _, _ := e.graphCall("POST", "/v1.0/me/messages/"+id+"/attachments", token, fileAttachment("big.pdf", 3<<20+1)); status != 413 {
		t.Errorf("big attachment by POST: %d", status)
	}
	session := func(size int) (int, map[string]any) {
		status, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+id+"/attachments/createUploadSession", token,
			map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "portfolio.pdf", "size": size}})
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("upload session: %v: %s", err, raw)
		}
		return status, out
	}
	if status, out := session(1 << 20); status != 400 || !strings.Contains(fmt.Sprint(out), "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize") {
		t.Errorf("upload session for 1 MB: %d %v", status, out)
	}
	const size = 5<<20 + 123
	status, up := session(size)
	if status != 201 || up["uploadUrl"] == nil || fmt.Sprint(up["nextExpectedRanges"]) != "[0-]" {
		t.Fatalf("upload session: %d %v", status, up)
	}
	uploadURL := up["uploadUrl"].(string)
	content := bytes.Repeat([]byte{'p'}, size)
	put := func(first, last int) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPut, uploadURL, bytes.NewReader(content[first:last+1]))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, body
	}
	if status, _, raw := put(0, 4<<20); status != 413 {
		t.Errorf("a chunk over 4 MB: %d %s", status, raw)
	}
	if status, _, raw := put(1, 100); status != 400 {
		t.Errorf("a chunk out of order: %d %s", status, raw)
	}
	status, _, raw = put(0, 4<<20-1)
	if status != 200 || !strings.Contains(string(raw), fmt.Sprintf(`"nextExpectedRanges":["%d"]`, 4<<20)) {
		t.Fatalf("first chunk: %d %s", status, raw)
	}
	status, hdr, _ := put(4<<20, size-1)
	if status != 201 || !strings.Contains(hdr.Get("Location"), "/attachments('") {
		t.Fatalf("last chunk: %d %v", status, hdr)
	}
	if got := e.graphJSON("GET", "/v1.0/me/messages/"+id, token, nil, 200); got["hasAttachments"] != true {
		t.Errorf("draft after upload %v", got["hasAttachments"])
	}
	if status, _, _ := put(0, 10); status != 404 {
		t.Errorf("a finished session: %d", status)
	}
	if s, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+id+"/send", token, nil); s != 202 {
		t.Errorf("send the draft: %d %s", s, raw)
	}
}
