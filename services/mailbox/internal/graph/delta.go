package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrSyncReset is a delta token Graph no longer knows (syncStateNotFound,
// resyncRequired, 410 Gone): drop it and start a full round
// (providers.md §3.7).
var ErrSyncReset = errors.New("graph: the sync state is gone; a full resync is needed")

// DeltaMessage is one entry of a delta page: a message new in the Inbox,
// or one that left it.
type DeltaMessage struct {
	ID                string
	InternetMessageID string
	ConversationID    string
	ReceivedAt        time.Time
	// Removed is set for a message deleted or moved out of the Inbox.
	Removed bool
}

// DeltaPage is one page of a delta round over the Inbox.
type DeltaPage struct {
	Messages []DeltaMessage
	// NextLink continues the round; DeltaLink ends it and is the cursor of
	// the next round. One of the two is set.
	NextLink  string
	DeltaLink string
}

// deltaSelect is what a round reads of each message: enough to tell a new
// message from one already recorded; the rest is read per message.
const deltaSelect = "id,internetMessageId,conversationId,receivedDateTime"

// InboxDelta reads a page of new Inbox messages. link is the NextLink or
// DeltaLink of the page before, followed as it is; empty starts a full
// round of the messages received at or after since (zero: all). A token
// Graph no longer knows is ErrSyncReset.
func (c *Client) InboxDelta(ctx context.Context, mb Mailbox, link string, since time.Time) (DeltaPage, error) {
	path := ""
	if link == "" {
		// $top sets the page size of the round (Graph's default is 10);
		// the token keeps it for the pages after.
		q := url.Values{"$select": {deltaSelect}, "changeType": {"created"}, "$top": {"100"}}
		if !since.IsZero() {
			q.Set("$filter", "receivedDateTime ge "+since.UTC().Format(time.RFC3339))
		}
		path = "/me/mailFolders('inbox')/messages/delta?" + q.Encode()
	} else {
		if !strings.HasPrefix(link, c.base+"/") {
			return DeltaPage{}, fmt.Errorf("%w: a delta link outside Graph", ErrUnexpectedResponse)
		}
		path = strings.TrimPrefix(link, c.base)
	}
	var out struct {
		Value []struct {
			ID                string          `json:"id"`
			InternetMessageID string          `json:"internetMessageId"`
			ConversationID    string          `json:"conversationId"`
			ReceivedDateTime  string          `json:"receivedDateTime"`
			Removed           *map[string]any `json:"@removed"`
		} `json:"value"`
		NextLink  string `json:"@odata.nextLink"`
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := c.call(ctx, mb, "inboxDelta", http.MethodGet, path, nil, http.StatusOK, &out, true); err != nil {
		if syncReset(err) {
			return DeltaPage{}, fmt.Errorf("%w: %w", ErrSyncReset, err)
		}
		return DeltaPage{}, err
	}
	if (out.NextLink == "") == (out.DeltaLink == "") {
		return DeltaPage{}, fmt.Errorf("%w: a delta page needs exactly one of nextLink and deltaLink", ErrUnexpectedResponse)
	}
	page := DeltaPage{NextLink: out.NextLink, DeltaLink: out.DeltaLink}
	for _, v := range out.Value {
		m := DeltaMessage{ID: v.ID, InternetMessageID: v.InternetMessageID, ConversationID: v.ConversationID, Removed: v.Removed != nil}
		if t, err := time.Parse(time.RFC3339, v.ReceivedDateTime); err == nil {
			m.ReceivedAt = t
		}
		page.Messages = append(page.Messages, m)
	}
	return page, nil
}

// syncReset reports Graph's ways of saying a delta token is gone: 410
// Gone, or a 4xx whose code is syncStateNotFound or resyncRequired (in any
// case, as clients see both spellings).
func syncReset(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.StatusCode == http.StatusGone {
		return true
	}
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		(strings.EqualFold(e.Code, "syncStateNotFound") || strings.EqualFold(e.Code, "resyncRequired"))
}
