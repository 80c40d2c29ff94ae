// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package mtls

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/credentials"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Authenticator authenticates callers by their verified TLS client
// certificate (credential kind MTLS). It implements
// runtime.PeerAuthenticator. It is safe for concurrent use.
type Authenticator struct {
	cfg      config
	bundle   atomic.Pointer[bundle] // current trust bundle, never nil
	reloadMu sync.Mutex             // serialises reloads
	verified connCache              // principals of connections verified against a bundle
}

// Now is the time this authenticator judges certificates at: the time set by
// [Clock], else the system clock. The enforcer dates the streams this
// authenticator's certificates open by it too, so that one clock serves both.
func (a *Authenticator) Now() time.Time { return a.cfg.now() }

// Clock is the clock set by [Clock], or nil when this authenticator keeps
// the system clock. The enforcer asks for it once: streams on the system
// clock are dated by a reading it keeps coarse for them, read at every
// message in place of the clock itself (see runtime's [runtime.WithStreamRecheck]).
func (a *Authenticator) Clock() func() time.Time { return a.cfg.clock }

var (
	_ runtime.PeerAuthenticator  = (*Authenticator)(nil)
	_ runtime.ChainAuthenticator = (*Authenticator)(nil)
)

// New returns an authenticator configured by opts. Exactly one identity
// mode ([SPIFFE] or [SAN]) and exactly one trust bundle ([Bundle] or
// [BundleFile]) are required. Errors wrap [ErrInvalidOption].
func New(opts ...Option) (*Authenticator, error) {
	cfg := config{now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, errorf("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.modeCount == 0:
		return nil, errorf("an identity mode is required: SPIFFE or SAN")
	case cfg.modeCount > 1:
		return nil, errorf("exactly one identity mode is allowed: SPIFFE or SAN")
	case cfg.pool == nil && cfg.bundleFile == "":
		return nil, errorf("a trust bundle is required: Bundle or BundleFile")
	}
	a := &Authenticator{cfg: cfg}
	if cfg.bundleFile != "" {
		b, err := readBundle(cfg.bundleFile)
		if err != nil {
			return nil, err
		}
		a.bundle.Store(b)
	} else {
		a.bundle.Store(&bundle{pool: cfg.pool})
	}
	return a, nil
}

func deny(r runtime.Reason, msg string) *runtime.Error { return runtime.NewError(r, msg) }

// AuthenticatePeer authenticates the caller by the client certificate of
// info, which must have been verified by the TLS layer (as the config of
// [Authenticator.ServerTLSConfig] does). It checks, in order:
//
//   - a certificate was sent and verified (else CREDENTIALS_MISSING);
//   - the leaf is within its validity period by the [Clock] (else
//     TOKEN_EXPIRED or TOKEN_NOT_YET_VALID);
//   - the leaf still chains to the current trust bundle for client
//     authentication, so a CA removed by a reload is refused on connections
//     opened before (else CREDENTIALS_INVALID);
//   - the leaf is not a CA (else CREDENTIALS_INVALID);
//   - the leaf has exactly one usable identity of the configured mode (else
//     CREDENTIALS_INVALID).
//
// The principal has kind MTLS, the identity as subject, the identity's
// scopes, the leaf as Certificate and the leaf's NotAfter as ExpiresAt.
func (a *Authenticator) AuthenticatePeer(ctx context.Context, info credentials.TLSInfo) (*runtime.Principal, error) {
	st := &info.State
	if len(st.PeerCertificates) == 0 || st.PeerCertificates[0] == nil {
		return nil, deny(runtime.ReasonCredentialsMissing, "this method needs a verified client certificate").
			WithDetail("no client certificate was sent")
	}
	if len(st.VerifiedChains) == 0 {
		return nil, deny(runtime.ReasonCredentialsMissing, "this method needs a verified client certificate").
			WithDetail("the TLS layer did not verify the client certificate; use ServerTLSConfig")
	}
	leaf := st.PeerCertificates[0]
	if c := st.VerifiedChains[0]; len(c) == 0 || c[0] == nil || !c[0].Equal(leaf) {
		return nil, deny(runtime.ReasonCredentialsInvalid, "the client certificate is not trusted").
			WithDetail("the verified chain does not start with the peer's leaf certificate")
	}
	// The result, scopes included, is remembered per connection (the leaf
	// is the connection's own value) until the bundle is replaced, a
	// certificate of the chain expires, or ForgetScopes is called.
	return a.authenticate(leaf, st.PeerCertificates[1:], true)
}

// AuthenticateChain authenticates the caller by a client certificate chain
// that did not come over this process's own TLS handshake: one a trusted
// proxy forwarded (runtime.WithTrustedProxies, x-forwarded-client-cert),
// leaf first, then the intermediates the proxy sent. It implements
// runtime.ChainAuthenticator. The chain is verified here against the
// current trust bundle for client authentication, and then checked exactly
// as [Authenticator.AuthenticatePeer] checks a handshake's: the same
// checks, in the same order, with the same reasons (an empty chain is
// CREDENTIALS_MISSING). Nothing is remembered between calls: every call
// verifies its chain.
func (a *Authenticator) AuthenticateChain(_ context.Context, chain []*x509.Certificate) (*runtime.Principal, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, deny(runtime.ReasonCredentialsMissing, "this method needs a verified client certificate").
			WithDetail("the forwarded chain holds no certificate")
	}
	for _, c := range chain[1:] {
		if c == nil {
			return nil, deny(runtime.ReasonCredentialsInvalid, "the client certificate is not trusted").
				WithDetail("the forwarded chain holds a nil certificate")
		}
	}
	return a.authenticate(chain[0], chain[1:], false)
}

// authenticate checks leaf, sent with intermediates: its validity period,
// its chain to the current trust bundle, that it is no CA, and its
// identity. With remember, the principal is kept per leaf pointer (a
// connection's own certificate) and reused while it holds.
func (a *Authenticator) authenticate(leaf *x509.Certificate, intermediates []*x509.Certificate, remember bool) (*runtime.Principal, error) {
	now := a.cfg.now()
	if now.After(leaf.NotAfter) {
		return nil, deny(runtime.ReasonTokenExpired, "the client certificate has expired").
			WithDetail("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, deny(runtime.ReasonTokenNotYetValid, "the client certificate is not valid yet").
			WithDetail("certificate is valid from %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}

	// Defence in depth for a handshake's chain: the handshake verified it
	// against the bundle of its time; check it against the current one. A
	// forwarded chain is verified only here.
	b := a.bundle.Load()
	gen := a.verified.generation()
	if remember {
		if p := a.verified.get(leaf, b, gen, now); p != nil {
			return p, nil
		}
	}
	opts := x509.VerifyOptions{
		Roots:         b.pool,
		Intermediates: certPoolOf(intermediates),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   now,
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, deny(runtime.ReasonCredentialsInvalid, "the client certificate is not trusted").
			WithDetail("verification against the current trust bundle failed: %v", err)
	}
	validUntil := leaf.NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(validUntil) {
			validUntil = c.NotAfter
		}
	}

	if leaf.IsCA {
		return nil, deny(runtime.ReasonCredentialsInvalid, "the client certificate is a CA certificate, not a workload certificate")
	}

	var identity string
	var derr *runtime.Error
	if a.cfg.spiffe {
		identity, derr = a.spiffeIdentity(leaf)
	} else {
		identity, derr = sanIdentity(leaf, a.cfg.san)
	}
	if derr != nil {
		return nil, derr
	}
	p := &runtime.Principal{
		Kind:        runtime.MTLS,
		Subject:     identity,
		Scopes:      a.scopesOf(identity),
		Certificate: leaf,
		ExpiresAt:   leaf.NotAfter,
	}
	if remember {
		a.verified.put(leaf, &verifiedConn{bundle: b, gen: gen, validUntil: validUntil, principal: p})
	}
	return p, nil
}

// ForgetScopes drops the principals remembered per connection, so that
// the next call on every open connection asks [ScopeFunc] again (and
// verifies its certificate against the current bundle again). Call it
// when what ScopeFunc answers has changed: until then, a connection
// keeps the scopes of its first call. A call whose authentication ran
// while ForgetScopes was called may still see the old scopes; every call
// that starts after ForgetScopes returns sees the new answer. It is safe
// for concurrent use.
func (a *Authenticator) ForgetScopes() { a.verified.forget() }

// maxVerifiedConns bounds the per-connection verification cache.
const maxVerifiedConns = 4096

// connCache remembers, per connection's leaf certificate, the principal
// verified against a given bundle in a given generation. The principal is
// shared between the connection's calls and must not be modified.
type connCache struct {
	mu  sync.Mutex
	m   map[*x509.Certificate]*verifiedConn
	gen uint64 // bumped by forget: older entries, and entries being built, are not used
}

type verifiedConn struct {
	bundle     *bundle
	gen        uint64 // the generation read before the principal was built
	validUntil time.Time
	principal  *runtime.Principal
}

func (c *connCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *connCache) get(leaf *x509.Certificate, b *bundle, gen uint64, now time.Time) *runtime.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[leaf]
	if v == nil || v.bundle != b || v.gen != gen || now.After(v.validUntil) {
		return nil
	}
	return v.principal
}

// forget drops every entry; an entry put later by an authentication that
// read the generation before is never used.
func (c *connCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

func (c *connCache) put(leaf *x509.Certificate, v *verifiedConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[*x509.Certificate]*verifiedConn)
	}
	if len(c.m) >= maxVerifiedConns {
		for k := range c.m { // map order is random: evict one
			delete(c.m, k)
			break
		}
	}
	c.m[leaf] = v
}

// scopesOf returns a copy of identity's scopes.
func (a *Authenticator) scopesOf(identity string) []string {
	var s []string
	if a.cfg.scopeFunc != nil {
		s = a.cfg.scopeFunc(identity)
	} else {
		s = a.cfg.scopes[identity]
	}
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// spiffeIdentity returns the SPIFFE ID of an X509-SVID leaf: its single URI
// SAN, as written in the certificate, parsed by go-spiffe, in the
// configured trust domain, with a non-root path; the leaf must have the
// key usages of an X509-SVID leaf.
func (a *Authenticator) spiffeIdentity(leaf *x509.Certificate) (string, *runtime.Error) {
	uris, err := rawURISANs(leaf)
	if err != nil {
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate's subject alternative names cannot be read").
			WithDetail("%v", err)
	}
	switch {
	case len(uris) == 0:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate has no URI SAN; a SPIFFE ID is required")
	case len(uris) > 1:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate has "+strconv.Itoa(len(uris))+" URI SANs; exactly one SPIFFE ID is required")
	}
	if _, err := parseSPIFFE(uris[0], a.cfg.td); err != nil {
		return "", spiffeDenial(uris[0], a.cfg.td, err)
	}
	switch {
	case leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate is not an X509-SVID: it lacks the digitalSignature key usage")
	case leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate is not an X509-SVID: it has the keyCertSign or cRLSign key usage")
	}
	return uris[0], nil
}

// Why parseSPIFFE refuses an ID.
var (
	errOtherTrustDomain = errors.New("the SPIFFE ID is in another trust domain")
	errRootPath         = errors.New("the SPIFFE ID has no path: it names a trust domain, not a workload")
)

// parseSPIFFE parses raw, a URI SAN exactly as written in a certificate, as
// the SPIFFE ID of a workload of td. It accepts only what
// spiffeid.FromString accepts (lowercase scheme and trust domain; no port,
// user info, query or fragment; no empty, "." or ".." path segment; no
// percent-encoding), with a non-empty path, in td. It returns raw's ID.
func parseSPIFFE(raw string, td spiffeid.TrustDomain) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(raw)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if id.String() != raw {
		// FromString keeps its input; this guards against any future
		// normalisation that would let two spellings name one workload.
		return spiffeid.ID{}, errors.New("the SPIFFE ID is not in canonical form")
	}
	if id.Path() == "" {
		return spiffeid.ID{}, errRootPath
	}
	if id.TrustDomain() != td {
		return spiffeid.ID{}, errOtherTrustDomain
	}
	return id, nil
}

// spiffeDenial is the denial of a URI SAN parseSPIFFE refused. The URI is
// quoted: it comes from the caller's own certificate.
func spiffeDenial(raw string, td spiffeid.TrustDomain, err error) *runtime.Error {
	switch {
	case errors.Is(err, errOtherTrustDomain):
		return deny(runtime.ReasonCredentialsInvalid, "the SPIFFE ID "+quote(raw)+" is not in this server's trust domain").
			WithDetail("want trust domain %q", td.Name())
	case errors.Is(err, errRootPath):
		return deny(runtime.ReasonCredentialsInvalid, "the SPIFFE ID "+quote(raw)+" names a trust domain, not a workload")
	}
	return deny(runtime.ReasonCredentialsInvalid, "the client certificate's URI SAN "+quote(raw)+" is not a valid SPIFFE ID").
		WithDetail("%v", err)
}

// sanIdentity returns leaf's single name of kind.
func sanIdentity(leaf *x509.Certificate, kind SANKind) (string, *runtime.Error) {
	var names []string
	switch kind {
	case DNSName:
		names = leaf.DNSNames
	case Email:
		names = leaf.EmailAddresses
	case URI:
		uris, err := rawURISANs(leaf)
		if err != nil {
			return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate's subject alternative names cannot be read").
				WithDetail("%v", err)
		}
		names = uris
	case CommonName:
		// Subject.CommonName is the last of possibly several; count them.
		for _, atv := range leaf.Subject.Names {
			if atv.Type.Equal(oidCommonName) {
				s, ok := atv.Value.(string)
				if !ok {
					return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate's common name is not a string")
				}
				names = append(names, s)
			}
		}
	}
	switch {
	case len(names) == 0:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate has no "+kind.String()+" identity")
	case len(names) > 1:
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate has "+strconv.Itoa(len(names))+" "+kind.String()+" names; exactly one is required")
	case names[0] == "":
		return "", deny(runtime.ReasonCredentialsInvalid, "the client certificate's "+kind.String()+" is empty")
	}
	return names[0], nil
}

var (
	oidCommonName     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// rawURISANs returns the URI SANs of cert exactly as written in it.
// crypto/x509 gives them only as parsed *url.URL, whose String may differ
// from the certificate's bytes (the scheme is lowercased, for one).
func rawURISANs(cert *x509.Certificate) ([]string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		uris, err := uriSANsFromExtension(ext.Value)
		if err != nil {
			return nil, err
		}
		if len(uris) != len(cert.URIs) {
			return nil, errors.New("subject alternative name: URI count disagrees with crypto/x509")
		}
		return uris, nil
	}
	if len(cert.URIs) != 0 {
		return nil, errors.New("subject alternative name: extension not found")
	}
	return nil, nil
}

// uriSANsFromExtension returns the uniformResourceIdentifier entries ([6]
// IA5String) of a DER SubjectAltName extension value (RFC 5280 §4.2.1.6).
func uriSANsFromExtension(der []byte) ([]string, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	switch {
	case err != nil:
		return nil, errors.New("subject alternative name: " + err.Error())
	case len(rest) != 0:
		return nil, errors.New("subject alternative name: trailing data")
	case seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound:
		return nil, errors.New("subject alternative name: not a sequence")
	}
	var uris []string
	for b := seq.Bytes; len(b) > 0; {
		var v asn1.RawValue
		b, err = asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, errors.New("subject alternative name: " + err.Error())
		}
		if v.Class == asn1.ClassContextSpecific && v.Tag == 6 {
			if v.IsCompound {
				return nil, errors.New("subject alternative name: constructed URI")
			}
			uris = append(uris, string(v.Bytes))
		}
	}
	return uris, nil
}

// quote quotes s for a message, cut to a sane length.
func quote(s string) string {
	const maxLen = 256
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}
