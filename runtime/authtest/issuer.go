// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// JWKSPath is where an Issuer serves its key set, after its path (see
// [IssuerPath]).
const JWKSPath = "/.well-known/jwks.json"

// The metadata documents an Issuer serves, where discovery looks for them:
// OpenID Connect Discovery 1.0 §4 after the issuer's path, RFC 8414 §3
// before it.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	OAuthMetadataPath       = "/.well-known/oauth-authorization-server"
)

// Issuer is an in-process token issuer with a JWKS endpoint over HTTPS.
// It is safe for concurrent use.
type Issuer struct {
	srv       *httptest.Server
	audience  string
	now       func() time.Time
	path      string // the issuer's path after its origin, "" by default, as given
	base      string // path without a trailing slash: where it serves
	kidPrefix string

	metadataFetches atomic.Int64
	metaMu          sync.Mutex
	metaEdit        func(doc map[string]any) // changes the served metadata; nil: none
	metaFail        int                      // when non-zero, metadata requests get this status
	metaPaths       []string                 // the paths metadata was asked at

	mu       sync.Mutex
	keys     map[string]*signingKey // kid → key
	order    []string               // kids in order of creation
	failWith int                    // when non-zero, JWKS requests get this status
	delay    time.Duration
	body     []byte // when non-nil, served instead of the key set
	fetches  atomic.Int64
}

type signingKey struct {
	kid    string
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
}

// IssuerOption configures an Issuer.
type IssuerOption func(*Issuer)

// DefaultAudience sets the aud of minted tokens unless [Audience] is given.
// The default is "test".
func DefaultAudience(aud string) IssuerOption { return func(i *Issuer) { i.audience = aud } }

// IssuerClock sets the time minted tokens are based on.
func IssuerClock(now func() time.Time) IssuerOption { return func(i *Issuer) { i.now = now } }

// IssuerPath gives the issuer identifier a path after its origin, as
// multi-tenant issuers have ("/realms/library", "/tenant1/v2.0"), or just
// a trailing slash ("/", as Auth0's have): its URL, the iss of minted
// tokens, is the origin followed by path. Without the trailing slash, if
// any, the path is where the issuer serves: its key set at the path
// followed by [JWKSPath], its OpenID Connect metadata at the path followed
// by [OpenIDConfigurationPath], its RFC 8414 metadata at
// [OAuthMetadataPath] followed by the path.
func IssuerPath(path string) IssuerOption {
	return func(i *Issuer) {
		i.path = "/" + strings.TrimPrefix(path, "/")
		i.base = strings.TrimSuffix(i.path, "/")
	}
}

// KeyIDPrefix starts the kid of every key the issuer makes with prefix
// ("a-" makes "a-rs256-1"), so that the kids of several issuers differ.
func KeyIDPrefix(prefix string) IssuerOption { return func(i *Issuer) { i.kidPrefix = prefix } }

// NewIssuer starts an issuer for the test and stops it when the test ends.
// It fails the test if the issuer cannot start.
func NewIssuer(tb testing.TB, opts ...IssuerOption) *Issuer {
	tb.Helper()
	i, err := StartIssuer(opts...)
	if err != nil {
		tb.Fatalf("authtest: %v", err)
	}
	tb.Cleanup(i.Close)
	return i
}

// StartIssuer starts an issuer with one key each for RS256, ES256 and
// EdDSA, whose kids are "rs256-1", "es256-1" and "eddsa-1" (after a
// [KeyIDPrefix]). Close it when
// done.
func StartIssuer(opts ...IssuerOption) (*Issuer, error) {
	i := &Issuer{audience: "test", now: time.Now, keys: map[string]*signingKey{}}
	for _, o := range opts {
		o(i)
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		if _, err := i.AddKey(alg); err != nil {
			return nil, err
		}
	}
	i.srv = httptest.NewUnstartedServer(http.HandlerFunc(i.serve))
	i.srv.StartTLS()
	return i, nil
}

// Close stops the JWKS server.
func (i *Issuer) Close() { i.srv.Close() }

// URL is the issuer identifier (the iss of minted tokens): its HTTPS
// origin, followed by its path if it has one ([IssuerPath]).
func (i *Issuer) URL() string { return i.srv.URL + i.path }

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.srv.URL + i.base + JWKSPath }

// MetadataURL is where the OpenID Connect Discovery metadata is served:
// the issuer (without a trailing slash) followed by
// [OpenIDConfigurationPath]. The RFC 8414 metadata, the same document, is
// served at the origin followed by [OAuthMetadataPath] and the issuer's
// path.
func (i *Issuer) MetadataURL() string { return i.srv.URL + i.base + OpenIDConfigurationPath }

// MetadataFetches returns how many times a metadata document was
// requested, of either kind.
func (i *Issuer) MetadataFetches() int64 { return i.metadataFetches.Load() }

// MetadataPaths returns the paths the metadata was requested at, in order.
func (i *Issuer) MetadataPaths() []string {
	i.metaMu.Lock()
	defer i.metaMu.Unlock()
	return append([]string(nil), i.metaPaths...)
}

// EditMetadata makes the metadata endpoints serve the document edit
// leaves, for tests of what a verifier does with a wrong one (an issuer
// that is not this one, a jwks_uri of plain http); nil restores it. The
// document starts as {"issuer": URL, "jwks_uri": JWKSURL, ...}.
func (i *Issuer) EditMetadata(edit func(doc map[string]any)) {
	i.metaMu.Lock()
	defer i.metaMu.Unlock()
	i.metaEdit = edit
}

// FailMetadata makes the metadata endpoints answer status (0 restores
// them).
func (i *Issuer) FailMetadata(status int) {
	i.metaMu.Lock()
	defer i.metaMu.Unlock()
	i.metaFail = status
}

// Certificate is the certificate the JWKS endpoint serves, for clients
// that are given a CA file rather than an *http.Client. (httptest's
// certificate: the introspection endpoint serves the same one.)
func (i *Issuer) Certificate() *x509.Certificate { return i.srv.Certificate() }

// HTTPClient returns a client that trusts the issuer's TLS certificate.
func (i *Issuer) HTTPClient() *http.Client { return i.srv.Client() }

// Fetches returns how many times the key set was requested.
func (i *Issuer) Fetches() int64 { return i.fetches.Load() }

// AddKey makes a new key for the JOSE algorithm name (RS256, RS384, RS512,
// PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA), publishes it and
// returns its kid.
func (i *Issuer) AddKey(name string) (string, error) {
	alg := jose.SignatureAlgorithm(name)
	signer, err := newSigner(alg)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	kid := fmt.Sprintf("%s%s-%d", i.kidPrefix, strings.ToLower(string(alg)), countAlg(i.keys, alg)+1)
	i.keys[kid] = &signingKey{kid: kid, alg: alg, signer: signer}
	i.order = append(i.order, kid)
	return kid, nil
}

func countAlg(keys map[string]*signingKey, alg jose.SignatureAlgorithm) int {
	n := 0
	for _, k := range keys {
		if k.alg == alg {
			n++
		}
	}
	return n
}

func newSigner(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		return rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("authtest: unsupported algorithm %q", string(alg))
}

// RemoveKey stops publishing kid; tokens it signed stop verifying once the
// verifier refreshes.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.keys, kid)
	for n, k := range i.order {
		if k == kid {
			i.order = append(i.order[:n], i.order[n+1:]...)
			break
		}
	}
}

// PublicKey returns the public key of kid, or nil.
func (i *Issuer) PublicKey(kid string) crypto.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	if k, ok := i.keys[kid]; ok {
		return k.signer.Public()
	}
	return nil
}

// JWKS returns the JWK Set document the key endpoint serves (unless
// [Issuer.ServeJWKSBody] replaced it), for jwtauth.StaticJWKS.
func (i *Issuer) JWKS() []byte {
	body, err := json.Marshal(i.keySet())
	if err != nil {
		panic(fmt.Sprintf("authtest: %v", err)) // the issuer made every key itself
	}
	return body
}

func (i *Issuer) keySet() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, kid := range i.order {
		k := i.keys[kid]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.signer.Public(), KeyID: kid, Algorithm: string(k.alg), Use: "sig"})
	}
	return set
}

// FailJWKS makes the key endpoint answer status (0 restores it).
func (i *Issuer) FailJWKS(status int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failWith = status
}

// ServeJWKSBody makes the key endpoint answer 200 with body (nil restores it).
func (i *Issuer) ServeJWKSBody(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.body = body
}

// DelayJWKS makes the key endpoint wait d before answering.
func (i *Issuer) DelayJWKS(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.delay = d
}

// serve answers the issuer's endpoints: the key set and both metadata
// documents.
func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case i.base + JWKSPath:
		i.serveJWKS(w, r)
	case i.base + OpenIDConfigurationPath, OAuthMetadataPath + i.base:
		i.serveMetadata(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveMetadata serves the authorization server's metadata (OpenID
// Connect Discovery 1.0 §3, RFC 8414 §2): the issuer and where its keys
// are, with the fields a provider's document typically has.
func (i *Issuer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	i.metadataFetches.Add(1)
	i.metaMu.Lock()
	i.metaPaths = append(i.metaPaths, r.URL.Path)
	fail, edit := i.metaFail, i.metaEdit
	i.metaMu.Unlock()
	if fail != 0 {
		http.Error(w, "failing on purpose", fail)
		return
	}
	doc := map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.JWKSURL(),
		"authorization_endpoint":                i.URL() + "/authorize",
		"token_endpoint":                        i.URL() + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
	}
	if edit != nil {
		edit(doc)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body) // a failed write is the client's error to see
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	fail, delay, body := i.failWith, i.delay, i.body
	i.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		http.Error(w, "failing on purpose", fail)
		return
	}
	if body == nil {
		var err error
		if body, err = json.Marshal(i.keySet()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body) // a failed write is the client's error to see
}
