package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/authd/authd/services"
)

// cookieConfig places the refresh token of browser apps in a cookie that
// scripts cannot read: HttpOnly, SameSite=Strict, Path /, no Domain, and
// with the __Host- prefix whenever it is Secure.
type cookieConfig struct {
	secure bool
}

func (cc cookieConfig) name() string {
	if cc.secure {
		return "__Host-authd_refresh"
	}
	return "authd_refresh"
}

func (cc cookieConfig) write(c *gin.Context, value string, maxAge int) {
	cc.writeNamed(c, cc.name(), value, maxAge)
}

func (cc cookieConfig) writeNamed(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   cc.secure,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

func (cc cookieConfig) set(c *gin.Context, token string, maxAge int) {
	if maxAge <= 0 {
		maxAge = 1
	}
	cc.write(c, token, maxAge)
}

// deviceName is the name of the device cookie: the device token of a
// browser, with the same attributes as the refresh cookie.
func (cc cookieConfig) deviceName() string {
	if cc.secure {
		return "__Host-authd_device"
	}
	return "authd_device"
}

// setDevice sets the device cookie for maxAge seconds.
func (cc cookieConfig) setDevice(c *gin.Context, token string, maxAge int) {
	if maxAge <= 0 {
		maxAge = 1
	}
	cc.writeNamed(c, cc.deviceName(), token, maxAge)
}

// deviceToken returns the device cookie ("" without one). It needs no
// X-Requested-With: a device token signs nobody in, it only picks which
// failure budget a login with a password spends.
func (cc cookieConfig) deviceToken(c *gin.Context) string {
	v, _ := c.Cookie(cc.deviceName())
	return v
}

// clear deletes the refresh cookie (Max-Age=0).
func (cc cookieConfig) clear(c *gin.Context) { cc.write(c, "", -1) }

func (cc cookieConfig) present(c *gin.Context) bool {
	v, err := c.Cookie(cc.name())
	return err == nil && v != ""
}

var errCSRFHeader = services.Errorf(services.CodeInvalidRequest,
	"Requests that use the refresh cookie must send an X-Requested-With header.")

// refreshToken returns the token from the body, or else from the cookie.
// The cookie is only honoured with an X-Requested-With header, which a
// cross-site form cannot send (CSRF).
func (cc cookieConfig) refreshToken(c *gin.Context, fromBody string) (token string, fromCookie bool, err error) {
	if fromBody != "" {
		return fromBody, false, nil
	}
	v, cerr := c.Cookie(cc.name())
	if cerr != nil || v == "" {
		return "", false, errNoRefreshToken
	}
	if c.GetHeader("X-Requested-With") == "" {
		return "", true, errCSRFHeader
	}
	return v, true, nil
}
