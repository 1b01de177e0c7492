package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scopehook/webhook"
)

// ErrUnauthorized is what an Authorizer wraps to refuse a request with
// 401 Unauthorized: it carries no credentials, or credentials that are not
// valid. Its message is shown to the caller, so it must say what to send
// and never repeat a credential. An Authorizer error that wraps neither it
// nor webhook.ErrInvalidToken is an internal error (500, logged).
var ErrUnauthorized = errors.New("api: unauthorized")

// Principal is who makes a request, as the Authorizer tells: an operator,
// who may use every scope, or a caller bound to one scope.
type Principal struct {
	// Operator may use every scope and the routes across scopes
	// (GET /webhooks).
	Operator bool
	// Scope is the one scope a caller that is not an operator may use;
	// a request naming another scope gets 403. A principal that is neither
	// an operator nor bound to a scope (both fields empty) may use no scope.
	Scope webhook.Scope
	// Actor names the caller in the change log ("api:alice",
	// "portal:shop/s1"). Empty records "api:operator" or "api:<type>/<code>".
	Actor string
}

// actor is the name recorded in the change log.
func (p Principal) actor() string {
	switch {
	case p.Actor != "":
		return p.Actor
	case p.Operator:
		return "api:operator"
	default:
		return "api:" + p.Scope.String()
	}
}

// mayUse reports whether p may use scope s.
func (p Principal) mayUse(s webhook.Scope) bool {
	return p.Operator || (p.Scope.Type != "" && p.Scope.Code != "" && p.Scope == s)
}

// Authorizer tells who makes a request. It returns an error wrapping
// ErrUnauthorized (or webhook.ErrInvalidToken) to refuse it with 401; any
// other error is an internal error. It must be safe for concurrent use.
type Authorizer interface {
	Authorize(r *http.Request) (Principal, error)
}

// AuthorizerFunc is a function used as an Authorizer, typically one that
// reads the host's own session or API key and maps it to a Principal.
type AuthorizerFunc func(r *http.Request) (Principal, error)

// Authorize calls f(r).
func (f AuthorizerFunc) Authorize(r *http.Request) (Principal, error) { return f(r) }

// PortalTokens returns an Authorizer that accepts the portal tokens of
// client (webhook.Client.PortalToken) sent as "Authorization: Bearer
// <token>": each is a Principal bound to the token's scope, with Actor
// "portal:<type>/<code>". A request without one, or with a token that is
// malformed, tampered with, signed with another secret or expired, gets 401.
// To let operators in as well, wrap it in an AuthorizerFunc that checks the
// host's own credentials first.
func PortalTokens(client *webhook.Client) Authorizer {
	return portalTokens{client: client}
}

type portalTokens struct{ client *webhook.Client }

// bearerChallenge is the WWW-Authenticate header of a 401 from PortalTokens.
const bearerChallenge = `Bearer realm="webhook api"`

func (a portalTokens) Authorize(r *http.Request) (Principal, error) {
	token, ok := bearerToken(r)
	if !ok {
		return Principal{}, fmt.Errorf("%w: send the portal token as \"Authorization: Bearer <token>\"", ErrUnauthorized)
	}
	claims, err := a.client.VerifyPortalToken(token)
	if err != nil {
		return Principal{}, err
	}
	return Principal{Scope: claims.Scope, Actor: "portal:" + claims.Scope.String()}, nil
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
