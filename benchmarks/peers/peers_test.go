// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package peers_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/benchmarks/peers"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// authenticating are the servers that verify the token.
var authenticating = []string{gomwJWT, gomwJWTCache, gomwJWTAuthz, grpcauthHot, grpcauthCold, grpcauthUnguarded}

// forge flips the bytes of a token's signature.
func forge(t *testing.T, token string) string {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	for j := range sig {
		sig[j] ^= 0xff
	}
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestPeers shows that each row of BenchmarkPeers does what it says: a
// valid token passes every server and its subject reaches the handler of
// each authenticating one; a call without a token, with a forged signature,
// past its expiry or for another audience is refused as Unauthenticated by
// each of them, and a token without library.read as PermissionDenied.
// authz_static authorizes on the header's presence alone: it refuses a
// call without one and lets a forged token through.
func TestPeers(t *testing.T) {
	e := newEnv(t, true)
	get := func(name string, ctx context.Context) error {
		_, err := e.clients[name].GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/a/books/1"})
		return err
	}
	want := func(t *testing.T, name, what string, err error, code codes.Code) {
		t.Helper()
		if got := status.Code(err); got != code {
			t.Errorf("%s, %s: got %v (%v), want %v", name, what, got, err, code)
		}
	}
	valid := withToken(e.token)
	forged := withToken(forge(t, e.token))
	all := append([]string{noauth, authzStatic}, authenticating...)

	for _, name := range all {
		want(t, name, "valid token", get(name, valid), codes.OK)
		wantSub := "alice"
		if name == noauth || name == authzStatic {
			wantSub = ""
		}
		if p := e.subjects[name].Load(); p == nil {
			t.Errorf("%s: the handler was not called", name)
		} else if *p != wantSub {
			t.Errorf("%s: the handler saw subject %q, want %q", name, *p, wantSub)
		}
	}
	want(t, noauth, "no token", get(noauth, context.Background()), codes.OK)
	want(t, authzStatic, "no token", get(authzStatic, context.Background()), codes.PermissionDenied)
	want(t, authzStatic, "forged token (it authenticates nothing)", get(authzStatic, forged), codes.OK)

	expired := withToken(e.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(-time.Minute)))
	otherAud := withToken(e.iss.Mint(authtest.Scopes("library.read"), authtest.Audience("other")))
	noScope := withToken(e.iss.Mint(authtest.Scopes("library.write")))
	for _, name := range authenticating {
		// Twice each: after the valid token was seen, and after a first
		// refusal (nothing a cache kept from it lets the call through).
		for range 2 {
			want(t, name, "no token", get(name, context.Background()), codes.Unauthenticated)
			want(t, name, "forged signature", get(name, forged), codes.Unauthenticated)
			want(t, name, "expired", get(name, expired), codes.Unauthenticated)
			want(t, name, "another audience", get(name, otherAud), codes.Unauthenticated)
			want(t, name, "without library.read", get(name, noScope), codes.PermissionDenied)
		}
		want(t, name, "valid token again", get(name, valid), codes.OK)
	}

	// The stream rows.
	want(t, noauth, "stream", exportOne(valid, e.clients[noauth]), codes.OK)
	want(t, noauthWrapped, "stream", exportOne(valid, e.clients[noauthWrapped]), codes.OK)
	want(t, grpcauthHot, "stream", exportOne(valid, e.clients[grpcauthHot]), codes.OK)
	want(t, grpcauthHot, "stream, no token", exportOne(context.Background(), e.clients[grpcauthHot]), codes.Unauthenticated)
	want(t, grpcauthHot, "stream, forged", exportOne(forged, e.clients[grpcauthHot]), codes.Unauthenticated)
}

// TestWrapStreams: the stream_noauth_wrapped row's handlers do run on
// go-grpc-middleware's wrapper, with the stream's own context.
func TestWrapStreams(t *testing.T) {
	var got grpc.ServerStream
	desc := &grpc.ServiceDesc{Streams: []grpc.StreamDesc{{StreamName: "S", Handler: func(_ any, ss grpc.ServerStream) error { got = ss; return nil }}}}
	in := ctxOnlyStream{ctx: context.WithValue(context.Background(), markKey{}, "mark")}
	if err := peers.WrapStreams(desc).Streams[0].Handler(nil, in); err != nil {
		t.Fatal(err)
	}
	w, ok := got.(*middleware.WrappedServerStream)
	if !ok {
		t.Fatalf("handler got %T, want *middleware.WrappedServerStream", got)
	}
	if w.Context() != in.ctx || w.ServerStream != grpc.ServerStream(in) {
		t.Fatal("the wrapper does not carry the stream and its own context")
	}
	if desc.Streams[0].Handler == nil || len(desc.Streams) != 1 {
		t.Fatal("WrapStreams changed its argument")
	}
}

type ctxOnlyStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s ctxOnlyStream) Context() context.Context { return s.ctx }

type markKey struct{}
