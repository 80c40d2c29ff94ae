// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/internal/redistest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
)

// Test timing: health checks every 100ms, so a silent loss is noticed
// within 200ms; bound is what the tests allow for a revocation to reach
// another replica, or for a loss to be noticed, on a loaded machine.
const (
	health = 100 * time.Millisecond
	bound  = 3 * time.Second
)

// library is a LibraryService with the methods the tests call.
type library struct {
	libraryv1.UnimplementedLibraryServiceServer
}

func (library) GetBook(_ context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	return &libraryv1.Book{Name: req.GetName()}, nil
}

// SyncShelf echoes every request until the client closes.
func (library) SyncShelf(stream grpc.BidiStreamingServer[libraryv1.SyncShelfRequest, libraryv1.SyncShelfResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&libraryv1.SyncShelfResponse{Book: req.GetBook()}); err != nil {
			return err
		}
	}
}

// world is a Redis server for the test, a key prefix of its own and a JWT
// issuer shared by the replicas.
type world struct {
	addr   string
	redis  *redis.Client // straight to Redis, for looking at the keys
	prefix string
	iss    *authtest.Issuer
	ca     *authtest.CA
}

func newWorld(t *testing.T) *world {
	t.Helper()
	addr := redistest.Addr(t)
	c := redistest.Client(t, addr)
	ca, err := authtest.NewCA("redisstore test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &world{addr: addr, redis: c, prefix: redistest.Prefix(t, c), iss: authtest.NewIssuer(t, authtest.DefaultAudience("library")), ca: ca}
}

// replica is one replica of the service: its own Redis client (to addr,
// Redis or a proxy), store, JWT authenticator with its verified-token
// cache, enforcer and gRPC server over TLS.
type replica struct {
	store  *redisstore.Revocations
	client libraryv1.LibraryServiceClient
	log    *syncBuffer
}

func (w *world) replica(t *testing.T, addr string, opts ...redisstore.Option) *replica {
	t.Helper()
	r := &replica{log: &syncBuffer{}}
	rc := redis.NewClient(redistest.Options(addr))
	t.Cleanup(func() { _ = rc.Close() })
	var err error
	r.store, err = redisstore.NewRevocations(rc, append([]redisstore.Option{
		redisstore.Prefix(w.prefix),
		redisstore.HealthCheckInterval(health),
		redisstore.Timeout(time.Second),
		redisstore.Logger(slog.New(slog.NewTextHandler(r.log, nil))),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.store.Close() })
	jwt, err := jwtauth.New(
		jwtauth.Issuer(w.iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(w.iss.JWKSURL())),
		jwtauth.HTTPClient(w.iss.HTTPClient()),
	)
	if err != nil {
		t.Fatal(err)
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt), runtime.WithRevocation(r.store), runtime.WithLogger(slog.New(slog.NewTextHandler(r.log, nil))),
		runtime.WithStreamRecheck(runtime.MinStreamRecheck))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := w.ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(serverTLS)))
	libraryv1.RegisterLibraryServiceServerWithAuth(s, library{}, enf)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	clientTLS := w.ca.ClientTLS()
	clientTLS.ServerName = "localhost"
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r.client = libraryv1.NewLibraryServiceClient(conn)
	return r
}

// synced waits for the replica's first sync.
func (r *replica) synced(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.store.WaitSynced(ctx); err != nil {
		t.Fatalf("the replica did not sync: %v; stats %+v\n%s", err, r.store.Stats(), r.log.String())
	}
}

// get calls GetBook with token.
func (r *replica) get(token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	_, err := r.client.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"})
	return err
}

// reason is the denial's reason, "" for no error, and "?" for an error
// that carries none.
func reason(err error) runtime.Reason {
	if err == nil {
		return ""
	}
	if e, ok := runtime.FromError(err); ok {
		return e.Reason
	}
	return "?"
}

// until waits, within bound, for the replica to answer token with want
// (a reason, or "" for allowed), and returns how long it took.
func (r *replica) until(t *testing.T, token string, want runtime.Reason) time.Duration {
	t.Helper()
	var last error
	took, err := redistest.Eventually(bound, func() bool {
		last = r.get(token)
		return reason(last) == want
	})
	if err != nil {
		t.Fatalf("after %s the call ends with %v (reason %q); want reason %q; stats %+v\n%s", took, last, reason(last), want, r.store.Stats(), r.log.String())
	}
	return took
}

// still checks that the replica answers token with want for d.
func (r *replica) still(t *testing.T, token string, want runtime.Reason, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := r.get(token); reason(err) != want {
			t.Fatalf("the call ends with %v; want reason %q; stats %+v\n%s", err, want, r.store.Stats(), r.log.String())
		}
	}
}

func (w *world) token(t *testing.T, jti string, opts ...authtest.TokenOption) string {
	t.Helper()
	return w.iss.Mint(append([]authtest.TokenOption{authtest.Scopes("library.read"), authtest.Claim("jti", jti)}, opts...)...)
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
