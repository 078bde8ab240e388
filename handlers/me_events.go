package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// listOwnSecurityEvents serves GET /v1/me/security-events: the caller's
// own events in the admin listing's shape, paged with the same cursor.
func listOwnSecurityEvents(acc *services.Accounts) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		limit, err := limitQuery(c)
		if err != nil {
			return err
		}
		page, err := acc.OwnSecurityEvents(c.Request.Context(), principal(c), c.Query("cursor"), limit)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toEventList(page))
		return nil
	})
}
