// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package jwtauth verifies BEARER_JWT credentials: signed JWT access
// tokens of the issuers it trusts, each with its own keys (a JWKS URL, one
// found by discovery, or a static set) and settings. JWKs are read by
// go-jose; tokens by a strict compact-JWS parser of this package, with
// signatures checked by crypto/rsa, crypto/ecdsa and crypto/ed25519 alone.
//
//	a, err := jwtauth.New(
//		jwtauth.Issuer("https://issuer.example",
//			jwtauth.Audience("library"),
//			jwtauth.JWKSURL("https://issuer.example/.well-known/jwks.json")),
//	)
//	enf, err := runtime.NewEnforcer(runtime.WithJWT(a))
//
// Several issuers are several [Issuer] options; each takes its own
// [IssuerOption]s, and a token is verified by the one its iss names, only:
//
//	a, err := jwtauth.New(
//		jwtauth.Issuer("https://sso.example/realms/library", // users
//			jwtauth.Audience("library"),
//			jwtauth.OIDCDiscovery(),
//			jwtauth.Types("at+jwt", "JWT"),
//			jwtauth.ScopesFrom(jwtauth.Claim("scope"), jwtauth.Claim("realm_access", "roles"))),
//		jwtauth.Issuer("https://tokens.internal.example", // services
//			jwtauth.Audience("library"),
//			jwtauth.JWKSURL("https://tokens.internal.example/keys"),
//			jwtauth.Subject(regexp.MustCompile(`^svc-[a-z]+$`))),
//	)
//
// The other options ([Leeway], [CacheSize], [HTTPClient], [Clock] …) are
// the authenticator's, for every issuer.
//
// Fixed keys instead of a JWKS URL are public keys of the standard library
// ([StaticKey]: *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey) or a
// JWKS document ([StaticJWKS]); algorithms are named as in JOSE
// ([Algorithms]: "RS256", "ES256", "EdDSA" …). No go-jose type is needed
// to configure it:
//
//	a, err := jwtauth.New(
//		jwtauth.Issuer("https://issuer.example",
//			jwtauth.Audience("library"),
//			jwtauth.StaticKey("key-1", "ES256", pub), // pub is an *ecdsa.PublicKey on P-256
//			jwtauth.Algorithms("ES256")),
//	)
//
// # What it accepts
//
// A compact JWS of at most 8 KiB, in canonical base64url, whose header has
// no crit and no b64 member; whose iss is, exactly, a trusted issuer's; and
// then, by that issuer's settings: a typ of its [Types] (default
// "at+jwt"); signed with an algorithm of its allow-list ([Algorithms]:
// RS256, ES256 and EdDSA by default; never HMAC or none; RSA-PSS only with
// a salt as long as the hash) by the key of its key set that the kid
// names, whose own alg and curve must match; exp present and not past; nbf
// and iat not in the future (both within the leeway); aud (or its
// [AudienceClaim]) containing one of its audiences exactly; a sub, matching
// its [Subject] if it has one; its [RequireClaim] claims; its scope claims
// ([ScopesFrom]), when present, well formed. Headers that point at other
// keys (jwk, jku, x5u, x5c) are never used.
//
// A token is read once: each part decoded once, the header and the claims
// each parsed once as JSON, strictly — member names compared exactly (an
// "ALG" is not an alg), a name twice in any object refused, a number that
// overflows a float64 refused, nothing after the JSON but white space —
// as go-jose reads JSON, against which the parser is fuzzed (a token it
// accepts go-jose accepts with the same claims). The header's alg must be
// a JOSE signature algorithm, kid a string, and an embedded jwk or x5c,
// though never used, well formed. The signature is checked once over the
// token's bytes: RS* PKCS #1 v1.5, PS* with a salt as long as the hash,
// ES* R‖S of exactly twice the curve's size (a DER signature is refused;
// a high S is a valid ECDSA signature and accepted), EdDSA Ed25519 with a
// canonical S. Wycheproof's JWS and JWK vectors are among the tests.
//
// Everything that needs no key is checked first, so that an expired token,
// a wrong audience, an unknown issuer, an ID token or a crit header never
// causes a fetch, and a token is routed by its iss before any key is
// looked up: a token naming issuer A is verified with A's keys or refused,
// never with another issuer's, and never causes a fetch of another's.
// Routing is a map lookup on the iss the one decode of the claims gives,
// and a token in the verified-token cache is not routed at all: the cost
// of a call does not depend on the number of issuers
// (BenchmarkIssuers). Key fetches are singleflight per issuer; an unknown
// kid triggers at most one refresh per [MinRefreshInterval]; the last good
// keys serve for [MaxStaleness] while the endpoint fails, and then calls
// fail closed with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE.
//
// # Cache and bursts
//
// A verified token is remembered ([CacheSize]) while it has not expired
// and the key that verified it is still published; only successes, keyed
// by the token itself. A hit checks again what belongs to the call: expiry
// now, the key, the certificate binding on the call's connection (the
// enforcer then checks the method's scopes, condition and revocation).
//
// A burst of one new token — concurrent calls with a byte-identical token
// the cache does not hold — verifies it once. The first call verifies; the
// others wait for its result, each in a select on its own context: one
// whose context ends returns ctx.Err() at once (as a call does whose
// context ends while it waits for a key fetch), and the verification goes
// on for the others. What the calls share is only what does not depend on
// the call — the signature, the claims, the key, or the failure to verify
// them —, and each then checks, as a hit does, expiry at its own time, the
// key still usable and the binding on its own connection: in one burst of
// a certificate-bound token, the calls over the certificate's connection
// are allowed and the others refused. A failure (TOKEN_INVALID_SIGNATURE,
// TOKEN_EXPIRED, AUTH_BACKEND_UNAVAILABLE …) is the answer of the calls
// that waited for it, each its own copy, and is not remembered: the next
// call verifies again. The first call verifies under its own context, so
// that its deadline is honoured as without a burst; when that context ends
// its wait for the issuer's keys, its error is its own, not the waiters':
// one of them verifies instead, joining the same key fetch. A verification
// in flight is held only while it runs, and holds no goroutine of its own:
// a flood of distinct junk tokens leaves nothing once its calls have
// returned. [Authenticator.CacheStats] counts the calls that waited
// (Coalesced: a burst of n first calls is n misses, n-1 coalesced). With the
// cache off (CacheSize(0)) every call verifies its own token.
//
// # Discovery
//
// [OIDCDiscovery] and [OAuthMetadata] find an issuer's JWKS URL in its
// metadata (OpenID Connect Discovery 1.0, RFC 8414), fetched as a JWKS is —
// https only, a size cap, redirects to the same origin only,
// [FetchTimeout], the last good answer kept for [MaxStaleness] — and used
// only when its issuer is exactly the configured one and its jwks_uri an
// absolute https URL.
//
// # Denials
//
// Every denial is UNAUTHENTICATED (16) but AUTH_BACKEND_UNAVAILABLE (14);
// none quotes the token or a claim:
//
//	CREDENTIALS_MALFORMED    not a compact JWS: over the size cap, not three parts,
//	                         not canonical base64url, a header that is not JSON (or
//	                         a name twice, or no alg of JOSE's, a kid that is not a
//	                         string, a jwk or x5c that does not parse), a payload
//	                         that is not a JSON object; a header with crit
//	                         (any value: an empty list and ["b64"] included — RFC
//	                         7515 §4.1.11, and this server implements no extension)
//	                         or b64 (RFC 7797)
//	TOKEN_INVALID_SIGNATURE  algorithm not allowed, unknown or unusable kid, key and
//	                         algorithm do not fit, bad signature
//	CLAIMS_INVALID           typ not one of the issuer's Types, or none (an OIDC ID token, typ
//	                         "JWT", is not an access token: RFC 9068 §4, RFC 8725
//	                         §3.11); a registered claim of the wrong type (iss, sub,
//	                         jti not a string; aud not a string or an array of
//	                         strings; exp, nbf, iat not a number in range); exp or
//	                         sub missing; lifetime over MaxLifetime; sub not
//	                         matching Subject; a required claim (RequireClaim)
//	                         missing or of another value; a scope claim of the
//	                         wrong shape; a cnf that is not an object
//	ISSUER_UNTRUSTED         iss is not a trusted issuer's (compared exactly)
//	TOKEN_EXPIRED            exp passed, beyond the leeway
//	TOKEN_NOT_YET_VALID      nbf or iat in the future, beyond the leeway
//	AUDIENCE_MISMATCH        no aud value is an audience
//	CREDENTIALS_INVALID      cnf binds the token to another client certificate, or
//	                         uses a confirmation method this server cannot check
//	AUTH_BACKEND_UNAVAILABLE no usable key is known and the JWKS cannot be fetched
//	                         (or holds no usable key), or, with discovery, the
//	                         metadata cannot be fetched or names another issuer
//
// # Scopes
//
// An issuer's scopes come from the claims [ScopesFrom] lists, by default
// "scope" and "scp": the scopes of every listed claim the token has, each
// once, in order. A scope string (scope, or a string scp, roles, …) is
// split by [runtime.ParseScope], strictly as RFC 6749 §3.3 writes it:
// scope-tokens separated by exactly one space. An array holds one
// scope-token per member; "scope" itself must be a string (RFC 8693
// §4.2). A doubled, leading or trailing space, a tab, a member holding a
// space, a quote, a backslash or a character outside printable ASCII is
// CLAIMS_INVALID: never split leniently, so that no token holds a scope
// that another reader of the same claim would not see. A claim may be
// nested (Claim("realm_access", "roles")), and mapped to the scopes the
// rules name ([ScopeClaim.Map]): a mapped claim grants the scopes of the
// values it maps, and nothing for the others. All verified claims are in
// Principal.Claims. The README's table shows the options for Auth0, Okta,
// Microsoft Entra ID, Keycloak, Google and AWS Cognito.
//
// # Key-set policy
//
// Which keys of a JWKS are trusted is decided once per fetched set (for
// [StaticJWKS] and [StaticKey], once in [New]), never per call. Each key
// left out of a fetched set is logged through [Logger] once per distinct
// set (not again when the same set is fetched again), naming its kid and
// its position, never its key material; in a static set, every key that
// would be left out is an error of New instead.
//
//	condition                                          what happens          logged
//	-------------------------------------------------  --------------------  -----------------
//	not a JSON object, or a kid that is not a string   skipped               WARN
//	private or symmetric material: a member d, p, q,   skipped, never        WARN
//	  dp, dq, qi, oth, k or priv (in any case), kty    reduced to its
//	  oct, or a key go-jose reads as private           public half
//	a public key whose private half is published in    skipped, and dropped  WARN
//	  the same set, under any kid                      from the last good
//	                                                   keys too
//	use present and not "sig", or key_ops present      skipped               INFO
//	  without "verify" (not a signature key)
//	use not a string, key_ops not an array of strings  skipped               WARN
//	a registered member name in another case ("KID")   skipped               WARN
//	go-jose cannot read it (unknown kty or crv, bad    skipped               WARN
//	  encoding, x5c not matching, RSA over go-jose's
//	  MaxRSAModulusBits, 4096 bits by default)
//	RSA under 2048 bits, or with the fingerprint of    skipped               WARN
//	  ROCA's weak keys (CVE-2017-15361); a type other
//	  than RSA, EC P-256/P-384/P-521, OKP Ed25519
//	an alg that does not fit kty/crv (RS* and PS*      skipped               WARN
//	  need RSA; ES256 P-256, ES384 P-384, ES512
//	  P-521; EdDSA Ed25519; HS*, none and the rest
//	  fit nothing)
//	an alg that fits but is not in Algorithms          skipped               INFO
//	one kid naming two different signature keys        the kid unusable:     WARN, once per
//	  (differing in key, alg, use or key_ops; one of   all its keys          kid
//	  them skipped or private counts too)
//	one key twice under one kid (the same bytes, or    kept once             no
//	  the same key, alg, use and key_ops)
//	no kid                                             kept; used only by    INFO when the set
//	                                                   a token without kid   has other keys
//	                                                   in a set of one key
//	no usable key left                                 the set refused       no (see below)
//
// A set refused fails as an empty or unreachable one: the last good keys
// serve for [MaxStaleness] (less any whose private half the refused set
// publishes), then calls fail with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE;
// why is in the denial's log detail.
//
// A key with an alg is used only for that algorithm; a key without one for
// any allowed algorithm its type and curve fit. An encryption key (use
// "enc") that shares a kid with a signature key does not make the kid
// unusable: it is not a candidate for verifying signatures at all.
package jwtauth
