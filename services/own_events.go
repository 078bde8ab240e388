package services

import (
	"context"

	"github.com/authd/authd/models"
)

// OwnSecurityEvents returns one page of the security events about the
// signed-in user, newest first, for the account page's recent activity:
// sign-ins, failed sign-ins, revocations, reuse detections. Only events whose
// user is p's are read. The one field that can name somebody else, the
// actor of an admin's revocation, is left out (nil) unless the actor is the
// user: the event's type and reason already say an administrator did it.
// Returns CodeInvalidRequest for a bad limit or cursor.
func (a *Accounts) OwnSecurityEvents(ctx context.Context, p Principal, cursor string, limit int) (EventPage, error) {
	var page EventPage
	uid := p.UserID
	q := EventQuery{UserID: &uid, Cursor: cursor, Limit: limit}
	next, err := eachSecurityEvent(ctx, a.db, q, func(ev *models.SecurityEvent) error {
		if ev.ActorUserID != nil && *ev.ActorUserID != uid {
			ev.ActorUserID = nil
		}
		page.Events = append(page.Events, *ev)
		return nil
	})
	page.NextCursor = next
	return page, err
}
