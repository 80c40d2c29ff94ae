// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// How a test server enforces the rules.
type mode string

const (
	// modeRegister uses the generated RegisterLibraryServiceServerWithAuth.
	modeRegister mode = "register"
	// modeWrapper registers the generated typed wrapper with the plain
	// RegisterLibraryServiceServer.
	modeWrapper mode = "wrapper"
	// modeInterceptor registers the raw implementation and enforces with
	// the enforcer's interceptors and the generated rule table.
	modeInterceptor mode = "interceptor"
)

var modes = []mode{modeRegister, modeWrapper, modeInterceptor}

// recorder is a LibraryService that records what reached it.
type recorder struct {
	libraryv1.UnimplementedLibraryServiceServer
	calls    atomic.Int32 // handler invocations
	mu       sync.Mutex
	subjects []string // principal subjects seen, "" for none
	// synced, when set, is given every request SyncShelf receives.
	synced func(*libraryv1.SyncShelfRequest)
}

func (r *recorder) saw(ctx context.Context) {
	r.calls.Add(1)
	sub := ""
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		sub = p.Subject
	}
	r.mu.Lock()
	r.subjects = append(r.subjects, sub)
	r.mu.Unlock()
}

func (r *recorder) lastSubject() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.subjects) == 0 {
		return "<no call>"
	}
	return r.subjects[len(r.subjects)-1]
}

func (r *recorder) GetBook(ctx context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	r.saw(ctx)
	return &libraryv1.Book{Name: req.GetName()}, nil
}

func (r *recorder) DeleteBook(ctx context.Context, _ *libraryv1.DeleteBookRequest) (*libraryv1.DeleteBookResponse, error) {
	r.saw(ctx)
	return &libraryv1.DeleteBookResponse{}, nil
}

func (r *recorder) ListPublicShelves(ctx context.Context, _ *libraryv1.ListPublicShelvesRequest) (*libraryv1.ListPublicShelvesResponse, error) {
	r.saw(ctx)
	return &libraryv1.ListPublicShelvesResponse{Shelves: []string{"shelves/public"}}, nil
}

func (r *recorder) ExportShelf(_ *libraryv1.ExportShelfRequest, stream grpc.ServerStreamingServer[libraryv1.ExportChunk]) error {
	r.saw(stream.Context())
	return stream.Send(&libraryv1.ExportChunk{})
}

func (r *recorder) ImportBooks(stream grpc.ClientStreamingServer[libraryv1.ImportBooksRequest, libraryv1.ImportBooksResponse]) error {
	r.saw(stream.Context())
	var n int32
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return stream.SendAndClose(&libraryv1.ImportBooksResponse{Imported: n})
		} else if err != nil {
			return err
		}
		n++
	}
}

func (r *recorder) SyncShelf(stream grpc.BidiStreamingServer[libraryv1.SyncShelfRequest, libraryv1.SyncShelfResponse]) error {
	r.saw(stream.Context())
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.synced != nil {
			r.synced(req)
		}
		if err := stream.Send(&libraryv1.SyncShelfResponse{Book: req.GetBook()}); err != nil {
			return err
		}
	}
}

// fixture is a real gRPC server and client over bufconn, with a real
// issuer serving JWKS over HTTPS.
type fixture struct {
	iss         *authtest.Issuer
	attacker    *authtest.Issuer // another issuer, for forged signatures
	impl        *recorder
	enf         *runtime.Enforcer
	client      libraryv1.LibraryServiceClient // over TLS
	plainClient libraryv1.LibraryServiceClient // over plaintext
	conn        *grpc.ClientConn               // the TLS connection
	log         *syncBuffer
	decisions   *decisionLog
	ca          *authtest.CA // issued the servers' certificates
	serverTLS   *tls.Config
}

type fixtureOptions struct {
	mode mode
	// extra registers more services on the server.
	extra func(s *grpc.Server)
	// enforcerOpts are added to the enforcer's options.
	enforcerOpts []runtime.Option
	// interceptorsToo adds the interceptors in register mode.
	interceptorsToo bool
	// jwtOpts are added to the JWT authenticator's options.
	jwtOpts []jwtauth.Option
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// decisionLog is an audit sink that keeps every event.
type decisionLog struct {
	mu sync.Mutex
	ds []runtime.AuditEvent
}

func (l *decisionLog) Audit(ev runtime.AuditEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ds = append(l.ds, ev)
}

func (l *decisionLog) all() []runtime.AuditEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]runtime.AuditEvent(nil), l.ds...)
}

// auditAll is the option that audits every decision to l.
func auditAll(l *decisionLog) runtime.Option {
	return runtime.WithAudit(runtime.AuditOnDenyAndAllow, l)
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{
		iss:       authtest.NewIssuer(t, authtest.DefaultAudience("library")),
		attacker:  authtest.NewIssuer(t, authtest.DefaultAudience("library")),
		impl:      &recorder{},
		log:       &syncBuffer{},
		decisions: &decisionLog{},
	}
	a := mustJWT(t, f.iss, o.jwtOpts...)
	opts := append([]runtime.Option{
		runtime.WithJWT(a),
		runtime.WithLogger(slog.New(slog.NewTextHandler(f.log, nil))),
		auditAll(f.decisions),
	}, o.enforcerOpts...)
	if o.mode == modeInterceptor {
		opts = append(opts, runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	}
	var err error
	f.enf, err = runtime.NewEnforcer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := authtest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	var serverOpts []grpc.ServerOption
	if o.mode == modeInterceptor || o.interceptorsToo {
		serverOpts = append(serverOpts,
			grpc.ChainUnaryInterceptor(f.enf.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(f.enf.StreamServerInterceptor()))
	}
	register := func(s *grpc.Server) {
		switch o.mode {
		case modeRegister:
			libraryv1.RegisterLibraryServiceServerWithAuth(s, f.impl, f.enf)
		case modeWrapper:
			libraryv1.RegisterLibraryServiceServer(s, libraryv1.NewLibraryServiceServerWithAuth(f.impl, f.enf))
		case modeInterceptor:
			libraryv1.RegisterLibraryServiceServer(s, f.impl)
		}
		if o.extra != nil {
			o.extra(s)
		}
	}
	f.ca, f.serverTLS = ca, serverTLS
	plain := serve(t, register, serverOpts...)
	secure := serve(t, register, append(serverOpts, grpc.Creds(credentials.NewTLS(serverTLS)))...)
	f.conn = dial(t, secure, credentials.NewTLS(withServerName(ca.ClientTLS())))
	f.client = libraryv1.NewLibraryServiceClient(f.conn)
	f.plainClient = libraryv1.NewLibraryServiceClient(dial(t, plain, insecure.NewCredentials()))
	return f
}

// mustJWT returns a JWT authenticator for iss with audience "library".
func mustJWT(t testing.TB, iss *authtest.Issuer, opts ...jwtauth.Option) *jwtauth.Authenticator {
	t.Helper()
	a, err := jwtauth.New(append([]jwtauth.Option{
		jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())),
		jwtauth.HTTPClient(iss.HTTPClient()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func withServerName(c *tls.Config) *tls.Config {
	c.ServerName = "localhost"
	return c
}

// tlsPair is the TLS of a test's server and client: a server certificate
// for localhost from a fresh CA named name, and a client trusting it.
func tlsPair(t testing.TB, name string) (server grpc.ServerOption, client credentials.TransportCredentials) {
	t.Helper()
	ca, err := authtest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	return grpc.Creds(credentials.NewTLS(serverTLS)), credentials.NewTLS(withServerName(ca.ClientTLS()))
}

func serve(t testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) *bufconn.Listener {
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(opts...)
	register(s)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis
}

func dial(t testing.TB, lis *bufconn.Listener, creds credentials.TransportCredentials) *grpc.ClientConn {
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// recvAll receives until the stream ends: nil at io.EOF, else the error.
func recvAll[T any](recv func() (*T, error)) error {
	for {
		if _, err := recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
