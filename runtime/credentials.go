// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"
)

// DefaultMaxCredentialSize is the default cap, in bytes, on a credential's
// metadata value, whatever grpc-go's header-list limit is.
const DefaultMaxCredentialSize = 8 << 10

// The metadata keys credentials are read from.
const (
	// AuthorizationKey carries "Bearer <token>".
	AuthorizationKey = "authorization"
	// APIKeyKey carries an API key.
	APIKeyKey = "x-api-key"

	authorizationBinKey = AuthorizationKey + "-bin"
	apiKeyBinKey        = APIKeyKey + "-bin"
)

// credential is what the caller presented in metadata, before
// authentication. The connection's client certificate is not in it: it is
// used only when no metadata credential is sent, or as the workload's
// credential beside an end user's bearer token.
type credential struct {
	scheme credScheme
	secret string // bearer token or API key; never logged
	// unchecked: secret is a bearer token whose syntax (token68) is not
	// checked yet; decide checks it unless the token is a known one
	// (see [KnownTokens]).
	unchecked bool
	// known is the principal a [KnownTokens] authenticator served the
	// token from memory with, or nil.
	known *Principal
	// jwtShaped: secret is a bearer token with a compact JWS's shape.
	jwtShaped bool
	// workloadKey is the x-api-key sent beside a bearer token (scheme
	// schemeBearer) to a method with an on_behalf_of requirement that takes
	// API keys; never logged.
	workloadKey string
}

type credScheme uint8

const (
	schemeNone credScheme = iota
	schemeBearer
	schemeAPIKey
)

// extract reads the caller's credential: from the HTTP headers of a
// [Connection] an integration handed over, else from incoming metadata. It
// reads only the entries it needs. Two credentials at once, a -bin variant
// of a credential entry, or a value of the wrong shape is malformed: never
// "first one wins", never re-read as another kind. The one pair it takes is
// pairOK's: one authorization and one x-api-key, for a method with an
// on_behalf_of requirement whose workload sends an API key; two entries of
// one key stay malformed there too.
func (e *Enforcer) extract(ctx context.Context, c *callConn, pairOK bool) (credential, *Error) {
	if c.http != nil {
		return e.extractHTTP(ctx, c.http.Header, pairOK)
	}
	if len(metadata.ValueFromIncomingContext(ctx, authorizationBinKey)) > 0 ||
		len(metadata.ValueFromIncomingContext(ctx, apiKeyBinKey)) > 0 {
		return credential{}, errBinaryCredential()
	}
	return e.credentialOf(metadata.ValueFromIncomingContext(ctx, AuthorizationKey), metadata.ValueFromIncomingContext(ctx, APIKeyKey), pairOK)
}

func errBinaryCredential() *Error {
	return NewError(ReasonCredentialsMalformed, "binary (-bin) credential entries are not credentials; send authorization or x-api-key")
}

// The HTTP headers that carry a credential, and the prefix grpc-gateway
// turns into metadata.
const (
	headerAuthorization = "Authorization"
	headerAPIKey        = "X-Api-Key" //nolint:gosec // G101: a header name, not a credential
	headerXFCC          = "X-Forwarded-Client-Cert"
	grpcMetadataPrefix  = "Grpc-Metadata-"
)

// httpCredentialHeader classifies an HTTP header name: a bearer header, an
// API key header, a -bin variant of either (bin), or none. The
// Grpc-Metadata- form of each counts as the header itself: grpc-gateway
// forwards both as the same metadata entry.
func httpCredentialHeader(name string) (auth, key, bin bool) {
	if len(name) > len(grpcMetadataPrefix) && strings.EqualFold(name[:len(grpcMetadataPrefix)], grpcMetadataPrefix) {
		name = name[len(grpcMetadataPrefix):]
	}
	switch {
	case strings.EqualFold(name, headerAuthorization):
		return true, false, false
	case strings.EqualFold(name, headerAPIKey):
		return false, true, false
	case strings.EqualFold(name, headerAuthorization+"-Bin"), strings.EqualFold(name, headerAPIKey+"-Bin"):
		return false, false, true
	}
	return false, false, false
}

// extractHTTP reads the credential of a call that came over HTTP from its
// headers h, every credential header and its Grpc-Metadata- form counted.
// Incoming metadata beside them (what grpc-gateway derived from h) must
// hold no credential value that h does not: a custom header matcher that
// maps another header onto authorization or x-api-key is refused rather
// than read.
func (e *Enforcer) extractHTTP(ctx context.Context, h http.Header, pairOK bool) (credential, *Error) {
	var auth, keys []string
	for name, vals := range h {
		a, k, bin := httpCredentialHeader(name)
		switch {
		case bin && len(vals) > 0:
			return credential{}, errBinaryCredential()
		case a:
			auth = append(auth, vals...)
		case k:
			keys = append(keys, vals...)
		}
	}
	if len(metadata.ValueFromIncomingContext(ctx, authorizationBinKey)) > 0 ||
		len(metadata.ValueFromIncomingContext(ctx, apiKeyBinKey)) > 0 {
		return credential{}, errBinaryCredential()
	}
	if !within(metadata.ValueFromIncomingContext(ctx, AuthorizationKey), auth) ||
		!within(metadata.ValueFromIncomingContext(ctx, APIKeyKey), keys) {
		return credential{}, NewError(ReasonCredentialsMalformed, "a credential in metadata that no credential header carries; send exactly one Authorization or X-Api-Key header").
			WithDetail("incoming metadata holds a credential value that is not one of the request's credential headers (a header matcher mapping another header onto it?)")
	}
	return e.credentialOf(auth, keys, pairOK)
}

// within reports whether every value of sub is one of all.
func within(sub, all []string) bool {
	for _, v := range sub {
		found := false
		for _, w := range all {
			if v == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// credentialOf is the one credential among the authorization and
// x-api-key values sent, or pairOK's pair.
func (e *Enforcer) credentialOf(auth, keys []string, pairOK bool) (credential, *Error) {
	switch n := len(auth) + len(keys); {
	case n == 0:
		return credential{}, nil
	case n == 2 && len(auth) == 1 && pairOK:
		// A workload's API key and the end user's token it calls for.
		key, derr := e.apiKey(keys[0])
		if derr != nil {
			return credential{}, derr
		}
		cred, derr := e.bearer(auth[0])
		cred.workloadKey = key
		return cred, derr
	case n > 1:
		return credential{}, NewError(ReasonCredentialsMalformed, "more than one credential in metadata; send exactly one authorization or x-api-key entry")
	}
	if len(keys) == 1 {
		k, derr := e.apiKey(keys[0])
		if derr != nil {
			return credential{}, derr
		}
		return credential{scheme: schemeAPIKey, secret: k}, nil
	}
	return e.bearer(auth[0])
}

// apiKey checks the value of an x-api-key entry.
func (e *Enforcer) apiKey(k string) (string, *Error) {
	if len(k) > e.maxCredentialSize {
		return "", NewError(ReasonCredentialsMalformed, "x-api-key is longer than "+strconv.Itoa(e.maxCredentialSize)+" bytes")
	}
	if !isAPIKey(k) {
		return "", NewError(ReasonCredentialsMalformed, "x-api-key must be a non-empty run of visible ASCII characters")
	}
	return k, nil
}

// bearer parses the value of an authorization entry: its scheme. The
// token's own syntax is checked by decide (checkBearer), once it knows
// whether the token is one an authenticator verified before.
func (e *Enforcer) bearer(v string) (credential, *Error) {
	if len(v) > e.maxCredentialSize {
		return credential{}, NewError(ReasonCredentialsMalformed, "authorization is longer than "+strconv.Itoa(e.maxCredentialSize)+" bytes")
	}
	token, ok := bearerToken(v)
	if !ok {
		return credential{}, errBearerSyntax()
	}
	return credential{scheme: schemeBearer, secret: token, unchecked: true, jwtShaped: looksLikeJWT(token)}, nil
}

func errBearerSyntax() *Error {
	return NewError(ReasonCredentialsMalformed, `authorization must be "Bearer " followed by a token`)
}

// checkBearer completes the parse of a bearer credential: a token that the
// authenticator of its shape verified before, byte for byte, and serves
// from memory ([KnownTokens]) passed the token68 check when it was first
// seen (a verified JWT is canonical base64url, a subset of token68, and an
// authenticator remembers only tokens it was given after this check);
// any other token is checked now, as extract would have. ctx is the
// call's as it arrived: a token bound to a certificate that a trusted proxy
// forwarded is not served from memory here (on the proxy's plaintext
// connection the binding does not hold without the forwarded certificate),
// and Authenticate serves it with the forwarded certificate in its context.
func (e *Enforcer) checkBearer(ctx context.Context, cred *credential) *Error {
	cred.unchecked = false
	k, as := e.oauth2Known, e.oauth2
	if e.jwt != nil && cred.jwtShaped {
		k, as = e.jwtKnown, e.jwt
	}
	if k != nil {
		if p, ok := k.AuthenticateKnown(ctx, as, cred.secret); ok && p != nil {
			cred.known = p
			return nil
		}
	}
	if !isToken68(cred.secret) {
		return errBearerSyntax()
	}
	return nil
}

// forwardedChain returns the client certificate chain a trusted proxy
// forwarded in x-forwarded-client-cert, or nil when none was sent. The
// header is read only from a trusted proxy that forwards certificates, on
// a plaintext connection: on a TLS connection the client certificate is
// the connection's own, and from any other peer the header is a spoof.
// Either way its presence is malformed, never ignored. On a call over
// HTTP the header is read from the request, never from metadata (which a
// client fills through grpc-gateway's Grpc-Metadata- headers).
func (e *Enforcer) forwardedChain(ctx context.Context, c *callConn) ([]*x509.Certificate, *Error) {
	var vals []string
	if c.http != nil {
		for name, vs := range c.http.Header {
			switch {
			case strings.EqualFold(name, headerXFCC):
				vals = append(vals, vs...)
			case strings.EqualFold(name, grpcMetadataPrefix+headerXFCC) && len(vs) > 0:
				return nil, errXFCCInMetadata()
			}
		}
		if len(metadata.ValueFromIncomingContext(ctx, ForwardedClientCertKey)) > 0 {
			return nil, errXFCCInMetadata()
		}
	} else {
		vals = metadata.ValueFromIncomingContext(ctx, ForwardedClientCertKey)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	switch {
	case c.tls != nil:
		return nil, NewError(ReasonCredentialsMalformed, "x-forwarded-client-cert on a connection with transport security: its client certificate is the connection's own").
			WithDetail("x-forwarded-client-cert is never read on a TLS connection")
	case c.proxy == nil:
		return nil, NewError(ReasonCredentialsMalformed, "x-forwarded-client-cert is accepted only from a trusted proxy").
			WithDetail("x-forwarded-client-cert from a peer that is not a trusted proxy (WithTrustedProxies)")
	case !c.proxy.ForwardedClientCert:
		return nil, NewError(ReasonCredentialsMalformed, "x-forwarded-client-cert is accepted only from a trusted proxy").
			WithDetail("x-forwarded-client-cert from a trusted proxy without ForwardedClientCert")
	case len(vals) > 1:
		return nil, NewError(ReasonCredentialsMalformed, "more than one x-forwarded-client-cert entry")
	}
	chain, err := parseXFCC(vals[0])
	if err != nil {
		return nil, NewError(ReasonCredentialsMalformed, "x-forwarded-client-cert is malformed").WithDetail("x-forwarded-client-cert: %v", err)
	}
	return chain, nil
}

func errXFCCInMetadata() *Error {
	return NewError(ReasonCredentialsMalformed, "x-forwarded-client-cert is accepted only from a trusted proxy").
		WithDetail("a forwarded client certificate in gRPC metadata (Grpc-Metadata-X-Forwarded-Client-Cert) on a call over HTTP")
}

// isAPIKey reports whether k is a non-empty run of visible ASCII.
func isAPIKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// looksLikeJWT reports whether a bearer token has the shape of a compact
// JWS (three dot-separated parts). It decides nothing about validity.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2
}

// parseBearer parses "Bearer <token68>" (RFC 6750 §2.1): the scheme in any
// case, exactly one space, a non-empty token68 with no other whitespace.
func parseBearer(v string) (string, bool) {
	token, ok := bearerToken(v)
	if !ok || !isToken68(token) {
		return "", false
	}
	return token, true
}

// bearerToken returns what follows "Bearer " (the scheme in any case,
// exactly one space) in v, if anything does; its syntax is not checked.
func bearerToken(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	return v[len(scheme):], true
}

// isToken68 reports whether s is a token68: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=". It runs over the whole token on every call
// that carries one, so it reads a table, four bytes a step, without a
// branch per byte.
func isToken68(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	ok := byte(1)
	i := 0
	for ; i+4 <= end; i += 4 {
		ok &= token68Chars[s[i]] & token68Chars[s[i+1]] & token68Chars[s[i+2]] & token68Chars[s[i+3]]
	}
	for ; i < end; i++ {
		ok &= token68Chars[s[i]]
	}
	return ok == 1
}

// token68Chars is 1 for the characters of a token68 before its padding
// ('=' is not one of them, so padding is only allowed at the end).
var token68Chars = func() (t [256]byte) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()
