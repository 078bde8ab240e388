package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// accessVerifier verifies access tokens (services.Tokens).
type accessVerifier interface {
	Verify(ctx context.Context, raw string) (services.Principal, error)
}

// principal returns the principal the Authenticate middleware stored.
func principal(c *gin.Context) services.Principal {
	p, _ := services.PrincipalFrom(c.Request.Context())
	return p
}

func hasBearer(c *gin.Context) bool { return bearer(c) != "" }

func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && (h[:7] == "Bearer " || h[:7] == "bearer ") {
		return h[7:]
	}
	return ""
}

func getMe(acc *services.Accounts) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		p := principal(c)
		u, err := acc.Profile(c.Request.Context(), p.UserID)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, meResponse{ID: u.ID.String(), Email: u.Email, Role: u.Role,
			SessionID: p.SessionID.String(), CreatedAt: rfc3339(u.CreatedAt)})
		return nil
	})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (r changePasswordRequest) Valid() error {
	if r.CurrentPassword == "" || r.NewPassword == "" {
		return invalid("Send current_password and new_password.")
	}
	return nil
}

func changePassword(acc *services.Accounts, limit FailureLimiter) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[changePasswordRequest](c, false)
		if err != nil {
			return err
		}
		// A wrong current password is a failed sign-in: it spends the
		// session's budget, checked before any bcrypt work.
		p := principal(c)
		if err := checkProof(c, limit, p.SessionID.String(), p.UserID); err != nil {
			return err
		}
		err = acc.ChangePassword(c.Request.Context(), p, req.CurrentPassword, req.NewPassword, meta(c))
		if err != nil {
			failedProof(c, limit, p.SessionID.String(), err)
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}
