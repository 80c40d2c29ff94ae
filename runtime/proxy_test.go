// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/internal/conformance"
)

// kindsServer is a Kinds server on real listeners, enforced in one mode.
type kindsServer struct {
	impl *conformance.Server
	enf  *runtime.Enforcer
	log  *syncBuffer
}

// startKinds serves grpcauthtest.v1.Kinds in mode on every listener of
// lis (with TLS when tlsCfg is set), enforced by an enforcer of w's
// authenticators and opts.
func startKinds(t *testing.T, w *conformance.World, m mode, tlsCfg *tls.Config, opts []runtime.Option, lis ...net.Listener) *kindsServer {
	t.Helper()
	ks := &kindsServer{impl: &conformance.Server{}, log: &syncBuffer{}}
	opts = append(w.Options(ks.log), opts...)
	if m == modeInterceptor {
		opts = append(opts, runtime.WithRules(grpcauthtestv1.KindsAuthRules))
	}
	var err error
	if ks.enf, err = runtime.NewEnforcer(opts...); err != nil {
		t.Fatal(err)
	}
	var sopts []grpc.ServerOption
	if tlsCfg != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(w.MTLS.ServerTLSConfig(tlsCfg))))
	}
	if m == modeInterceptor {
		sopts = append(sopts, grpc.ChainUnaryInterceptor(ks.enf.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(ks.enf.StreamServerInterceptor()))
	}
	s := grpc.NewServer(sopts...)
	switch m {
	case modeRegister:
		grpcauthtestv1.RegisterKindsServerWithAuth(s, ks.impl, ks.enf)
	case modeWrapper:
		grpcauthtestv1.RegisterKindsServer(s, grpcauthtestv1.NewKindsServerWithAuth(ks.impl, ks.enf))
	case modeInterceptor:
		grpcauthtestv1.RegisterKindsServer(s, ks.impl)
	}
	for _, l := range lis {
		go func() { _ = s.Serve(l) }() // ends with Stop
	}
	t.Cleanup(s.Stop)
	return ks
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func listenUnix(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grpc.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

func dialAddr(t *testing.T, target string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func clientTLS(w *conformance.World, certs ...tls.Certificate) credentials.TransportCredentials {
	c := w.CA.ClientTLS()
	c.ServerName = "localhost"
	c.Certificates = certs
	return credentials.NewTLS(c)
}

// TestConformanceGRPC runs the shared table on grpc-go in every mode, over
// real loopback TCP: TLS, and plaintext from a peer that is no proxy.
func TestConformanceGRPC(t *testing.T) {
	w := conformance.NewWorld(t)
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			serverTLS, err := w.CA.ServerTLS()
			if err != nil {
				t.Fatal(err)
			}
			secure, plain := listenTCP(t), listenTCP(t)
			ks := startKinds(t, w, m, serverTLS, nil, secure)
			kp := startKinds(t, w, m, nil, nil, plain)
			t.Run("tls", func(t *testing.T) {
				call := conformance.GRPC(dialAddr(t, secure.Addr().String(), clientTLS(w)))
				conformance.Run(t, w, conformance.Path{Secure: true}, ks.impl, call, conformance.Options{}, conformance.Cases)
			})
			t.Run("plaintext", func(t *testing.T) {
				call := conformance.GRPC(dialAddr(t, plain.Addr().String(), insecure.NewCredentials()))
				conformance.Run(t, w, conformance.Path{}, kp.impl, call, conformance.Options{}, conformance.Cases)
			})
		})
	}
}

// TestConformanceTrustedProxy serves one server on a Unix socket and on
// loopback TCP, trusting only the Unix socket: calls over the socket count
// as protected and their forwarded certificate is read; the same calls
// over loopback TCP are plaintext from an untrusted peer, whose forwarded
// certificate header is a spoof.
func TestConformanceTrustedProxy(t *testing.T) {
	w := conformance.NewWorld(t)
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			unixLis, path := listenUnix(t)
			tcpLis := listenTCP(t)
			ks := startKinds(t, w, m, nil, []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true})}, unixLis, tcpLis)
			t.Run("unix socket, trusted", func(t *testing.T) {
				call := conformance.GRPC(dialAddr(t, "unix://"+path, insecure.NewCredentials()))
				conformance.Run(t, w, conformance.Path{Secure: true, ForwardsCerts: true}, ks.impl, call, conformance.Options{}, conformance.Cases)
			})
			t.Run("loopback, untrusted", func(t *testing.T) {
				call := conformance.GRPC(dialAddr(t, tcpLis.Addr().String(), insecure.NewCredentials()))
				conformance.Run(t, w, conformance.Path{}, ks.impl, call, conformance.Options{}, conformance.Cases)
			})
		})
	}
	t.Run("loopback trusted, certificates not forwarded", func(t *testing.T) {
		tcpLis := listenTCP(t)
		ks := startKinds(t, w, modeRegister, nil, []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Loopback: true})}, tcpLis)
		call := conformance.GRPC(dialAddr(t, tcpLis.Addr().String(), insecure.NewCredentials()))
		conformance.Run(t, w, conformance.Path{Secure: true}, ks.impl, call, conformance.Options{}, conformance.Cases)
	})
}

// TestTrustedProxyNeverByHeader: a loopback peer outside the trusted
// networks stays untrusted whatever x-forwarded-for or
// x-forwarded-client-cert it sends.
func TestTrustedProxyNeverByHeader(t *testing.T) {
	w := conformance.NewWorld(t)
	tcpLis := listenTCP(t)
	ks := startKinds(t, w, modeRegister, nil, []runtime.Option{runtime.WithTrustedProxies(
		runtime.TrustedProxy{CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ForwardedClientCert: true},
		runtime.TrustedProxy{Unix: true},
	)}, tcpLis)
	call := conformance.GRPC(dialAddr(t, tcpLis.Addr().String(), insecure.NewCredentials()))
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		method  string
		headers []conformance.Header
		want    runtime.Reason
	}{
		{"x-forwarded-for of a trusted network", "Jwt", conformance.H("x-forwarded-for", "10.1.2.3", "authorization", "Bearer "+w.Token("s")), runtime.ReasonTransportInsecure},
		{"forwarded and real-ip headers", "Jwt", conformance.H("x-real-ip", "10.1.2.3", "forwarded", "for=10.1.2.3", "authorization", "Bearer "+w.Token("s")), runtime.ReasonTransportInsecure},
		{"spoofed certificate", "Mtls", conformance.H("x-forwarded-for", "10.1.2.3", "x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf)), runtime.ReasonCredentialsMalformed},
		{"tls required", "SecureWatch", conformance.H("x-forwarded-for", "10.1.2.3", "x-forwarded-proto", "https"), runtime.ReasonTransportInsecure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := call(ctx, tc.method, tc.headers)
			if got.Reason != tc.want || ks.impl.Calls.Load() != 0 {
				t.Errorf("got %v %s (handler calls %d), want %s and no handler call", got.Code, got.Reason, ks.impl.Calls.Load(), tc.want)
			}
		})
	}
}

// TestForwardedCertOnTLS: on a direct TLS connection the client
// certificate is the connection's own; x-forwarded-client-cert is refused,
// also from an address that is a trusted proxy.
func TestForwardedCertOnTLS(t *testing.T) {
	w := conformance.NewWorld(t)
	serverTLS, err := w.CA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	lis := listenTCP(t)
	ks := startKinds(t, w, modeRegister, serverTLS, []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Loopback: true, ForwardedClientCert: true})}, lis)
	call := conformance.GRPC(dialAddr(t, lis.Addr().String(), clientTLS(w, w.Workload)))
	got := call(context.Background(), "Mtls", nil)
	if got.Code != codes.OK || got.Subject != conformance.WorkloadA {
		t.Fatalf("the connection's own certificate: got %v %s %q, want OK %s", got.Code, got.Reason, got.Subject, conformance.WorkloadA)
	}
	calls := ks.impl.Calls.Load()
	got = call(context.Background(), "Mtls", conformance.H("x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf)))
	if got.Reason != runtime.ReasonCredentialsMalformed || ks.impl.Calls.Load() != calls {
		t.Fatalf("forwarded certificate on TLS: got %v %s, want CREDENTIALS_MALFORMED before the handler", got.Code, got.Reason)
	}
	if !strings.Contains(ks.log.String(), "never read on a TLS connection") {
		t.Errorf("log lacks the reason:\n%s", ks.log.String())
	}
}

// TestForwardedCertBinding: a certificate-bound JWT (cnf.x5t#S256) behind
// a trusted proxy is checked against the forwarded certificate.
func TestForwardedCertBinding(t *testing.T) {
	w := conformance.NewWorld(t)
	unixLis, path := listenUnix(t)
	ks := startKinds(t, w, modeRegister, nil, []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true})}, unixLis)
	call := conformance.GRPC(dialAddr(t, "unix://"+path, insecure.NewCredentials()))
	bound := w.Issuer.Mint(authtest.Subject(conformance.Alice), authtest.Scopes("s"),
		authtest.Claim("cnf", map[string]any{"x5t#S256": runtime.CertificateThumbprint(w.Workload.Leaf)}))
	for _, tc := range []struct {
		name string
		xfcc string
		want runtime.Reason
	}{
		{"the bound certificate", authtest.ForwardedClientCert(w.Workload.Leaf), ""},
		{"another certificate", authtest.ForwardedClientCert(w.Foreign.Leaf), runtime.ReasonCredentialsInvalid},
		{"no certificate", "", runtime.ReasonCredentialsInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := conformance.H("authorization", "Bearer "+bound)
			if tc.xfcc != "" {
				h = append(h, conformance.Header{Key: "x-forwarded-client-cert", Value: tc.xfcc})
			}
			got := call(context.Background(), "Jwt", h)
			if got.Reason != tc.want {
				t.Errorf("got %v %s, want %q", got.Code, got.Reason, tc.want)
			}
		})
	}
	_ = ks
}

// TestWithTrustedProxiesErrors: the option's configuration errors.
func TestWithTrustedProxiesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []runtime.Option
		want string
	}{
		{"none", []runtime.Option{runtime.WithTrustedProxies()}, "grpcauth: invalid option: WithTrustedProxies: no proxy"},
		{"no peer", []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{ForwardedClientCert: true})}, "grpcauth: invalid option: WithTrustedProxies: a proxy names no peer (Unix, Loopback or CIDRs)"},
		{"everything", []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})}, `grpcauth: invalid option: WithTrustedProxies: prefix "0.0.0.0/0" trusts every address`},
		{"invalid prefix", []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{CIDRs: []netip.Prefix{{}}})}, `grpcauth: invalid option: WithTrustedProxies: invalid prefix "invalid Prefix"`},
		{"certificates without mtls", []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true})}, "grpcauth: invalid option: WithTrustedProxies: ForwardedClientCert needs WithMTLS with a ChainAuthenticator (such as *mtls.Authenticator)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runtime.NewEnforcer(tc.opts...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTrustedProxyLogsNoSecret: a denial behind a proxy logs the peer and
// never the forwarded header or a token.
func TestTrustedProxyLogsNoSecret(t *testing.T) {
	w := conformance.NewWorld(t)
	unixLis, path := listenUnix(t)
	ks := startKinds(t, w, modeRegister, nil, []runtime.Option{runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true})}, unixLis)
	conn := dialAddr(t, "unix://"+path, insecure.NewCredentials())
	tok := w.Token("t")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok, "x-forwarded-client-cert", "Cert=\"garbage\";By=secret-by")
	_, err := grpcauthtestv1.NewKindsClient(conn).Jwt(ctx, &grpcauthtestv1.Msg{})
	if e, ok := runtime.FromError(err); !ok || e.Reason != runtime.ReasonCredentialsMalformed {
		t.Fatalf("got %v, want CREDENTIALS_MALFORMED", err)
	}
	for _, secret := range []string{tok[:20], "garbage", "secret-by"} {
		if strings.Contains(ks.log.String(), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("%q leaked into the log or the status:\n%s\n%v", secret, ks.log.String(), err)
		}
	}
}

// delegated answers with the end user's and the workload's subjects.
type delegated struct {
	grpcauthtestv1.UnimplementedDelegatedServer
}

func (delegated) Get(ctx context.Context, _ *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	p, _ := runtime.PrincipalFrom(ctx)
	w, _ := runtime.WorkloadFrom(ctx)
	return &grpcauthtestv1.Msg{Text: p.Subject + " via " + w.Subject}, nil
}

// TestForwardedCertOnBehalfOf: behind a trusted proxy, the forwarded
// certificate can be the workload's beside an end user's token.
func TestForwardedCertOnBehalfOf(t *testing.T) {
	w := conformance.NewWorld(t)
	enf, err := runtime.NewEnforcer(append(w.Options(nil), runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true}))...)
	if err != nil {
		t.Fatal(err)
	}
	unixLis, path := listenUnix(t)
	tcpLis := listenTCP(t)
	s := grpc.NewServer()
	grpcauthtestv1.RegisterDelegatedServerWithAuth(s, delegated{}, enf)
	go func() { _ = s.Serve(unixLis) }()
	go func() { _ = s.Serve(tcpLis) }()
	t.Cleanup(s.Stop)
	user := w.Token("u")
	for _, tc := range []struct {
		name, target string
		want         runtime.Reason
	}{
		{"trusted proxy", "unix://" + path, ""},
		{"untrusted loopback", tcpLis.Addr().String(), runtime.ReasonCredentialsMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialAddr(t, tc.target, insecure.NewCredentials())
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+user,
				"x-forwarded-client-cert", authtest.ForwardedClientCert(w.Workload.Leaf))
			m, err := grpcauthtestv1.NewDelegatedClient(conn).Get(ctx, &grpcauthtestv1.Msg{})
			if tc.want == "" {
				if err != nil || m.GetText() != conformance.Alice+" via "+conformance.WorkloadA {
					t.Fatalf("got %v %q", err, m.GetText())
				}
				return
			}
			if e, ok := runtime.FromError(err); !ok || e.Reason != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}
