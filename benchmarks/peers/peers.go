// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package peers holds what a careful user assembles from the peers of this
// project to guard LibraryService, for BenchmarkPeers to set beside the
// generated enforcement in one run (issue 17):
//
//   - [JWTAuth]: a go-grpc-middleware v2 auth.AuthFunc that verifies a
//     bearer JWT with golang-jwt v5 on every call (RS256 only, issuer,
//     audience and expiry required, scope library.read) and puts the
//     subject in the context;
//   - [CachedJWTAuth]: the same behind a hand-written verified-token cache
//     (a sync.Map from token to claims; a hit checks expiry and the scope);
//   - [AuthzStatic]: grpc-go's authz static policy, allowing GetBook when an
//     authorization header is present. It authorizes on what the request
//     carries and authenticates nothing: a forged token passes it.
//
// It is a module of its own so that the main module does not depend on
// golang-jwt or go-grpc-middleware.
package peers

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/authz"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// RequiredScope is the scope every peer asks of a caller: GetBook's.
const RequiredScope = "library.read"

// Service is the LibraryService every row serves: GetBook echoes the name,
// ExportShelf sends one chunk. Each handler reads the caller's subject as a
// real handler would, from this project's principal or from the subject
// a peer's AuthFunc put in the context.
type Service struct {
	libraryv1.UnimplementedLibraryServiceServer
	// OnCall, when set (by tests), is given the subject of each call, ""
	// when there is none.
	OnCall func(subject string)
}

// GetBook returns a book of the requested name.
func (s *Service) GetBook(ctx context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	s.saw(ctx)
	return &libraryv1.Book{Name: req.GetName()}, nil
}

// ExportShelf sends one empty chunk.
func (s *Service) ExportShelf(_ *libraryv1.ExportShelfRequest, stream grpc.ServerStreamingServer[libraryv1.ExportChunk]) error {
	s.saw(stream.Context())
	return stream.Send(&libraryv1.ExportChunk{})
}

func (s *Service) saw(ctx context.Context) {
	sub := Subject(ctx)
	if s.OnCall != nil {
		s.OnCall(sub)
	}
}

type subjectKey struct{}

// Subject is the caller's subject: from this project's principal, else
// from a peer's AuthFunc; "" when neither authenticated the call.
func Subject(ctx context.Context) string {
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		return p.Subject
	}
	sub, _ := ctx.Value(subjectKey{}).(string)
	return sub
}

// Claims are what the peers decode from a token: the registered claims and
// the space-separated scope (RFC 8693 §4.2).
type Claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

// hasScope reports whether the space-separated list has want.
func hasScope(list, want string) bool {
	for list != "" {
		var s string
		s, list, _ = strings.Cut(list, " ")
		if s == want {
			return true
		}
	}
	return false
}

// FetchRSAKeys gets a JWKS once and returns its RSA public keys by kid, as a
// user of golang-jwt (which reads no JWKS) would at start-up. The key set
// is parsed with go-jose's JSONWebKeySet.
func FetchRSAKeys(ctx context.Context, client *http.Client, jwksURL string) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("peers: JWKS %s: %s", jwksURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("peers: JWKS %s: %w", jwksURL, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(*rsa.PublicKey); ok && k.KeyID != "" && (k.Use == "" || k.Use == "sig") {
			keys[k.KeyID] = pub
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("peers: JWKS %s has no RSA signing key", jwksURL)
	}
	return keys, nil
}

// JWTAuth verifies a bearer JWT with golang-jwt v5 on every call.
type JWTAuth struct {
	parser *jwt.Parser
	keys   map[string]*rsa.PublicKey
}

// NewJWTAuth accepts RS256 tokens of issuer iss for audience aud, signed by
// one of keys (by kid), with an expiry.
func NewJWTAuth(iss, aud string, keys map[string]*rsa.PublicKey) *JWTAuth {
	return &JWTAuth{
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"RS256"}),
			jwt.WithIssuer(iss),
			jwt.WithAudience(aud),
			jwt.WithExpirationRequired(),
		),
		keys: keys,
	}
}

func (a *JWTAuth) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if k, ok := a.keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

// verify parses and verifies token, returning its claims.
func (a *JWTAuth) verify(token string) (*Claims, error) {
	c := &Claims{}
	if _, err := a.parser.ParseWithClaims(token, c, a.key); err != nil {
		return nil, status.Error(codes.Unauthenticated, "invalid token")
	}
	return c, nil
}

// authorize checks the scope and puts the subject in the context.
func authorize(ctx context.Context, c *Claims) (context.Context, error) {
	if !hasScope(c.Scope, RequiredScope) {
		return nil, status.Error(codes.PermissionDenied, "missing scope "+RequiredScope)
	}
	return context.WithValue(ctx, subjectKey{}, c.Subject), nil
}

// AuthFunc is the auth.AuthFunc: the bearer token from the metadata,
// verified, its scope checked.
func (a *JWTAuth) AuthFunc(ctx context.Context) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, err
	}
	c, err := a.verify(token)
	if err != nil {
		return nil, err
	}
	return authorize(ctx, c)
}

// CachedJWTAuth is JWTAuth behind a verified-token cache: a token verified
// once is looked up by its bytes, and a hit checks only expiry and the
// scope. Failures are not cached. (The cache is unbounded: what a quick
// hand-written cache is, not a recommendation.)
type CachedJWTAuth struct {
	*JWTAuth
	cache sync.Map // token string → *Claims
}

// NewCachedJWTAuth is [NewJWTAuth] with the cache.
func NewCachedJWTAuth(iss, aud string, keys map[string]*rsa.PublicKey) *CachedJWTAuth {
	return &CachedJWTAuth{JWTAuth: NewJWTAuth(iss, aud, keys)}
}

// AuthFunc is the auth.AuthFunc.
func (a *CachedJWTAuth) AuthFunc(ctx context.Context) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, err
	}
	if v, ok := a.cache.Load(token); ok {
		c := v.(*Claims)
		if time.Now().Before(c.ExpiresAt.Time) {
			return authorize(ctx, c)
		}
		a.cache.Delete(token)
	}
	c, err := a.verify(token)
	if err != nil {
		return nil, err
	}
	a.cache.Store(token, c)
	return authorize(ctx, c)
}

// AuthzPolicy is the authz static policy: GetBook is allowed when the call
// has an authorization header (any value); everything else is denied.
const AuthzPolicy = `{
  "name": "library",
  "allow_rules": [{
    "name": "get_book_with_authorization",
    "request": {
      "paths": ["/library.v1.LibraryService/GetBook"],
      "headers": [{"key": "authorization", "values": ["*"]}]
    }
  }]
}`

// AuthzStatic is grpc-go's authz interceptor for [AuthzPolicy]. It checks
// that a header is there, not who sent it.
func AuthzStatic() (*authz.StaticInterceptor, error) { return authz.NewStatic(AuthzPolicy) }

// Unary and Stream are the go-grpc-middleware auth interceptors for f.
func Unary(f auth.AuthFunc) grpc.UnaryServerInterceptor   { return auth.UnaryServerInterceptor(f) }
func Stream(f auth.AuthFunc) grpc.StreamServerInterceptor { return auth.StreamServerInterceptor(f) }

// WrapStreams returns a copy of desc whose stream handlers run on the
// stream wrapped by go-grpc-middleware's WrapServerStream, which overrides
// Context alone, and with no auth. grpc-go gives a stream's handler no
// other way to see a context of its own than such a wrapper, so every
// stream auth that hands its handler the caller's identity pays at least
// this: the wrapper's allocation, and one more call through an interface
// at each receive, send and Context. A unary call pays none of it, which
// is what BenchmarkPeers's stream_noauth_wrapped row (this wrapper on the
// raw service, beside stream_noauth_header) measures for issue 17's
// target 4b. The wrapper is given the stream's own context, so that it
// adds nothing but itself.
func WrapStreams(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	out := *desc
	out.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, sd := range desc.Streams {
		h := sd.Handler
		sd.Handler = func(srv any, ss grpc.ServerStream) error {
			return h(srv, middleware.WrapServerStream(ss))
		}
		out.Streams[i] = sd
	}
	return &out
}
