// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// clientAssertionType is the client_assertion_type of RFC 7523 §2.2.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// backendError is a failure to get an answer from the endpoint, not a
// fault of the caller. Its text never holds the token.
type backendError struct {
	detail string
	cause  error
}

func (e *backendError) Error() string { return e.detail }
func (e *backendError) Unwrap() error { return e.cause }

// newHTTPClient copies hc (or a default client) with redirects refused: a
// redirect answer is returned as is and fails as a non-200 status.
func newHTTPClient(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	copied := *hc
	copied.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &copied
}

// newSigner builds the signer of client assertions.
func newSigner(c *config) (jose.Signer, error) {
	var key any
	switch k := c.signingKey.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		key = k
	default:
		key = cryptosigner.Opaque(c.signingKey)
	}
	opts := &jose.SignerOptions{}
	if c.keyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), c.keyID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: c.alg, Key: key}, opts)
	if err != nil {
		return nil, errorf("PrivateKeyJWT: %w", err)
	}
	return s, nil
}

// assertion makes a fresh private_key_jwt client assertion.
func (a *Authenticator) assertion() (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := a.cfg.now()
	claims := jwt.Claims{
		Issuer:   a.cfg.clientID,
		Subject:  a.cfg.clientID,
		Audience: jwt.Audience{a.endpoint},
		ID:       base64.RawURLEncoding.EncodeToString(jti[:]),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(AssertionLifetime)),
	}
	return jwt.Signed(a.signer).Claims(claims).Serialize()
}

// introspect asks the endpoint about token. It runs detached from any
// caller, bounded by the configured timeout, so that one cancelled call
// does not fail the request others wait for. Every error it returns is a
// *backendError.
func (a *Authenticator) introspect(token string) (*response, error) {
	a.requests.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.timeout)
	defer cancel()

	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if a.cfg.authKind == authPrivateKeyJWT {
		jws, err := a.assertion()
		if err != nil {
			return nil, &backendError{detail: "signing the client assertion failed: " + err.Error(), cause: err}
		}
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", jws)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &backendError{detail: "building the request failed", cause: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if a.cfg.authKind == authSecretBasic {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
		req.SetBasicAuth(url.QueryEscape(a.cfg.clientID), url.QueryEscape(a.cfg.clientSecret))
	}

	resp, err := a.client.Do(req)
	if err != nil {
		return nil, a.transportError(ctx, "the request failed", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // drained so the connection can be reused
		return nil, &backendError{detail: fmt.Sprintf("the endpoint answered status %d", resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, a.transportError(ctx, "reading the response failed", err)
	}
	if ctx.Err() != nil {
		// The answer came as the deadline passed (an endpoint that gives
		// up when the client does may send an empty 200 then): a timeout,
		// whatever the body says.
		return nil, a.transportError(ctx, "reading the response failed", ctx.Err())
	}
	if len(body) > MaxResponseSize {
		return nil, &backendError{detail: fmt.Sprintf("the response body is larger than %d bytes", MaxResponseSize)}
	}
	r, err := parseResponse(body)
	if err != nil {
		return nil, &backendError{detail: err.Error(), cause: err}
	}
	return r, nil
}

// transportError describes a network failure. The errors of net/http
// never hold the request body, where the token is, but a *url.Error quotes
// the endpoint URL, whose path or query may hold a secret: it is replaced,
// in the text and in the cause, by its operation and the error it wraps,
// as runtime/jwtauth does for its key fetches.
func (a *Authenticator) transportError(ctx context.Context, what string, err error) *backendError {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &backendError{detail: fmt.Sprintf("timeout: no complete answer within %s", a.cfg.timeout.Round(time.Millisecond))}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return &backendError{detail: what + ": " + err.Error(), cause: err}
}
