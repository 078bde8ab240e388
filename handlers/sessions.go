package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// SessionResponse is the contract's `session`: one signed-in device.
type SessionResponse struct {
	ID         string `json:"id"`
	DeviceName string `json:"device_name"`
	ClientID   string `json:"client_id"`
	UserAgent  string `json:"user_agent"`
	Browser    string `json:"browser"`
	OS         string `json:"os"`
	IPPrefix   string `json:"ip_prefix"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	Current    bool   `json:"current"`
	// DPoPBound says the session is bound to a device key (DPoP): its
	// tokens are useless without that key.
	DPoPBound bool `json:"dpop_bound"`
}

// toSessionResponse shows s; current is the session of the asking token.
func toSessionResponse(s models.Session, current uuid.UUID) SessionResponse {
	return SessionResponse{
		ID: s.ID.String(), DeviceName: s.DeviceName, ClientID: s.ClientID, UserAgent: s.UserAgent,
		Browser: s.Browser, OS: s.OS, IPPrefix: s.IPPrefix, CreatedAt: rfc3339(s.CreatedAt),
		LastUsedAt: rfc3339(s.LastUsedAt), ExpiresAt: rfc3339(s.ExpiresAt), Current: s.ID == current,
		DPoPBound: s.DPoPJKT != "",
	}
}

// errNoSession answers every id that is not one of the caller's active
// sessions, well-formed or not, so that the answer never tells another
// user's session from an unknown one (SESS-11).
var errNoSession = services.Errorf(services.CodeNotFound, "No such session.")

// sessionID parses the {id} path parameter.
func sessionID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, errNoSession
	}
	return id, nil
}

func listSessions(ses *services.Sessions) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		p := principal(c)
		list, err := ses.ListDevices(c.Request.Context(), p)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"sessions": responses(list, func(s models.Session) SessionResponse {
			return toSessionResponse(s, p.SessionID)
		})})
		return nil
	})
}

type renameSessionRequest struct {
	DeviceName *string `json:"device_name"`
}

func (r renameSessionRequest) Valid() error {
	if r.DeviceName == nil {
		return invalid("Send device_name.")
	}
	return nil
}

func renameSession(ses *services.Sessions) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := sessionID(c)
		if err != nil {
			return err
		}
		req, err := decode[renameSessionRequest](c, false)
		if err != nil {
			return err
		}
		p := principal(c)
		s, err := ses.RenameDevice(c.Request.Context(), p, id, *req.DeviceName)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toSessionResponse(*s, p.SessionID))
		return nil
	})
}

func revokeSession(ses *services.Sessions) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := sessionID(c)
		if err != nil {
			return err
		}
		if err := ses.RevokeDevice(c.Request.Context(), principal(c), id, meta(c)); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

var errScope = invalid("Say which sessions to sign out: ?scope=others or ?scope=all.")

// revokeSessions answers DELETE /v1/sessions?scope=others|all.
func revokeSessions(ses *services.Sessions) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		scopes := c.Request.URL.Query()["scope"]
		if len(scopes) != 1 {
			return errScope
		}
		ctx, p, m := c.Request.Context(), principal(c), meta(c)
		var n int
		var err error
		switch scopes[0] {
		case "others":
			n, err = ses.RevokeOtherDevices(ctx, p, m)
		case "all":
			n, err = ses.RevokeAllDevices(ctx, p, m)
		default:
			return errScope
		}
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"revoked": n})
		return nil
	})
}
