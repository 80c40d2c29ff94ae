// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package introspection checks OAUTH2_TOKEN credentials: opaque OAuth2
// access tokens, sent as `authorization: Bearer <token>`, that the
// authorization server vouches for at its RFC 7662 introspection endpoint.
//
//	a, err := introspection.New(
//		introspection.Endpoint("https://as.example/oauth2/introspect"),
//		introspection.ClientSecret("library-api", secret),
//		introspection.Issuer("https://as.example"),
//		introspection.Audience("library"),
//	)
//	// a is a runtime.TokenAuthenticator: hand it to the enforcer as the
//	// authenticator of OAUTH2_TOKEN credentials.
//
// The authenticator POSTs token=<token>&token_type_hint=access_token to the
// endpoint over HTTPS, authenticating itself with client_secret_basic
// ([ClientSecret]) or a private_key_jwt assertion ([PrivateKeyJWT], RFC
// 7523). It follows no redirect and reads at most 64 KiB of answer.
//
// What it accepts: a 200 answer holding a JSON object with "active": true;
// a token_type other than refresh_token; exp, when present, not past; nbf,
// when present, not in the future; iss equal to [Issuer] when one is set
// (a response without iss is then refused); aud containing one of
// [Audience] exactly when set; and a subject, taken from sub, else username,
// else client_id. An answer with a "cnf" member binds the token to a client
// certificate (RFC 8705 §3.2): its only member must be "x5t#S256", a
// canonical base64url SHA-256, and every call that presents the token,
// cache hits included, must come over a TLS connection that presented the
// certificate of that thumbprint (else CREDENTIALS_INVALID, as
// runtime/jwtauth does for a JWT's cnf); any other confirmation method,
// such as DPoP's "jkt", is refused. The principal's scopes are the "scope"
// string split by [runtime.ParseScope], strictly as RFC 6749 §3.3 writes it
// (one space between scope-tokens, printable ASCII without quote or
// backslash); a scope string outside that grammar is 16 CLAIMS_INVALID and
// is not cached. Its Claims are the whole response.
//
// It fails closed: a non-200 status, a network error, a timeout, a body too
// large or not a well-formed response all deny with UNAVAILABLE
// AUTH_BACKEND_UNAVAILABLE, never OK. Denials and their details never hold
// the token, nor the endpoint's URL (its path or query may hold a secret).
//
// Successful results are cached for [CacheTTL] (60s by default), never past
// the token's exp, which is checked again on every hit. The cache is keyed
// by SHA-256 over the endpoint and the token, so it holds no token; it is
// bounded by [CacheSize] and holds successes only, so a flood of bad tokens
// cannot push good ones out. Concurrent calls for the same uncached token
// share one request (a burst of one new token makes one request, counted
// in CacheStats' Coalesced), each deciding the answer for itself — its
// expiry at the call's time, the certificate binding on its own
// connection —; a failure is the answer of that burst only, never cached.
// A caller whose context ends stops waiting without cancelling the request
// for the others; the request is bounded by [Timeout], and its answer, if
// good, is cached for the next call.
//
// Caching trades revocation latency for load: a token revoked at the
// authorization server is still accepted for up to CacheTTL. Set
// CacheTTL(0) where that is not acceptable.
//
// Replicas can share their answers through a second-level cache,
// [WithSharedCache] (runtime/redisstore's IntrospectionCache is one in
// Redis), so that a fleet asks the endpoint once per token: it is asked
// only on a miss of the local cache, keyed by an HMAC of the endpoint and
// the token under a secret the replicas share, and holds checked answers
// only, each until the earlier of exp and its first introspection plus
// CacheTTL (so the revocation bound stays CacheTTL fleet-wide), with a MAC
// that a value written without the secret fails. Its failures fall back
// to the endpoint.
package introspection
