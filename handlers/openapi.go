package handlers

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the OpenAPI 3.1 description of every endpoint of the contract.
// It is embedded so that the served document is the one the test suite
// validates every response against (internal/apitest).
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPI serves the description. It is public and changes only with a
// release, so caches may keep it for a while.
func openAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/yaml", OpenAPI)
}
