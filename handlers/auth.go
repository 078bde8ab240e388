package handlers

import (
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/services"
	"github.com/authd/authd/services/device"
)

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (r registerRequest) Valid() error {
	if r.Email == "" || r.Password == "" {
		return invalid("Send both email and password.")
	}
	return nil
}

func register(acc *services.Accounts) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[registerRequest](c, false)
		if err != nil {
			return err
		}
		u, err := acc.Register(c.Request.Context(), req.Email, req.Password, meta(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusCreated, gin.H{"user": toUserResponse(*u)})
		return nil
	})
}

// tokenDelivery says where the refresh token goes: the body or a cookie.
type tokenDelivery string

const (
	deliverBody   tokenDelivery = "body"
	deliverCookie tokenDelivery = "cookie"
)

func (d tokenDelivery) valid() bool { return d == "" || d == deliverBody || d == deliverCookie }

type loginRequest struct {
	Email         string        `json:"email"`
	Password      string        `json:"password"`
	DeviceName    *string       `json:"device_name"`
	ClientID      string        `json:"client_id"`
	TokenDelivery tokenDelivery `json:"token_delivery"`
	// DeviceToken is the device token of an earlier login on this device
	// (or the device cookie): it gives the login its device's own budget.
	DeviceToken string `json:"device_token"`
}

func (r loginRequest) Valid() error {
	if r.Email == "" || r.Password == "" {
		return invalid("Send both email and password.")
	}
	if !r.TokenDelivery.valid() {
		return invalid("token_delivery must be \"body\" or \"cookie\".")
	}
	if r.ClientID != "" && (utf8.RuneCountInString(r.ClientID) > 100 || !printable(r.ClientID)) {
		return invalid("client_id must be at most 100 printable characters.")
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// loginLimits are the failure budgets of a login: the account's, or the
// device's own when the login presents a live device token of the account.
type loginLimits struct {
	account, device FailureLimiter
}

func login(svc Services, limits loginLimits, cookies cookieConfig, dpop dpopSetup) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[loginRequest](c, false)
		if err != nil {
			return err
		}
		opts := services.StartOptions{ClientID: req.ClientID}
		if req.DeviceName != nil {
			name, err := device.ValidateName(*req.DeviceName)
			if err != nil {
				return invalid("device_name must have 1 to 100 characters once control and invisible characters are removed.")
			}
			opts.DeviceName = name
		}
		// The proof is checked before any bcrypt work: a login that cannot
		// bind the key it was asked to bind costs nothing.
		if opts.DPoPJKT, err = dpop.loginBinding(c, req.ClientID); err != nil {
			return err
		}
		ctx := c.Request.Context()
		known, err := knownDevice(c, svc.DeviceTokens, req, cookies)
		if err != nil {
			return err
		}
		limit, subject, user := limits.account, req.Email, uuid.Nil
		if known.ID != uuid.Nil {
			limit, subject, user = limits.device, known.ID.String(), known.UserID
		}
		// Checked before any bcrypt work, for known and unknown emails
		// alike; only a wrong password counts.
		if err := checkProof(c, limit, subject, user); err != nil {
			return err
		}
		m := meta(c)
		u, err := svc.Accounts.Authenticate(ctx, req.Email, req.Password, m)
		if err != nil {
			failedProof(c, limit, subject, err)
			return err
		}
		var dev services.IssuedDeviceToken
		if svc.DeviceTokens != nil {
			if dev, err = svc.DeviceTokens.Issue(ctx, u.ID, known.ID); err != nil {
				return err
			}
		}
		opts.KnownDevice = known.ID != uuid.Nil && known.UserID == u.ID
		pair, err := svc.Sessions.Start(ctx, u, opts, m)
		if err != nil {
			return err
		}
		writeLogin(c, pair, dev, req.TokenDelivery == deliverCookie, cookies)
		return nil
	})
}

// knownDevice returns the device token of the login (the body's, else the
// device cookie) when it is a live token of the account being signed in to;
// the zero KnownDevice otherwise.
func knownDevice(c *gin.Context, dev *services.DeviceTokens, req loginRequest, cookies cookieConfig) (services.KnownDevice, error) {
	raw := req.DeviceToken
	if raw == "" {
		raw = cookies.deviceToken(c)
	}
	if dev == nil || raw == "" {
		return services.KnownDevice{}, nil
	}
	known, ok, err := dev.Known(c.Request.Context(), raw, req.Email)
	if err != nil || !ok {
		return services.KnownDevice{}, err
	}
	return known, nil
}

// checkProof checks the failure budget of subject before a password proof.
func checkProof(c *gin.Context, limit FailureLimiter, subject string, user uuid.UUID) error {
	if limit == nil {
		return nil
	}
	return limit.Check(c, subject, user)
}

// failedProof counts err against the budget when it is a wrong password.
func failedProof(c *gin.Context, limit FailureLimiter, subject string, err error) {
	if limit != nil && services.ErrorCode(err) == services.CodeInvalidCredentials {
		limit.Fail(c, subject)
	}
}

// writeLogin answers a login: the tokens, and the device token in the body
// or, with cookie delivery, in the device cookie.
func writeLogin(c *gin.Context, pair services.TokenPair, dev services.IssuedDeviceToken, cookie bool, cookies cookieConfig) {
	resp := toTokenResponse(pair, !cookie)
	if cookie {
		cookies.set(c, pair.RefreshToken, pair.RefreshExpiresIn)
		if dev.Token != "" {
			cookies.setDevice(c, dev.Token, dev.ExpiresIn)
		}
	} else {
		resp.DeviceToken = dev.Token
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, resp)
}

func writeTokens(c *gin.Context, pair services.TokenPair, cookie bool, cookies cookieConfig) {
	if cookie {
		cookies.set(c, pair.RefreshToken, pair.RefreshExpiresIn)
	}
	// As c.Header sets them, without a canonicalized copy of each name and
	// a new slice per response; the shared slices have len == cap, so an
	// Add appends to a copy.
	h := c.Writer.Header()
	h["Cache-Control"] = valNoStore
	h["Pragma"] = valNoCache
	c.JSON(http.StatusOK, toTokenResponse(pair, !cookie))
}

var (
	valNoStore = []string{"no-store"}[:1:1]
	valNoCache = []string{"no-cache"}[:1:1]
)

type refreshRequest struct {
	RefreshToken  string        `json:"refresh_token"`
	TokenDelivery tokenDelivery `json:"token_delivery"`
}

func (r refreshRequest) Valid() error {
	if !r.TokenDelivery.valid() {
		return invalid("token_delivery must be \"body\" or \"cookie\".")
	}
	return nil
}

var errNoRefreshToken = services.Errorf(services.CodeInvalidToken, "Send a refresh token in the body, or the refresh cookie with an X-Requested-With header.")

func refresh(ses *services.Sessions, cookies cookieConfig, dpop dpopSetup) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[refreshRequest](c, true)
		if err != nil {
			return err
		}
		raw, fromCookie, err := cookies.refreshToken(c, req.RefreshToken)
		if err != nil {
			return err
		}
		binding, err := dpop.refreshBinding(c)
		if err != nil {
			return err
		}
		pair, err := ses.RefreshBound(c.Request.Context(), raw, meta(c), binding)
		if err != nil {
			// Clear the cookie only when the family is really dead: a
			// request that merely lost a race must never delete the
			// winner's new cookie (F1).
			if fromCookie && familyDead(err) {
				cookies.clear(c)
			}
			return err
		}
		cookie := req.TokenDelivery == deliverCookie || (fromCookie && req.TokenDelivery == "")
		writeTokens(c, pair, cookie, cookies)
		return nil
	})
}

func familyDead(err error) bool {
	switch services.ErrorCode(err) {
	case services.CodeRefreshTokenReused, services.CodeSessionRevoked, services.CodeTokenExpired:
		return true
	}
	return false
}

type logoutRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (logoutRequest) Valid() error { return nil }

func logout(ses *services.Sessions, verifier accessVerifier, cookies cookieConfig, dpop dpopSetup) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[logoutRequest](c, true)
		if err != nil {
			return err
		}
		m := meta(c)
		raw, fromCookie, err := cookies.refreshToken(c, req.RefreshToken)
		switch {
		case err == nil:
			binding, err := dpop.refreshBinding(c)
			if err != nil {
				return err
			}
			if err := ses.LogoutBound(c.Request.Context(), raw, m, binding); err != nil {
				return err
			}
			if fromCookie {
				cookies.clear(c)
			}
		case hasBearer(c):
			// Only an access token: end its session. A DPoP-bound token
			// presented as Bearer proves nothing of its key: ignored.
			if p, err := verifier.Verify(c.Request.Context(), bearer(c)); err == nil && p.JKT == "" {
				if _, err := ses.Revoke(c.Request.Context(), p.SessionID, "logout", nil, m); err != nil {
					return err
				}
			} else if services.ErrorCode(err) == services.CodeUnavailable {
				return err
			}
		case cookies.present(c):
			return err // the cookie without X-Requested-With
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

type reauthRequest struct {
	Password string `json:"password"`
}

func (r reauthRequest) Valid() error {
	if r.Password == "" {
		return invalid("Send your password.")
	}
	return nil
}

func reauthenticate(acc *services.Accounts, limit FailureLimiter) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[reauthRequest](c, false)
		if err != nil {
			return err
		}
		// The session's own budget, checked before any bcrypt work; the
		// account's login budget plays no part (see Register).
		p := principal(c)
		if err := checkProof(c, limit, p.SessionID.String(), p.UserID); err != nil {
			return err
		}
		at, err := acc.Reauthenticate(c.Request.Context(), p, req.Password, meta(c))
		if err != nil {
			failedProof(c, limit, p.SessionID.String(), err)
			return err
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, accessResponse{AccessToken: at.Token, TokenType: tokenType(at.Principal), ExpiresIn: at.ExpiresIn})
		return nil
	})
}

// meta describes the client of the request for services: the resolved
// client address cut to its prefix, and the cleaned user agent.
func meta(c *gin.Context) services.Meta {
	return services.Meta{
		IPPrefix:  device.PrefixString(c.ClientIP()),
		UserAgent: device.CleanUserAgent(c.GetHeader("User-Agent")),
	}
}
