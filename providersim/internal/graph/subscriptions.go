package graph

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// maxSubscriptionLifetime is the longest an Outlook message subscription
// without resource data may live.
const maxSubscriptionLifetime = 10080 * time.Minute

type subscription struct {
	id              string
	clientID        string
	tenantID        string
	userID          string
	upn             string
	resource        string
	folderID        string // empty: every message of the mailbox
	changeType      string
	notificationURL string
	lifecycleURL    string
	clientState     string
	expires         time.Time
	needsReauth     bool
	immutableIDs    bool
}

func subTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func (s *Service) subscriptionJSON(sub *subscription) obj {
	return obj{
		{"@odata.context", s.base + "/v1.0/$metadata#subscriptions/$entity"},
		{"id", sub.id},
		{"resource", sub.resource},
		{"applicationId", sub.clientID},
		{"changeType", sub.changeType},
		{"clientState", nullable(sub.clientState)},
		{"notificationUrl", sub.notificationURL},
		{"notificationQueryOptions", nil},
		{"lifecycleNotificationUrl", nullable(sub.lifecycleURL)},
		{"expirationDateTime", subTime(sub.expires)},
		{"creatorId", sub.userID},
		{"includeResourceData", false},
		{"latestSupportedTlsVersion", "v1_2"},
		{"encryptionCertificate", nil},
		{"encryptionCertificateId", nil},
		{"notificationUrlAppId", nil},
	}
}

func invalidSub(msg string) *graphError { return badRequest("InvalidRequest", msg) }

// checkNotificationURL refuses what Graph refuses: anything but an absolute
// https URL. With allowHTTPLoopback, http URLs of loopback hosts pass too,
// for receivers on the local machine (make run, tests).
func (s *Service) checkNotificationURL(field, raw string) *graphError {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return invalidSub("Invalid " + field + "='" + raw + "'.")
	}
	if u.Scheme == "http" && (!s.allowHTTPLoopback || !isLoopback(u.Hostname())) {
		return invalidSub(strings.ToUpper(field[:1]) + field[1:] + " scheme='http' is not supported.")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Service) checkExpiry(raw string, now time.Time) (time.Time, *graphError) {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, invalidSub("expirationDateTime is not a valid date and time.")
	}
	if !t.After(now) {
		return time.Time{}, invalidSub("Subscription expiration can only be in the future.")
	}
	if t.Sub(now) > maxSubscriptionLifetime {
		return time.Time{}, invalidSub(fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", int(maxSubscriptionLifetime/time.Minute)))
	}
	return t, nil
}

// resolveResourceLocked reads a subscription resource such as
// /me/mailFolders('inbox')/messages and returns the folder it watches.
func (s *Service) resolveResourceLocked(resource string, owner simcore.Person) (string, *graphError) {
	segs := splitSegments(resource)
	bad := invalidSub("The resource '" + resource + "' is not supported. Use me/messages or me/mailFolders('{id}')/messages.")
	if len(segs) < 2 {
		return "", bad
	}
	switch strings.ToLower(segs[0]) {
	case "me":
		segs = segs[1:]
	case "users":
		p, ok := s.identity.LookupPerson(segs[1])
		if !ok || p.ID != owner.ID {
			return "", errAccessDenied()
		}
		segs = segs[2:]
	default:
		return "", bad
	}
	mb := s.mailboxLocked(owner)
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "messages"):
		return "", nil
	case len(segs) == 3 && strings.EqualFold(segs[0], "mailfolders") && strings.EqualFold(segs[2], "messages"):
		f := mb.folder(segs[1])
		if f == nil {
			return "", bad
		}
		return f.id, nil
	}
	return "", bad
}

func (s *Service) createSubscription(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in struct {
		ChangeType               string `json:"changeType"`
		NotificationURL          string `json:"notificationUrl"`
		LifecycleNotificationURL string `json:"lifecycleNotificationUrl"`
		Resource                 string `json:"resource"`
		ExpirationDateTime       string `json:"expirationDateTime"`
		ClientState              string `json:"clientState"`
		IncludeResourceData      bool   `json:"includeResourceData"`
	}
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	if in.ChangeType == "" {
		return invalidSub("changeType is required.")
	}
	for _, ct := range strings.Split(in.ChangeType, ",") {
		if ct != "created" && ct != "updated" && ct != "deleted" {
			return invalidSub("changeType '" + ct + "' is not supported for this resource.")
		}
	}
	if e := s.checkNotificationURL("notificationUrl", in.NotificationURL); e != nil {
		return e
	}
	if in.LifecycleNotificationURL != "" {
		if e := s.checkNotificationURL("lifecycleNotificationUrl", in.LifecycleNotificationURL); e != nil {
			return e
		}
	}
	if len(in.ClientState) > 128 {
		return invalidSub("clientState must be 128 characters or fewer.")
	}
	if in.IncludeResourceData {
		return invalidSub("includeResourceData needs an encryptionCertificate, which the simulator does not support.")
	}
	expires, e := s.checkExpiry(in.ExpirationDateTime, req.now)
	if e != nil {
		return e
	}
	s.mu.Lock()
	folderID, e := s.resolveResourceLocked(in.Resource, req.person)
	s.mu.Unlock()
	if e != nil {
		return e
	}
	timeout := time.Duration(s.Limits().ValidationTimeoutMs) * time.Millisecond
	urls := []string{in.NotificationURL}
	if in.LifecycleNotificationURL != "" && in.LifecycleNotificationURL != in.NotificationURL {
		urls = append(urls, in.LifecycleNotificationURL)
	}
	for _, u := range urls {
		if err := s.notifier.validate(req.r.Context(), u, timeout); err != nil {
			s.counters.Inc("graph.validations.failed")
			return badRequest("ValidationError", err.Error())
		}
	}
	sub := &subscription{
		id:              s.ids.GUID("subscription"),
		clientID:        req.principal.ClientID,
		tenantID:        req.principal.TenantID,
		userID:          req.person.ID,
		upn:             req.person.UserPrincipalName,
		resource:        in.Resource,
		folderID:        folderID,
		changeType:      in.ChangeType,
		notificationURL: in.NotificationURL,
		lifecycleURL:    in.LifecycleNotificationURL,
		clientState:     in.ClientState,
		expires:         expires,
		immutableIDs:    req.immutable,
	}
	s.mu.Lock()
	s.subs[sub.id] = sub
	s.mu.Unlock()
	simcore.WriteJSON(req.w, http.StatusCreated, s.subscriptionJSON(sub))
	return nil
}

// ownSubscriptionLocked finds a live subscription of the caller.
func (s *Service) ownSubscriptionLocked(req *request) (*subscription, *graphError) {
	sub := s.subs[req.route.subID]
	if sub == nil || sub.clientID != req.principal.ClientID || sub.userID != req.person.ID || !req.now.Before(sub.expires) {
		return nil, gerr(http.StatusNotFound, "ResourceNotFound", "The object was not found.")
	}
	return sub, nil
}

func (s *Service) getSubscription(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, e := s.ownSubscriptionLocked(req)
	if e != nil {
		return e
	}
	simcore.WriteJSON(req.w, http.StatusOK, s.subscriptionJSON(sub))
	return nil
}

func (s *Service) listSubscriptions(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	var subs []*subscription
	for _, sub := range s.subs {
		if sub.clientID == req.principal.ClientID && sub.userID == req.person.ID && req.now.Before(sub.expires) {
			subs = append(subs, sub)
		}
	}
	slices.SortFunc(subs, func(a, b *subscription) int { return strings.Compare(a.id, b.id) })
	value := make([]obj, 0, len(subs))
	for _, sub := range subs {
		value = append(value, s.subscriptionJSON(sub)[1:])
	}
	simcore.WriteJSON(req.w, http.StatusOK, obj{{"@odata.context", s.base + "/v1.0/$metadata#subscriptions"}, {"value", value}})
	return nil
}

func (s *Service) updateSubscription(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in struct {
		ExpirationDateTime string `json:"expirationDateTime"`
	}
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	expires, e := s.checkExpiry(in.ExpirationDateTime, req.now)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, e := s.ownSubscriptionLocked(req)
	if e != nil {
		return e
	}
	sub.expires = expires
	sub.needsReauth = false // a renewal also reauthorizes
	simcore.WriteJSON(req.w, http.StatusOK, s.subscriptionJSON(sub))
	return nil
}

func (s *Service) deleteSubscription(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, e := s.ownSubscriptionLocked(req)
	if e != nil {
		return e
	}
	delete(s.subs, sub.id)
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) reauthorizeSubscription(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, e := s.ownSubscriptionLocked(req)
	if e != nil {
		return e
	}
	sub.needsReauth = false
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

type pendingNotification struct {
	kind, subID, url string
	payload          []byte
}

// dispatch turns mailbox changes into change notifications for the
// subscriptions that watch them.
func (s *Service) dispatch(events []event) {
	if len(events) == 0 {
		return
	}
	var out []pendingNotification
	s.mu.Lock()
	now := s.clock.Now()
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	slices.SortFunc(subs, func(a, b *subscription) int { return strings.Compare(a.id, b.id) })
	for _, e := range events {
		for _, sub := range subs {
			if sub.userID != e.mailboxID || (sub.folderID != "" && sub.folderID != e.folderID) ||
				!allows(sub.changeType, e.changeType) || !now.Before(sub.expires) {
				continue
			}
			if sub.needsReauth {
				s.counters.Inc("graph.notifications.paused")
				continue
			}
			id := e.restID
			if sub.immutableIDs {
				id = e.key
			}
			// Microsoft's form: the user and tenant ids, then the message id.
			resource := "Users/" + sub.userID + "@" + sub.tenantID + "/Messages/" + id
			data := obj{{"@odata.type", "#Microsoft.Graph.Message"}, {"@odata.id", resource}}
			if e.changeKey != "" {
				data = append(data, kv{"@odata.etag", `W/"` + e.changeKey + `"`})
			}
			data = append(data, kv{"id", id})
			item := obj{
				{"id", s.ids.Token("notification", 9)},
				{"subscriptionId", sub.id},
				{"subscriptionExpirationDateTime", subTime(sub.expires)},
				{"changeType", e.changeType},
				{"resource", resource},
				{"resourceData", data},
				{"clientState", nullable(sub.clientState)},
				{"tenantId", sub.tenantID},
			}
			payload, _ := json.Marshal(item) //nolint:errcheck // strings, times and nested obj: always encodes
			out = append(out, pendingNotification{"change", sub.id, sub.notificationURL, payload})
		}
	}
	s.mu.Unlock()
	for _, n := range out {
		s.counters.Inc("graph.notifications")
		s.notifier.enqueueChange(n.subID, n.url, n.payload)
	}
}

// TriggerLifecycle sends a lifecycle notification for a subscription and
// applies its effect: reauthorizationRequired pauses change notifications
// until the subscription is reauthorized or renewed, subscriptionRemoved
// deletes it, missed only tells.
func (s *Service) TriggerLifecycle(id, lifecycleEvent string) error {
	s.mu.Lock()
	sub := s.subs[id]
	if sub == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: subscription %s", simcore.ErrNotFound, id)
	}
	if sub.lifecycleURL == "" {
		s.mu.Unlock()
		return fmt.Errorf("%w: subscription %s has no lifecycleNotificationUrl", simcore.ErrInvalid, id)
	}
	switch lifecycleEvent {
	case simclient.LifecycleReauthorizationRequired:
		sub.needsReauth = true
	case simclient.LifecycleSubscriptionRemoved:
		delete(s.subs, id)
	case simclient.LifecycleMissed:
	default:
		s.mu.Unlock()
		return fmt.Errorf("%w: lifecycle event %q", simcore.ErrInvalid, lifecycleEvent)
	}
	item := obj{
		{"subscriptionId", sub.id},
		{"subscriptionExpirationDateTime", subTime(sub.expires)},
		{"tenantId", sub.tenantID},
		{"clientState", nullable(sub.clientState)},
		{"lifecycleEvent", lifecycleEvent},
	}
	target := sub.lifecycleURL
	s.mu.Unlock()
	payload, _ := json.Marshal(item) //nolint:errcheck // strings and nested obj: always encodes
	s.counters.Inc("graph.lifecycle", "graph.lifecycle/"+lifecycleEvent)
	s.notifier.enqueue("lifecycle", id, target, payload)
	return nil
}

// Subscriptions lists every subscription, for the control API.
func (s *Service) Subscriptions() []simclient.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simclient.Subscription{}
	for _, sub := range s.subs {
		out = append(out, simclient.Subscription{
			ID: sub.id, ClientID: sub.clientID, Mailbox: sub.upn, Resource: sub.resource,
			ChangeType: sub.changeType, NotificationURL: sub.notificationURL,
			LifecycleNotificationURL: sub.lifecycleURL, ClientState: sub.clientState,
			ExpirationDateTime: sub.expires, NeedsReauthorization: sub.needsReauth,
		})
	}
	slices.SortFunc(out, func(a, b simclient.Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out
}
