package handlers

import (
	"time"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// userResponse is the contract's `user`.
type userResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
}

func toUserResponse(u models.User) userResponse {
	return userResponse{ID: u.ID.String(), Email: u.Email, Role: u.Role, CreatedAt: rfc3339(u.CreatedAt)}
}

// rfc3339 formats t in UTC to the second, as the contract shows times.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tokenResponse is the contract's token response. RefreshToken is left out
// in cookie mode.
type tokenResponse struct {
	AccessToken      string       `json:"access_token"`
	TokenType        string       `json:"token_type"`
	ExpiresIn        int          `json:"expires_in"`
	RefreshToken     string       `json:"refresh_token,omitempty"`
	RefreshExpiresIn int          `json:"refresh_expires_in"`
	SessionID        string       `json:"session_id"`
	User             userResponse `json:"user"`
	// DeviceToken is answered by a login with body delivery only.
	DeviceToken string `json:"device_token,omitempty"`
}

func toTokenResponse(p services.TokenPair, withRefresh bool) tokenResponse {
	r := tokenResponse{
		AccessToken:      p.Access.Token,
		TokenType:        tokenType(p.Access.Principal),
		ExpiresIn:        p.Access.ExpiresIn,
		RefreshExpiresIn: p.RefreshExpiresIn,
		SessionID:        p.SessionID.String(),
		User:             toUserResponse(p.User),
	}
	if withRefresh {
		r.RefreshToken = p.RefreshToken
	}
	return r
}

// accessResponse answers a re-authentication.
type accessResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// meResponse answers GET /v1/me.
type meResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	SessionID string `json:"session_id"`
	CreatedAt string `json:"created_at"`
}
