package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// updateAdminUserRequest is the body of PATCH /v1/admin/users/{id}.
type updateAdminUserRequest struct {
	Role *string `json:"role"`
}

func (r updateAdminUserRequest) Valid() error {
	if r.Role == nil {
		return invalid("Send role: user or admin.")
	}
	return nil
}

// updateAdminUser changes a user's role (API.md "Administration").
func updateAdminUser(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		req, err := decode[updateAdminUserRequest](c, false)
		if err != nil {
			return err
		}
		u, err := admin.SetRole(c.Request.Context(), principal(c), id, *req.Role, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"user": toUserResponse(*u)})
		return nil
	})
}

// getAdminUser serves GET /v1/admin/users/{id}: one user, so that the
// security page can name the user of an event by email.
func getAdminUser(admin *services.Admin) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		u, err := admin.User(c.Request.Context(), id)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"user": toUserResponse(*u)})
		return nil
	})
}
