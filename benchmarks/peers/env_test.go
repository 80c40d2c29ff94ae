// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package peers_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/grpcauth/protoc-gen-go-grpcauth/benchmarks/peers"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// The servers, by name. noauth is the service registered raw; the others
// guard it.
const (
	noauth       = "noauth"
	gomwJWT      = "gomw_jwt"       // go-grpc-middleware auth + golang-jwt v5, every call
	gomwJWTCache = "gomw_jwt_cache" // the same with a hand-written verified-token cache
	authzStatic  = "authz_static"   // grpc-go authz static policy: authorization only
	gomwJWTAuthz = "gomw_jwt_authz" // gomw_jwt, then authz_static
	grpcauthHot  = "grpcauth_hot"   // this project, verified-token cache on (the default)
	grpcauthCold = "grpcauth_cold"  // this project, cache off: every call verifies
	// grpcauthUnguarded is grpcauth_hot without the stream guard
	// (WithoutStreamExpiry, WithStreamRecheck(0)): a stream's decision
	// alone, to set the guard's cost apart.
	grpcauthUnguarded = "grpcauth_unguarded"
	// noauthWrapped is the raw service whose streams run on a wrapper
	// that overrides Context alone (peers.WrapStreams): the least a
	// stream auth pays on grpc-go to hand its handler a context.
	noauthWrapped = "noauth_wrapped"
)

// env is every server of BenchmarkPeers over bufconn with TLS, the same CA
// and issuer set-up as runtime's BenchmarkAuth, and one RS256 token with
// scopes library.read and library.export for audience "library".
type env struct {
	iss     *authtest.Issuer
	token   string
	clients map[string]libraryv1.LibraryServiceClient
	// subjects, when recording, holds the last subject each server's
	// handler saw.
	subjects map[string]*atomic.Pointer[string]
}

func withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

// newEnv starts the servers. With record, each handler records the last
// subject it saw in e.subjects (the benchmarks leave it off).
func newEnv(tb testing.TB, record bool) *env {
	tb.Helper()
	e := &env{
		iss:     authtest.NewIssuer(tb, authtest.DefaultAudience("library")),
		clients: map[string]libraryv1.LibraryServiceClient{},
	}
	// An hour, not the default 5 minutes, so that a long run under callgrind
	// does not outlive it (the token is as long either way).
	e.token = e.iss.Mint(authtest.Scopes("library.read", "library.export"), authtest.ExpiresIn(time.Hour))
	if record {
		e.subjects = map[string]*atomic.Pointer[string]{}
	}
	ca, err := authtest.NewCA("bench CA")
	if err != nil {
		tb.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		tb.Fatal(err)
	}
	clientCreds := credentials.NewTLS(withServerName(ca.ClientTLS()))
	start := func(name string, opts ...grpc.ServerOption) func(register func(grpc.ServiceRegistrar, libraryv1.LibraryServiceServer)) {
		return func(register func(grpc.ServiceRegistrar, libraryv1.LibraryServiceServer)) {
			svc := &peers.Service{}
			if record {
				sub := new(atomic.Pointer[string])
				e.subjects[name] = sub
				svc.OnCall = func(s string) { sub.Store(&s) }
			}
			lis := serve(tb, func(s *grpc.Server) { register(s, svc) }, append([]grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverTLS))}, opts...)...)
			e.clients[name] = libraryv1.NewLibraryServiceClient(dial(tb, lis, clientCreds))
		}
	}
	raw := libraryv1.RegisterLibraryServiceServer

	keys, err := peers.FetchRSAKeys(context.Background(), e.iss.HTTPClient(), e.iss.JWKSURL())
	if err != nil {
		tb.Fatal(err)
	}
	jwtAuth := peers.NewJWTAuth(e.iss.URL(), "library", keys)
	cached := peers.NewCachedJWTAuth(e.iss.URL(), "library", keys)
	az, err := peers.AuthzStatic()
	if err != nil {
		tb.Fatal(err)
	}

	start(noauth)(raw)
	start(noauthWrapped)(func(s grpc.ServiceRegistrar, svc libraryv1.LibraryServiceServer) {
		s.RegisterService(peers.WrapStreams(&libraryv1.LibraryService_ServiceDesc), svc)
	})
	start(gomwJWT, grpc.UnaryInterceptor(peers.Unary(jwtAuth.AuthFunc)), grpc.StreamInterceptor(peers.Stream(jwtAuth.AuthFunc)))(raw)
	start(gomwJWTCache, grpc.UnaryInterceptor(peers.Unary(cached.AuthFunc)), grpc.StreamInterceptor(peers.Stream(cached.AuthFunc)))(raw)
	start(authzStatic, grpc.UnaryInterceptor(az.UnaryInterceptor), grpc.StreamInterceptor(az.StreamInterceptor))(raw)
	start(gomwJWTAuthz,
		grpc.ChainUnaryInterceptor(peers.Unary(jwtAuth.AuthFunc), az.UnaryInterceptor),
		grpc.ChainStreamInterceptor(peers.Stream(jwtAuth.AuthFunc), az.StreamInterceptor))(raw)
	enforced := func(opts ...any) func(grpc.ServiceRegistrar, libraryv1.LibraryServiceServer) {
		var jopts []jwtauth.Option
		ropts := []runtime.Option{runtime.WithLogger(nil)}
		for _, o := range opts {
			switch o := o.(type) {
			case jwtauth.Option:
				jopts = append(jopts, o)
			case runtime.Option:
				ropts = append(ropts, o)
			}
		}
		a, err := jwtauth.New(append([]jwtauth.Option{
			jwtauth.Issuer(e.iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(e.iss.JWKSURL())),
			jwtauth.HTTPClient(e.iss.HTTPClient()),
		}, jopts...)...)
		if err != nil {
			tb.Fatal(err)
		}
		enf, err := runtime.NewEnforcer(append(ropts, runtime.WithJWT(a))...)
		if err != nil {
			tb.Fatal(err)
		}
		return func(s grpc.ServiceRegistrar, svc libraryv1.LibraryServiceServer) {
			libraryv1.RegisterLibraryServiceServerWithAuth(s, svc, enf)
		}
	}
	start(grpcauthHot)(enforced())
	start(grpcauthCold)(enforced(jwtauth.CacheSize(0)))
	start(grpcauthUnguarded)(enforced(runtime.WithoutStreamExpiry(), runtime.WithStreamRecheck(0)))
	return e
}

func withServerName(c *tls.Config) *tls.Config {
	c.ServerName = "localhost"
	return c
}

// serve serves register's services on a new bufconn listener. With
// GRPCAUTH_BENCH_WORKERS=n set (scripts/callgrind.sh WORKERS=n), calls run
// on n long-lived worker goroutines (grpc.NumStreamWorkers) instead of a
// new goroutine each, whose stack growth by copying moves tens of
// thousands of instructions between rows with the depth of their frames
// (see runtime's benchServerOptions).
func serve(tb testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) *bufconn.Listener {
	lis := bufconn.Listen(1 << 20)
	if n, err := strconv.Atoi(os.Getenv("GRPCAUTH_BENCH_WORKERS")); err == nil && n > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(n)))
	}
	s := grpc.NewServer(opts...)
	register(s)
	go s.Serve(tcpAddrs{lis})
	tb.Cleanup(s.Stop)
	return lis
}

// tcpAddrs gives the connections a bufconn listener accepts loopback TCP
// addresses: grpc-go's authz (its RBAC engine) refuses a call whose local
// address has no port, as bufconn's has not ("bufconn"). Every server of
// the benchmark is served through it, so that all rows share one
// transport.
type tcpAddrs struct{ *bufconn.Listener }

func (l tcpAddrs) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return addrConn{c}, nil
}

type addrConn struct{ net.Conn }

var (
	localAddr  = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}
	remoteAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
)

func (addrConn) LocalAddr() net.Addr  { return localAddr }
func (addrConn) RemoteAddr() net.Addr { return remoteAddr }

func dial(tb testing.TB, lis *bufconn.Listener, creds credentials.TransportCredentials) *grpc.ClientConn {
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// exportOne is a server-streaming ExportShelf of one message, received to
// its end.
func exportOne(ctx context.Context, c libraryv1.LibraryServiceClient) error {
	s, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/a"})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
