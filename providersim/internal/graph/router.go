package graph

import (
	"net/http"
	"strings"
)

// route is a parsed Graph URL.
type route struct {
	op     string
	user   string // "me", a user id or UPN; empty for /subscriptions
	folder string // as written: well-known name or id
	msgID  string
	subID  string
	prefix string // the path up to and including the mailbox part, for links
}

// splitSegments splits a Graph path, turning mailFolders('inbox') into
// mailFolders / inbox.
func splitSegments(path string) []string {
	var out []string
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		if i := strings.Index(seg, "('"); i > 0 && strings.HasSuffix(seg, "')") {
			out = append(out, seg[:i], seg[i+2:len(seg)-2])
			continue
		}
		out = append(out, seg)
	}
	return out
}

func notSegment(seg string) *graphError {
	return badRequest("BadRequest", "Resource not found for the segment '"+seg+"'.")
}

func methodNotAllowed() *graphError {
	return gerr(http.StatusMethodNotAllowed, "BadRequest", "The OData request is not supported.")
}

// parseRoute maps a method and path to an operation.
func parseRoute(method, path string) (route, *graphError) {
	if path == "/oidc/userinfo" {
		if method != http.MethodGet && method != http.MethodPost {
			return route{}, methodNotAllowed()
		}
		return route{op: "userinfo"}, nil
	}
	segs := splitSegments(path)
	if len(segs) == 0 || segs[0] != "v1.0" {
		v := ""
		if len(segs) > 0 {
			v = segs[0]
		}
		return route{}, badRequest("BadRequest", "Invalid version: "+v)
	}
	segs = segs[1:]
	if len(segs) == 0 {
		return route{}, notSegment("")
	}
	lower := func(i int) string {
		if i < len(segs) {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	var rt route
	switch lower(0) {
	case "subscriptions":
		return subscriptionRoute(method, segs)
	case "me":
		rt.user, rt.prefix = "me", "/v1.0/me"
		segs = segs[1:]
	case "users":
		if len(segs) < 2 {
			return route{}, methodNotAllowed()
		}
		rt.user, rt.prefix = segs[1], "/v1.0/users/"+segs[1]
		segs = segs[2:]
	default:
		return route{}, notSegment(segs[0])
	}
	op := func(m map[string]string) (route, *graphError) {
		o, ok := m[method]
		if !ok {
			return route{}, methodNotAllowed()
		}
		rt.op = o
		return rt, nil
	}
	switch {
	case len(segs) == 0:
		return op(map[string]string{http.MethodGet: "getUser"})
	case lower(0) == "sendmail" && len(segs) == 1:
		return op(map[string]string{http.MethodPost: "sendMail"})
	case lower(0) == "messages":
		return messageRoute(rt, segs[1:], method)
	case lower(0) == "mailfolders":
		switch len(segs) {
		case 1:
			return op(map[string]string{http.MethodGet: "listFolders"})
		case 2:
			rt.folder = segs[1]
			return op(map[string]string{http.MethodGet: "getFolder"})
		default:
			rt.folder = segs[1]
			if lower(2) != "messages" {
				return route{}, notSegment(segs[2])
			}
			return messageRoute(rt, segs[3:], method)
		}
	}
	return route{}, notSegment(segs[0])
}

// messageRoute handles what follows .../messages.
func messageRoute(rt route, segs []string, method string) (route, *graphError) {
	pick := func(m map[string]string) (route, *graphError) {
		o, ok := m[method]
		if !ok {
			return route{}, methodNotAllowed()
		}
		rt.op = o
		return rt, nil
	}
	switch len(segs) {
	case 0:
		return pick(map[string]string{http.MethodGet: "listMessages", http.MethodPost: "createMessage"})
	case 1:
		if strings.EqualFold(segs[0], "delta") {
			if rt.folder == "" {
				return route{}, badRequest("BadRequest", "Delta queries on messages are supported per mail folder only: use /mailFolders/{id}/messages/delta.")
			}
			return pick(map[string]string{http.MethodGet: "delta"})
		}
		rt.msgID = segs[0]
		return pick(map[string]string{http.MethodGet: "getMessage", http.MethodPatch: "updateMessage", http.MethodDelete: "deleteMessage"})
	case 2, 3:
		rt.msgID = segs[0]
		if strings.EqualFold(segs[1], "attachments") {
			if len(segs) == 2 {
				return pick(map[string]string{http.MethodPost: "addAttachment"})
			}
			if !strings.EqualFold(segs[2], "createUploadSession") {
				return route{}, notSegment(segs[2])
			}
			return pick(map[string]string{http.MethodPost: "createUploadSession"})
		}
		if len(segs) == 3 {
			return route{}, notSegment(segs[2])
		}
		action, ok := map[string]string{
			"send": "sendDraft", "reply": "reply", "replyall": "replyAll",
			"createreply": "createReply", "createreplyall": "createReplyAll", "move": "moveMessage",
		}[strings.ToLower(segs[1])]
		if !ok {
			return route{}, notSegment(segs[1])
		}
		return pick(map[string]string{http.MethodPost: action})
	}
	return route{}, notSegment(segs[2])
}

func subscriptionRoute(method string, segs []string) (route, *graphError) {
	rt := route{}
	var m map[string]string
	switch len(segs) {
	case 1:
		m = map[string]string{http.MethodPost: "createSubscription", http.MethodGet: "listSubscriptions"}
	case 2:
		rt.subID = segs[1]
		m = map[string]string{http.MethodGet: "getSubscription", http.MethodPatch: "updateSubscription", http.MethodDelete: "deleteSubscription"}
	case 3:
		if !strings.EqualFold(segs[2], "reauthorize") {
			return route{}, notSegment(segs[2])
		}
		rt.subID = segs[1]
		m = map[string]string{http.MethodPost: "reauthorizeSubscription"}
	default:
		return route{}, notSegment(segs[3])
	}
	o, ok := m[method]
	if !ok {
		return route{}, methodNotAllowed()
	}
	rt.op = o
	return rt, nil
}
