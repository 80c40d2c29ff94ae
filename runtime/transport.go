// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// TrustedProxy names peers that are a trusted local proxy: a TLS-terminating
// proxy or mesh sidecar (Envoy, Istio, Linkerd) that forwards calls to this
// process in plaintext. Trust is decided only from the connection's own
// addresses — the socket it was accepted on and its peer's IP address —
// never from a header: x-forwarded-for says nothing.
//
// A call that arrives in plaintext from a trusted proxy counts as protected:
// TLS_REQUIRED is met and bearer tokens and API keys are accepted without
// [WithPlaintextCredentials]. Trusting a proxy is a promise that it accepts
// from outside only what this server would accept itself (TLS), and that
// nothing else can reach the addresses trusted here.
type TrustedProxy struct {
	// Unix trusts connections accepted on a Unix domain socket.
	Unix bool
	// Loopback trusts TCP connections from 127.0.0.0/8 and ::1.
	Loopback bool
	// CIDRs trusts TCP connections from these networks. A prefix of length
	// 0 (everything) is refused.
	CIDRs []netip.Prefix
	// ForwardedClientCert reads the caller's client certificate (kind MTLS)
	// from these peers' x-forwarded-client-cert header, Envoy's XFCC. The
	// proxy must replace that header on every request, never pass on what
	// its client sent (Envoy: forward_client_cert_details: SANITIZE_SET) and
	// must put the certificate in it (set_current_client_cert_details:
	// cert: true, and chain: true when clients send intermediates). The
	// header must then hold exactly one element with a Cert (or Chain), which
	// is verified against the MTLS authenticator's trust bundle as a
	// handshake's certificate is ([ChainAuthenticator]); anything else is
	// CREDENTIALS_MALFORMED. Without ForwardedClientCert the header is
	// refused from these peers too. It needs [WithMTLS] with a
	// [ChainAuthenticator], such as *mtls.Authenticator.
	ForwardedClientCert bool
}

// ChainAuthenticator is a [PeerAuthenticator] that also authenticates a
// client certificate chain that did not come over this process's own TLS
// handshake: one a trusted proxy forwarded, leaf first. It verifies the
// chain against its trust bundle itself, with the checks and reasons of
// AuthenticatePeer. Error conventions are those of [TokenAuthenticator].
type ChainAuthenticator interface {
	AuthenticateChain(ctx context.Context, chain []*x509.Certificate) (*Principal, error)
}

// WithTrustedProxies names the peers that are trusted local proxies (see
// [TrustedProxy]). It may be given several times; a peer is trusted by the
// first entry that matches it. Off by default: no peer is a proxy.
func WithTrustedProxies(proxies ...TrustedProxy) Option {
	return func(e *Enforcer) error {
		if len(proxies) == 0 {
			return fmt.Errorf("%w: WithTrustedProxies: no proxy", ErrInvalidOption)
		}
		for _, p := range proxies {
			if !p.Unix && !p.Loopback && len(p.CIDRs) == 0 {
				return fmt.Errorf("%w: WithTrustedProxies: a proxy names no peer (Unix, Loopback or CIDRs)", ErrInvalidOption)
			}
			p.CIDRs = append([]netip.Prefix(nil), p.CIDRs...)
			for _, c := range p.CIDRs {
				switch {
				case !c.IsValid():
					return fmt.Errorf("%w: WithTrustedProxies: invalid prefix %q", ErrInvalidOption, c.String())
				case c.Bits() == 0:
					return fmt.Errorf("%w: WithTrustedProxies: prefix %q trusts every address", ErrInvalidOption, c.String())
				}
			}
			e.proxies = append(e.proxies, p)
		}
		return nil
	}
}

// checkProxies is run once every option is applied: a proxy trusted to
// forward client certificates needs an authenticator that verifies them.
func (e *Enforcer) checkProxies() error {
	for _, p := range e.proxies {
		if !p.ForwardedClientCert {
			continue
		}
		if _, ok := e.mtls.(ChainAuthenticator); !ok {
			return fmt.Errorf("%w: WithTrustedProxies: ForwardedClientCert needs WithMTLS with a ChainAuthenticator (such as *mtls.Authenticator)", ErrInvalidOption)
		}
	}
	return nil
}

// trustedProxy returns the entry of e.proxies that trusts a connection
// with these addresses, or nil.
func (e *Enforcer) trustedProxy(remote, local net.Addr) *TrustedProxy {
	if len(e.proxies) == 0 {
		return nil
	}
	unix := isUnix(remote) || isUnix(local)
	var ip netip.Addr
	if !unix {
		ip = ipOf(remote)
	}
	for i := range e.proxies {
		p := &e.proxies[i]
		switch {
		case unix:
			if p.Unix {
				return p
			}
		case !ip.IsValid():
		case p.Loopback && ip.IsLoopback():
			return p
		default:
			for _, c := range p.CIDRs {
				if c.Contains(ip) {
					return p
				}
			}
		}
	}
	return nil
}

func isUnix(a net.Addr) bool {
	if a == nil {
		return false
	}
	if _, ok := a.(*net.UnixAddr); ok {
		return true
	}
	n := a.Network()
	return n == "unix" || n == "unixpacket"
}

// ipOf returns the IP address of a TCP peer, IPv4-mapped addresses
// unmapped; the zero Addr for anything else.
func ipOf(a net.Addr) netip.Addr {
	switch t := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(t.IP)
		if !ok {
			return netip.Addr{}
		}
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	if a.Network() != "tcp" && a.Network() != "tcp4" && a.Network() != "tcp6" {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Connection is what an integration that serves calls outside grpc-go's
// transport (a grpc-gateway mux in process, a Connect handler: packages
// runtime/gatewayauth and runtime/connectauth) knows of the connection and
// request a call arrived on. It hands it to the enforcer with
// [WithConnection]; [HTTPConnection] builds it from an *http.Request.
//
// The enforcer never guesses a connection: a call with neither a
// Connection nor a gRPC peer is plaintext, without a client certificate and
// not from a trusted proxy. When a context holds both, the Connection is
// the one decided on.
type Connection struct {
	// RemoteAddr is the connection's peer: a *net.TCPAddr, or a
	// *net.UnixAddr on a Unix socket. Nil when unknown (never trusted).
	RemoteAddr net.Addr
	// LocalAddr is the address the connection was accepted on (a
	// *net.UnixAddr for a Unix socket listener).
	LocalAddr net.Addr
	// TLS is the connection's TLS state, nil for plaintext. Its
	// PeerCertificates and VerifiedChains are the client certificate (kind
	// MTLS) when the server verified one.
	TLS *tls.ConnectionState
	// Header holds the request's HTTP headers (WithConnection keeps a copy
	// of those it reads). Credentials are read from
	// them — Authorization, X-Api-Key, their Grpc-Metadata- forms, and the
	// -Bin variants of all four, exactly one credential in all — and so is
	// X-Forwarded-Client-Cert from a trusted proxy. Incoming gRPC metadata
	// in the same context (what a gateway derived from these headers) must
	// hold no credential that these headers do not, and no forwarded
	// client certificate. Must not be nil.
	Header http.Header
}

type connectionKey struct{}

// WithConnection returns ctx carrying c, the connection of the call that
// will be decided with it. Integrations call it; the enforcer reads the
// transport, credentials and forwarded client certificate from c instead
// of from a gRPC peer and metadata.
//
// WithConnection keeps its own copy of c, with the headers it reads
// (credentials and the forwarded client certificate) copied out of
// c.Header: a handler that changes the request's headers afterwards (as
// connect-go does) changes nothing of the decision, nor of the rechecks of
// an open stream.
func WithConnection(ctx context.Context, c *Connection) context.Context {
	own := *c
	own.Header = decisionHeaders(c.Header)
	return context.WithValue(ctx, connectionKey{}, &own)
}

// decisionHeaders copies the headers of h the decision reads.
func decisionHeaders(h http.Header) http.Header {
	out := http.Header{}
	for name, vals := range h {
		a, k, bin := httpCredentialHeader(name)
		xfcc := strings.EqualFold(name, headerXFCC) || strings.EqualFold(name, grpcMetadataPrefix+headerXFCC)
		if a || k || bin || xfcc {
			out[name] = append([]string(nil), vals...)
		}
	}
	return out
}

// ConnectionFrom returns the Connection of ctx set by [WithConnection].
func ConnectionFrom(ctx context.Context) (*Connection, bool) {
	c, ok := ctx.Value(connectionKey{}).(*Connection)
	return c, ok && c != nil
}

// HTTPConnection returns the Connection of r as net/http accepted it: the
// peer from r.RemoteAddr, the listener's address from the request context
// (http.LocalAddrContextKey; a *net.UnixAddr marks a Unix socket), r.TLS
// and r.Header. The request is not copied: do not change r while the call
// runs.
//
// r.RemoteAddr must be the connection's own peer: never put middleware
// that rewrites it from X-Forwarded-For or similar headers (chi's RealIP,
// gorilla's ProxyHeaders) in front of an integration that calls this, or
// a client names its own address.
func HTTPConnection(r *http.Request) *Connection {
	c := &Connection{TLS: r.TLS, Header: r.Header}
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.LocalAddr, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.RemoteAddr = net.TCPAddrFromAddrPort(ap)
	} else if isUnix(c.LocalAddr) {
		c.RemoteAddr = &net.UnixAddr{Name: r.RemoteAddr, Net: "unix"}
	}
	return c
}

// callConn is what the decision knows of a call's connection.
type callConn struct {
	secure bool                 // TLS, or a trusted proxy
	tls    credentials.AuthInfo // the connection's own TLS AuthInfo; nil when none
	cert   bool                 // tls holds a client certificate
	proxy  *TrustedProxy        // the trusted proxy the call came from, nil if none
	http   *Connection          // handed over by an integration, nil for gRPC
	addr   net.Addr             // the peer, for logs
}

// hasCert reports whether the connection itself presented a client
// certificate. (connOf found out: the TLS state is not copied again into
// the frame of a function every call runs.)
func (c *callConn) hasCert() bool { return c.cert }

// connOf determines the call's connection: the Connection an integration
// handed over, else the gRPC peer.
func (e *Enforcer) connOf(ctx context.Context) callConn {
	if hc, ok := ConnectionFrom(ctx); ok {
		c := callConn{http: hc, addr: hc.RemoteAddr}
		if hc.TLS != nil && hc.TLS.HandshakeComplete {
			c.secure, c.cert = true, len(hc.TLS.PeerCertificates) > 0
			c.tls = credentials.TLSInfo{State: *hc.TLS, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
			return c
		}
		if c.proxy = e.trustedProxy(hc.RemoteAddr, hc.LocalAddr); c.proxy != nil {
			c.secure = true
		}
		return c
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return callConn{}
	}
	c := callConn{addr: p.Addr}
	if secure, cert := tlsOf(p.AuthInfo); secure {
		c.secure, c.tls, c.cert = true, p.AuthInfo, cert
		return c
	}
	if c.proxy = e.trustedProxy(p.Addr, p.LocalAddr); c.proxy != nil {
		c.secure = true
	}
	return c
}

// tlsOf reports whether ai is a connection with privacy and integrity
// (private) and whether it presented a client certificate (one of
// grpc-go's credentials.TLSInfo with peer certificates), reading grpc-go's
// TLSInfo, a large struct, once.
func tlsOf(ai credentials.AuthInfo) (secure, cert bool) {
	if ti, ok := ai.(credentials.TLSInfo); ok {
		return ti.SecurityLevel == credentials.PrivacyAndIntegrity, len(ti.State.PeerCertificates) > 0
	}
	return private(ai), false
}
