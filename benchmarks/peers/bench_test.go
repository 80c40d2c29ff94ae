// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package peers_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
)

// BenchmarkPeers sets this project's enforcement beside its peers, in one
// run, on one service: LibraryService.GetBook over bufconn with TLS, the
// same CA and issuer set-up as runtime's BenchmarkAuth, and the same RS256
// token (scopes library.read and library.export, audience "library").
//
//   - noauth: the service registered raw, no token;
//   - noauth_header: the raw service called with the token in an
//     authorization header it ignores: what carrying the token costs gRPC,
//     the floor of any bearer scheme and the baseline of the ratios;
//   - gomw_jwt: go-grpc-middleware v2's auth interceptor with a golang-jwt
//     v5 AuthFunc verifying the token on every call (RS256 only, issuer,
//     audience and expiry required, scope library.read, the subject put in
//     the context; keys read once from the issuer's JWKS);
//   - gomw_jwt_cache: the same behind a hand-written verified-token cache
//     (sync.Map; a hit checks expiry and the scope);
//   - authz_static: grpc-go's authz static policy allowing GetBook when an
//     authorization header is present: authorization only, it
//     authenticates nothing (TestPeers shows a forged token passing it);
//   - gomw_jwt_authz: gomw_jwt, then authz_static, chained;
//   - grpcauth_hot: this project's generated RegisterLibraryServiceServerWithAuth
//     with a jwtauth authenticator (verified-token cache on: the token was
//     seen before);
//   - grpcauth_cold: the same with the cache off (jwtauth.CacheSize(0)):
//     every call verifies the signature, as a first-seen token does;
//   - noauth_header_again, parallel_noauth_header_again: the baseline run
//     again, a control: its ratio is 1 but for the measure's own spread,
//     which is what a difference between two ratios must exceed to be one
//     (bench.sh's paired table);
//   - parallel_*: the same with GOMAXPROCS callers (b.RunParallel);
//   - stream_*: a server-streaming ExportShelf of one message;
//     stream_noauth_wrapped serves it without auth on a stream wrapper
//     that overrides Context alone (peers.WrapStreams): what any stream
//     auth must add on grpc-go to hand its handler a context.
//
// Every row also reports cpu-ns/op: the process's CPU time (user and
// system, from getrusage) over the timed loop per call, client, server and
// gRPC included, so that the parallel rows' CPU cost per call can be set
// beside the serial ones' (on a parallel row ns/op is wall clock divided by
// the calls of all callers).
//
// scripts/bench.sh runs it interleaved with the other benchmarks and prints
// each row's ratio to noauth_header (parallel_* to parallel_noauth_header,
// stream_* to stream_noauth_header); scripts/callgrind.sh counts the
// instructions of the serial rows.
func BenchmarkPeers(b *testing.B) {
	e := newEnv(b, false)
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	bg := context.Background()
	tok := withToken(e.token)
	warmUp(b, e, req, tok)

	unary := func(name string, ctx context.Context) func(*testing.B) {
		c := e.clients[name]
		return func(b *testing.B) {
			for range rowWarmUp(b) { // warm the connection, keys and cache
				if _, err := c.GetBook(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := c.GetBook(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		}
	}
	parallel := func(name string, ctx context.Context) func(*testing.B) {
		c := e.clients[name]
		return func(b *testing.B) {
			for range rowWarmUp(b) {
				if _, err := c.GetBook(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetBook(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpu)
		}
	}
	stream := func(name string, ctx context.Context) func(*testing.B) {
		c := e.clients[name]
		return func(b *testing.B) {
			for range rowWarmUp(b) {
				if err := exportOne(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := exportOne(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		}
	}

	b.Run("noauth", unary(noauth, bg))
	b.Run("noauth_header", unary(noauth, tok))
	for _, name := range []string{gomwJWT, gomwJWTCache, authzStatic, gomwJWTAuthz, grpcauthHot, grpcauthCold} {
		b.Run(name, unary(name, tok))
	}
	b.Run("noauth_header_again", unary(noauth, tok))
	b.Run("parallel_noauth_header", parallel(noauth, tok))
	b.Run("parallel_noauth_header_again", parallel(noauth, tok))
	for _, name := range []string{grpcauthHot, gomwJWTCache, grpcauthCold, gomwJWT} {
		b.Run("parallel_"+name, parallel(name, tok))
	}
	b.Run("stream_noauth_header", stream(noauth, tok))
	b.Run("stream_noauth_wrapped", stream(noauthWrapped, tok))
	b.Run("stream_gomw_jwt_cache", stream(gomwJWTCache, tok))
	b.Run("stream_grpcauth_hot", stream(grpcauthHot, tok))
	b.Run("stream_grpcauth_unguarded", stream(grpcauthUnguarded, tok))
}

// warmUp calls every server for GRPCAUTH_BENCH_WARMUP (default 2s; 0
// under scripts/callgrind.sh, which counts from each row's ResetTimer)
// before the first row. Without it the first row of a process measured
// about 10% more CPU per call than the same row run again at the end of
// the serial rows (noauth_header_again, 40 rounds): what the process does
// in its first seconds (the servers' and issuers' start, the first
// refreshes, the runtime sizing itself) went to whichever row ran first,
// the baseline.
func warmUp(b *testing.B, e *env, req *libraryv1.GetBookRequest, tok context.Context) {
	d := 2 * time.Second
	if v, ok := os.LookupEnv("GRPCAUTH_BENCH_WARMUP"); ok {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			b.Fatalf("GRPCAUTH_BENCH_WARMUP=%q: %v", v, err)
		}
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		for _, c := range e.clients {
			if _, err := c.GetBook(tok, req); err != nil {
				b.Fatal(err)
			}
		}
		for _, name := range []string{noauth, noauthWrapped, gomwJWTCache, grpcauthHot, grpcauthUnguarded} { // the stream rows'
			if err := exportOne(tok, e.clients[name]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// rowWarmUp is how many calls a row makes before its timer starts:
// GRPCAUTH_BENCH_ROW_WARMUP (default 1, the call that warms its
// connection, keys and cache). scripts/callgrind.sh sets it to a few
// thousand: the Go runtime fills its type-switch and type-assertion caches
// (runtime.interfaceSwitch, typeAssert) at about one miss in 1,024, chosen
// at random, so a row counted from a cold start pays a different number of
// itab look-ups in each process (grpc-go's control buffer, crypto/tls's
// ciphers, protobuf's message conversion), a few hundred instructions a
// call either way.
func rowWarmUp(b *testing.B) int {
	v, ok := os.LookupEnv("GRPCAUTH_BENCH_ROW_WARMUP")
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("GRPCAUTH_BENCH_ROW_WARMUP=%q: want a number of calls, at least 1", v)
	}
	return n
}

// reportCPU reports the process CPU time since start per call, as
// cpu-ns/op (when the platform gives it: see cpuTime).
func reportCPU(b *testing.B, start int64) {
	if end := cpuTime(); start >= 0 && end >= 0 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
