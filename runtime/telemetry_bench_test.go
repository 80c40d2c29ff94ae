// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/test/bufconn"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/otelauth"
)

// BenchmarkTelemetry is what runtime/otelauth adds to a hot call (a token
// verified before) over bufconn and TLS:
//
//   - hot → hot_metrics: the decision counted and timed on the OpenTelemetry
//     SDK's meter (a manual reader), no span in the call's context;
//   - otelgrpc_hot → otelgrpc_hot_otelauth: otelgrpc's stats handlers on
//     both ends with the SDK's tracer (every span sampled and recording)
//     and meter, without and with otelauth (metrics, and the decision as an
//     event on the server span).
//
// scripts/callgrind.sh counts the instructions of each pair.
func BenchmarkTelemetry(b *testing.B) {
	iss := authtest.NewIssuer(b, authtest.DefaultAudience("library"))
	serverCreds, clientCreds := tlsPair(b, "bench CA")
	jwt, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(iss.JWKSURL())), jwtauth.HTTPClient(iss.HTTPClient()))
	if err != nil {
		b.Fatal(err)
	}
	start := func(withOtelgrpc, withOtelauth bool) libraryv1.LibraryServiceClient {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		opts := []runtime.Option{runtime.WithJWT(jwt), runtime.WithLogger(nil)}
		if withOtelauth {
			tel, err := otelauth.New(otelauth.WithMeterProvider(mp))
			if err != nil {
				b.Fatal(err)
			}
			opts = append(opts, runtime.WithObserver(tel))
		}
		enf, err := runtime.NewEnforcer(opts...)
		if err != nil {
			b.Fatal(err)
		}
		serverOpts := []grpc.ServerOption{serverCreds}
		dialOpts := []grpc.DialOption{}
		if withOtelgrpc {
			serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp))))
			dialOpts = append(dialOpts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp))))
		}
		lis := serve(b, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServerWithAuth(s, &recorder{}, enf) }, serverOpts...)
		return libraryv1.NewLibraryServiceClient(dialWith(b, lis, clientCreds, dialOpts...))
	}
	ctx := (&benchEnv{}).withToken(iss.Mint(authtest.Scopes("library.read")))
	req := &libraryv1.GetBookRequest{Name: "shelves/a/books/1"}
	unary := func(c libraryv1.LibraryServiceClient) func(*testing.B) {
		return func(b *testing.B) {
			if _, err := c.GetBook(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.GetBook(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("hot", unary(start(false, false)))
	b.Run("hot_metrics", unary(start(false, true)))
	b.Run("otelgrpc_hot", unary(start(true, false)))
	b.Run("otelgrpc_hot_otelauth", unary(start(true, true)))
}

// dialWith is dial with more dial options.
func dialWith(t testing.TB, lis *bufconn.Listener, creds credentials.TransportCredentials, opts ...grpc.DialOption) *grpc.ClientConn {
	conn, err := grpc.NewClient("passthrough:///bufnet", append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
