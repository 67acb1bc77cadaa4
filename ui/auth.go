package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// CookieName is the login cookie's name.
const CookieName = "sessionscope_auth"

// tokenAuth checks the dashboard token. A login sets a cookie holding a random nonce
// and its HMAC under a key made at start: the token never leaves the login form, a
// stolen cookie does not reveal it, and a restart logs everyone out.
type tokenAuth struct {
	tokenSum [32]byte
	enabled  bool
	key      []byte
}

func newTokenAuth(token string) (*tokenAuth, error) {
	a := &tokenAuth{enabled: token != "", tokenSum: sha256.Sum256([]byte(token)), key: make([]byte, 32)}
	if _, err := rand.Read(a.key); err != nil {
		return nil, fmt.Errorf("dashboard auth: make a cookie key: %w", err)
	}
	return a, nil
}

// Enabled implements handlers.Auth.
func (a *tokenAuth) Enabled() bool { return a.enabled }

// Check implements handlers.Auth. Both sides are hashed first so the comparison takes
// the same time whatever the submitted token's length.
func (a *tokenAuth) Check(token string) bool {
	if !a.enabled {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

func (a *tokenAuth) mac(nonce []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(nonce)
	return m.Sum(nil)
}

// SessionCookie implements handlers.Auth.
func (a *tokenAuth) SessionCookie(secure bool) *http.Cookie {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	return &http.Cookie{Name: CookieName, Value: hex.EncodeToString(nonce) + "." + hex.EncodeToString(a.mac(nonce)),
		Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// ClearCookie implements handlers.Auth.
func (a *tokenAuth) ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode}
}

func (a *tokenAuth) validCookie(v string) bool {
	n, m, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	nonce, err1 := hex.DecodeString(n)
	sum, err2 := hex.DecodeString(m)
	if err1 != nil || err2 != nil || len(nonce) != 16 {
		return false
	}
	return hmac.Equal(sum, a.mac(nonce))
}

// authorized reports whether the request carries the token (Authorization: Bearer)
// or a login cookie.
func (a *tokenAuth) authorized(r *http.Request) bool {
	if !a.enabled {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && a.Check(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return a.validCookie(c.Value)
	}
	return false
}
