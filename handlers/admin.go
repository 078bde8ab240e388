package handlers

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// adminSessionResponse is the contract's `session` plus its revocation, as
// admins see it.
type adminSessionResponse struct {
	SessionResponse
	RevokedAt    *string `json:"revoked_at"`
	RevokeReason *string `json:"revoke_reason"`
}

func toAdminSessionResponse(s models.Session, current uuid.UUID) adminSessionResponse {
	r := adminSessionResponse{SessionResponse: toSessionResponse(s, current), RevokeReason: s.RevokeReason}
	if s.RevokedAt != nil {
		t := rfc3339(*s.RevokedAt)
		r.RevokedAt = &t
	}
	return r
}

// rfc3339Nano keeps the sub-second part of event times: events of one
// second must stay in order for the reader.
func rfc3339Nano(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// cursorOrNil is a next_cursor: null on the last page.
func cursorOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// uuidParam parses a path id. A path that is not a UUID names nothing:
// 404, as for an unknown id (query parameters, by contrast, are 400).
func uuidParam(c *gin.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, services.Errorf(services.CodeNotFound, "No such resource: the %s in the path is not a UUID.", name)
	}
	return id, nil
}

// limitQuery parses ?limit= (absent: 0, the service's default).
func limitQuery(c *gin.Context) (int, error) {
	raw, ok := c.GetQuery("limit")
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > services.MaxPageSize {
		return 0, invalid("limit must be a whole number from 1 to %d.", services.MaxPageSize)
	}
	return n, nil
}

func listAdminUsers(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		limit, err := limitQuery(c)
		if err != nil {
			return err
		}
		page, err := admin.Users(c.Request.Context(), c.Query("email"), c.Query("cursor"), limit)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"users": responses(page.Users, toUserResponse), "next_cursor": cursorOrNil(page.NextCursor)})
		return nil
	})
}

func listAdminUserSessions(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		state := models.SessionState(c.DefaultQuery("state", string(models.StateActive)))
		list, err := admin.UserSessions(c.Request.Context(), id, state)
		if err != nil {
			return err
		}
		current := principal(c).SessionID
		c.JSON(http.StatusOK, gin.H{"sessions": responses(list, func(s models.Session) adminSessionResponse {
			return toAdminSessionResponse(s, current)
		})})
		return nil
	})
}

func revokeAdminUserSessions(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		n, err := admin.RevokeUserSessions(c.Request.Context(), principal(c), id, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"revoked": n})
		return nil
	})
}

func revokeAdminSession(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		if err := admin.RevokeSession(c.Request.Context(), principal(c), id, meta(c)); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

// eventWord is what type= and reason= accept: the contract's snake_case
// words.
var eventWord = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// eventQuery parses the filters of GET /v1/admin/security-events.
func eventQuery(c *gin.Context) (services.EventQuery, error) {
	var q services.EventQuery
	for _, f := range []struct {
		name string
		dst  *string
	}{{"type", &q.Type}, {"reason", &q.Reason}} {
		if v := c.Query(f.name); v != "" {
			if !eventWord.MatchString(v) {
				return q, invalid("%s must be an event %s such as session_revoked or reuse_detected.", f.name, f.name)
			}
			*f.dst = v
		}
	}
	for _, f := range []struct {
		name string
		dst  **uuid.UUID
	}{{"user_id", &q.UserID}, {"session_id", &q.SessionID}} {
		if v := c.Query(f.name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				return q, invalid("%s must be a UUID.", f.name)
			}
			*f.dst = &id
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.Query(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, invalid("%s must be an RFC 3339 time such as 2026-11-22T21:04:05Z.", f.name)
			}
			*f.dst = t.UTC()
		}
	}
	var err error
	if q.Limit, err = limitQuery(c); err != nil {
		return q, err
	}
	q.Cursor = c.Query("cursor")
	return q, nil
}

func listSecurityEvents(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		q, err := eventQuery(c)
		if err != nil {
			return err
		}
		switch c.DefaultQuery("format", "json") {
		case "json":
		case "csv":
			return exportSecurityEvents(c, admin, q)
		default:
			return invalid("format must be json or csv.")
		}
		page, err := admin.SecurityEvents(c.Request.Context(), q)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toEventList(page))
		return nil
	})
}

// toEventList is the body of an event listing: one page and its cursor.
func toEventList(page services.EventPage) gin.H {
	events := responses(page.Events, func(e models.SecurityEvent) services.EventView { return services.NewEventView(&e) })
	return gin.H{"events": events, "next_cursor": cursorOrNil(page.NextCursor)}
}
