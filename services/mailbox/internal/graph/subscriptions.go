package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// InboxResource is what a mailbox's subscription watches: the messages of
// its Inbox (replies, auto-replies and NDRs all land there).
const InboxResource = "/me/mailFolders('inbox')/messages"

// MaxSubscriptionLifetime is the longest an Outlook message subscription
// without resource data may live (providers.md §3.8): just under 7 days.
const MaxSubscriptionLifetime = 10080 * time.Minute

// NewSubscription is a change-notification subscription to create.
type NewSubscription struct {
	// NotificationURL and LifecycleURL are the gateway's routes; Graph
	// validates both before it answers.
	NotificationURL string
	LifecycleURL    string
	// ClientState is the secret every notification carries back.
	ClientState string
	Expires     time.Time
}

// Subscription is a subscription as Graph returned it.
type Subscription struct {
	ID              string
	Resource        string
	NotificationURL string
	Expires         time.Time
}

type subscriptionJSON struct {
	ID                       string `json:"id,omitempty"`
	ChangeType               string `json:"changeType,omitempty"`
	NotificationURL          string `json:"notificationUrl,omitempty"`
	LifecycleNotificationURL string `json:"lifecycleNotificationUrl,omitempty"`
	Resource                 string `json:"resource,omitempty"`
	ExpirationDateTime       string `json:"expirationDateTime,omitempty"`
	ClientState              string `json:"clientState,omitempty"`
}

func (s subscriptionJSON) subscription() Subscription {
	out := Subscription{ID: s.ID, Resource: s.Resource, NotificationURL: s.NotificationURL}
	if t, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime); err == nil {
		out.Expires = t
	}
	return out
}

// CreateInboxSubscription subscribes to new messages of the mailbox's Inbox
// (201). Graph runs the validation handshake against both URLs before
// answering, so the gateway must be reachable. Not retried blindly: a
// subscription whose creation timed out may exist, and is found again
// (ListSubscriptions) or expires on its own.
func (c *Client) CreateInboxSubscription(ctx context.Context, mb Mailbox, s NewSubscription) (Subscription, error) {
	in := subscriptionJSON{
		ChangeType: "created", NotificationURL: s.NotificationURL, LifecycleNotificationURL: s.LifecycleURL,
		Resource: InboxResource, ExpirationDateTime: s.Expires.UTC().Format(time.RFC3339), ClientState: s.ClientState,
	}
	var out subscriptionJSON
	if err := c.call(ctx, mb, "createSubscription", http.MethodPost, "/subscriptions", in, http.StatusCreated, &out, false); err != nil {
		return Subscription{}, err
	}
	return out.subscription(), nil
}

// RenewSubscription moves a subscription's expiry (200); a renewal also
// reauthorises it. A subscription that is gone is an *Error wrapping
// ErrNotFound: create a new one.
func (c *Client) RenewSubscription(ctx context.Context, mb Mailbox, id string, expires time.Time) (Subscription, error) {
	in := subscriptionJSON{ExpirationDateTime: expires.UTC().Format(time.RFC3339)}
	var out subscriptionJSON
	if err := c.call(ctx, mb, "renewSubscription", http.MethodPatch, "/subscriptions/"+url.PathEscape(id), in, http.StatusOK, &out, true); err != nil {
		return Subscription{}, err
	}
	return out.subscription(), nil
}

// ReauthorizeSubscription answers reauthorizationRequired (204).
func (c *Client) ReauthorizeSubscription(ctx context.Context, mb Mailbox, id string) error {
	return c.call(ctx, mb, "reauthorizeSubscription", http.MethodPost, "/subscriptions/"+url.PathEscape(id)+"/reauthorize", nil, http.StatusNoContent, nil, true)
}

// DeleteSubscription deletes a subscription (204); one already gone is not
// an error.
func (c *Client) DeleteSubscription(ctx context.Context, mb Mailbox, id string) error {
	err := c.call(ctx, mb, "deleteSubscription", http.MethodDelete, "/subscriptions/"+url.PathEscape(id), nil, http.StatusNoContent, nil, true)
	if isNotFound(err) {
		return nil
	}
	return err
}

// ListSubscriptions lists the app's live subscriptions of the mailbox, to
// find one whose creation answer was lost.
func (c *Client) ListSubscriptions(ctx context.Context, mb Mailbox) ([]Subscription, error) {
	var out struct {
		Value []subscriptionJSON `json:"value"`
	}
	if err := c.call(ctx, mb, "listSubscriptions", http.MethodGet, "/subscriptions", nil, http.StatusOK, &out, true); err != nil {
		return nil, err
	}
	list := make([]Subscription, 0, len(out.Value))
	for _, s := range out.Value {
		list = append(list, s.subscription())
	}
	return list, nil
}

// isNotFound reports a 404 from Graph.
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}
