// Package graph simulates the mail part of Microsoft Graph v1.0: messages,
// sending, replies, mail folders, delta queries, subscriptions with change
// and lifecycle notifications, per-mailbox throttling, and an outside world
// of mailboxes and external inboxes that messages are delivered to.
package graph

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Identity is what Graph needs from the identity platform.
type Identity interface {
	Introspect(token string) (simcore.Principal, error)
	LookupPerson(idOrUPN string) (simcore.Person, bool)
	// LookupMailbox finds the user an SMTP address delivers to (primary or
	// proxy address; a UPN only when it is one of them).
	LookupMailbox(address string) (simcore.Person, bool)
}

// Config wires a Service.
type Config struct {
	Clock    *simcore.Clock
	IDs      *simcore.IDs
	Counters *simcore.Counters
	Faults   *simcore.Faults
	Logger   *slog.Logger
	Identity Identity
	// BaseURL is where Graph is reached ("http://127.0.0.1:9202"); nextLink and
	// deltaLink URLs are built from it.
	BaseURL string
	// HTTPClient sends validation requests and notifications. Nil means a
	// client of its own.
	HTTPClient *http.Client
	// AllowHTTPLoopback accepts http:// notification URLs on loopback hosts;
	// Graph accepts only https.
	AllowHTTPLoopback bool
}

// Service is the simulated Graph. It is safe for concurrent use.
type Service struct {
	clock    *simcore.Clock
	ids      *simcore.IDs
	counters *simcore.Counters
	faults   *simcore.Faults
	log      *slog.Logger
	identity Identity
	base     string
	notifier *notifier

	allowHTTPLoopback bool
	closeOnce         sync.Once
	ops               map[string]func(*request) *graphError

	limMu   sync.Mutex
	limits  simclient.GraphLimits
	usage   map[string]*usage     // by app and mailbox
	sending map[string]*sendUsage // by mailbox (user id)

	mu            sync.Mutex
	mailboxes     map[string]*mailbox   // by user id
	external      map[string][]*message // by lower-case address
	byInternetID  map[string][]*message
	undeliverable map[string]string // lower-case address -> SMTP reason
	subs          map[string]*subscription
	deltas        map[string]*deltaState
	outbox        []queuedSend // submissions held back by the message rate
	uploads       map[string]*uploadSession

	stopRelease chan struct{}
	released    chan struct{}
}

// New returns an empty Graph.
func New(cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			client.Transport = t.Clone()
		}
	}
	s := &Service{
		clock:    cfg.Clock,
		ids:      cfg.IDs,
		counters: cfg.Counters,
		faults:   cfg.Faults,
		log:      log,
		identity: cfg.Identity,
		base:     cfg.BaseURL,

		allowHTTPLoopback: cfg.AllowHTTPLoopback,
	}
	s.notifier = newNotifier(client, s)
	s.ops = s.handlers()
	s.Reset()
	s.stopRelease, s.released = make(chan struct{}), make(chan struct{})
	go s.releaseLoop()
	return s
}

// Reset forgets every mailbox, subscription and delta token, cancels pending
// notifications and restores the default limits.
func (s *Service) Reset() {
	s.notifier.reset()
	s.limMu.Lock()
	s.limits = withDefaults(simclient.GraphLimits{})
	s.usage = map[string]*usage{}
	s.sending = map[string]*sendUsage{}
	s.limMu.Unlock()
	s.mu.Lock()
	s.mailboxes = map[string]*mailbox{}
	s.external = map[string][]*message{}
	s.byInternetID = map[string][]*message{}
	s.undeliverable = map[string]string{}
	s.subs = map[string]*subscription{}
	s.deltas = map[string]*deltaState{}
	s.outbox = nil
	s.uploads = map[string]*uploadSession{}
	s.mu.Unlock()
}

// releaseLoop sends held submissions when they fall due, also when nobody
// calls Graph.
func (s *Service) releaseLoop() {
	defer close(s.released)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.ReleaseOutbox()
		case <-s.stopRelease:
			return
		}
	}
}

// Close stops notification deliveries and the outbox, and waits for them.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.stopRelease) })
	<-s.released
	s.notifier.close()
}

// graphError is Graph's error body.
type graphError struct {
	status     int
	code       string
	message    string
	retryAfter string
}

func gerr(status int, code, message string) *graphError {
	return &graphError{status: status, code: code, message: message}
}

var (
	errNotFound = func() *graphError {
		return gerr(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	}
	errAccessDenied = func() *graphError {
		return gerr(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	}
)

func badRequest(code, message string) *graphError { return gerr(http.StatusBadRequest, code, message) }

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, e *graphError) {
	date := s.clock.Now().Format("2006-01-02T15:04:05")
	inner := obj{{"date", date}, {"request-id", w.Header().Get("request-id")}, {"client-request-id", w.Header().Get("client-request-id")}}
	if e.status == http.StatusTooManyRequests {
		// Throttling answers carry Graph's own shape: code and status as
		// strings around the date and request id, no client-request-id.
		inner = obj{{"code", "429"}, {"date", date}, {"request-id", w.Header().Get("request-id")}, {"status", "429"}}
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	s.counters.Inc("graph.errors", "graph.errors/"+e.code)
	simcore.WriteJSON(w, e.status, obj{{"error", obj{
		{"code", e.code}, {"message", e.message}, {"innerError", inner},
	}}})
}

// request is one Graph call on its way through the pipeline.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	route     route
	principal simcore.Principal
	person    simcore.Person // the mailbox owner
	immutable bool           // Prefer: IdType="ImmutableId"
	pageSize  int            // Prefer: odata.maxpagesize
	events    []event
	now       time.Time
}

// ServeHTTP serves Graph's v1.0 API and the userinfo endpoint.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.ids.GUID("graph-request")
	w.Header().Set("request-id", reqID)
	if c := r.Header.Get("client-request-id"); c != "" {
		w.Header().Set("client-request-id", c)
	} else {
		w.Header().Set("client-request-id", reqID)
	}
	s.counters.Inc("graph.requests")
	s.ReleaseOutbox()
	if strings.HasPrefix(r.URL.Path, "/upload/attachmentSessions/") {
		s.serveUpload(w, r)
		return
	}
	rt, rerr := parseRoute(r.Method, r.URL.Path)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	s.counters.Inc("graph." + rt.op)
	req := &request{w: w, r: r, route: rt, now: s.clock.Now()}
	if e := s.authenticate(req); e != nil {
		s.writeError(w, r, e)
		return
	}
	s.counters.Inc("graph." + rt.op + "/user=" + req.person.UserPrincipalName)
	if e := checkScope(rt.op, req.principal); e != nil {
		s.writeError(w, r, e)
		return
	}
	release, e := s.admit(req.key(), "app="+req.principal.ClientID+"/user="+req.person.UserPrincipalName)
	if e != nil {
		s.counters.Inc("graph.throttled", "graph.throttled/user="+req.person.UserPrincipalName)
		s.writeError(w, r, e)
		return
	}
	defer release()
	if f := s.faults.Apply(r.Context(), "graph."+rt.op, req.person.UserPrincipalName); f != nil {
		s.counters.Inc("graph.faults")
		s.writeError(w, r, faultError(f))
		return
	}
	s.parsePrefer(req)
	if e := s.ops[rt.op](req); e != nil {
		s.writeError(w, r, e)
	}
	s.dispatch(req.events)
}

func faultError(f *simclient.Fault) *graphError {
	e := &graphError{status: f.Status, retryAfter: f.RetryAfter}
	switch f.Status {
	case http.StatusTooManyRequests:
		e.code, e.message = "TooManyRequests", "Please retry again later."
	case http.StatusServiceUnavailable:
		e.code, e.message = "serviceNotAvailable", "The service is temporarily unavailable. Please retry later."
	case http.StatusGatewayTimeout:
		e.code, e.message = "UnknownError", "Gateway timeout."
	case http.StatusBadGateway:
		e.code, e.message = "UnknownError", "Bad gateway."
	default:
		e.code, e.message = "generalException", "An unexpected error occurred."
	}
	return e
}

// authenticate checks the bearer token and settles whose mailbox the call is
// about: a delegated token reaches only its own user's mailbox.
func (s *Service) authenticate(req *request) *graphError {
	h := req.r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(h, "bearer ")
	}
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return gerr(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	}
	p, err := s.identity.Introspect(token)
	switch {
	case errors.Is(err, simcore.ErrTokenExpired):
		return gerr(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	case err != nil:
		return gerr(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	}
	req.principal = p
	owner, _ := s.identity.LookupPerson(p.UserID)
	if req.route.user != "" && req.route.user != "me" {
		other, ok := s.identity.LookupPerson(req.route.user)
		if !ok {
			return gerr(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+req.route.user+"' is invalid.")
		}
		if other.ID != owner.ID {
			return errAccessDenied()
		}
	}
	req.person = owner
	return nil
}

func (s *Service) parsePrefer(req *request) {
	for _, h := range req.r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			part = strings.TrimSpace(part)
			k, v, _ := strings.Cut(part, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "idtype":
				if strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "ImmutableId") {
					req.immutable = true
					req.w.Header().Add("Preference-Applied", `IdType="ImmutableId"`)
				}
			case "odata.maxpagesize":
				var n int
				if err := json.Unmarshal([]byte(strings.TrimSpace(v)), &n); err == nil && n > 0 {
					req.pageSize = n
				}
			}
		}
	}
}

// scopeNeeds lists, per operation, the scopes of which the token needs one.
var readMail = []string{"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}

var scopeNeeds = map[string][]string{
	"getUser":                 {"User.Read", "User.ReadBasic.All"},
	"userinfo":                {"openid"},
	"sendMail":                {"Mail.Send"},
	"sendDraft":               {"Mail.Send"},
	"reply":                   {"Mail.Send"},
	"replyAll":                {"Mail.Send"},
	"createMessage":           {"Mail.ReadWrite"},
	"updateMessage":           {"Mail.ReadWrite"},
	"deleteMessage":           {"Mail.ReadWrite"},
	"moveMessage":             {"Mail.ReadWrite"},
	"createReply":             {"Mail.ReadWrite"},
	"createReplyAll":          {"Mail.ReadWrite"},
	"addAttachment":           {"Mail.ReadWrite"},
	"createUploadSession":     {"Mail.ReadWrite"},
	"listMessages":            readMail,
	"getMessage":              readMail,
	"listFolders":             readMail,
	"getFolder":               readMail,
	"delta":                   readMail,
	"createSubscription":      readMail,
	"listSubscriptions":       nil,
	"getSubscription":         nil,
	"updateSubscription":      nil,
	"deleteSubscription":      nil,
	"reauthorizeSubscription": nil,
}

func checkScope(op string, p simcore.Principal) *graphError {
	need := scopeNeeds[op]
	if len(need) == 0 || p.HasAny(need...) {
		return nil
	}
	return errAccessDenied()
}

func (s *Service) handlers() map[string]func(*request) *graphError {
	return map[string]func(*request) *graphError{
		"getUser":                 s.getUser,
		"userinfo":                s.userinfo,
		"sendMail":                s.sendMail,
		"createMessage":           s.createMessage,
		"listMessages":            s.listMessages,
		"getMessage":              s.getMessage,
		"updateMessage":           s.updateMessage,
		"deleteMessage":           s.deleteMessage,
		"moveMessage":             s.moveMessage,
		"sendDraft":               s.sendDraft,
		"reply":                   s.reply,
		"replyAll":                s.reply,
		"createReply":             s.createReply,
		"createReplyAll":          s.createReply,
		"addAttachment":           s.addAttachment,
		"createUploadSession":     s.createUploadSession,
		"listFolders":             s.listFolders,
		"getFolder":               s.getFolder,
		"delta":                   s.delta,
		"createSubscription":      s.createSubscription,
		"listSubscriptions":       s.listSubscriptions,
		"getSubscription":         s.getSubscription,
		"updateSubscription":      s.updateSubscription,
		"deleteSubscription":      s.deleteSubscription,
		"reauthorizeSubscription": s.reauthorizeSubscription,
	}
}

func (s *Service) getUser(req *request) *graphError {
	p := req.person
	out := obj{
		{"@odata.context", s.base + "/v1.0/$metadata#users/$entity"},
		{"businessPhones", []string{}},
		{"displayName", p.DisplayName},
		{"givenName", nullable(p.GivenName)},
		{"jobTitle", nullable(p.JobTitle)},
		{"mail", nullable(p.Mail)},
		{"mobilePhone", nil},
		{"officeLocation", nil},
		{"preferredLanguage", "en-US"},
		{"surname", nullable(p.Surname)},
		{"userPrincipalName", p.UserPrincipalName},
		{"id", p.ID},
	}
	// Graph returns proxyAddresses only when $select names it: "SMTP:"
	// marks the primary address, "smtp:" the others.
	for _, f := range strings.Split(req.r.URL.Query().Get("$select"), ",") {
		if strings.EqualFold(strings.TrimSpace(f), "proxyAddresses") {
			proxies := []string{}
			for _, a := range p.ProxyAddresses {
				if strings.EqualFold(a, p.Mail) {
					proxies = append(proxies, "SMTP:"+a)
				} else {
					proxies = append(proxies, "smtp:"+a)
				}
			}
			out = append(out, kv{"proxyAddresses", proxies})
		}
	}
	simcore.WriteJSON(req.w, http.StatusOK, out)
	return nil
}

func (s *Service) userinfo(req *request) *graphError {
	p := req.person
	out := obj{
		{"sub", simcore.PairwiseSubject(req.principal.ClientID, p.ID)},
		{"name", p.DisplayName},
		{"family_name", p.Surname},
		{"given_name", p.GivenName},
		{"picture", s.base + "/v1.0/me/photo/$value"},
	}
	if req.principal.HasAny("email") && !p.OmitEmailClaim && p.Mail != "" {
		out = append(out, kv{"email", p.Mail})
	}
	simcore.WriteJSON(req.w, http.StatusOK, out)
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
