// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Command demo starts what a real deployment has — a token issuer serving
// its JWKS over HTTPS, an OAuth2 introspection endpoint, an API key store,
// a certificate authority for workloads — and the example LibraryService on
// loopback (TLS and plaintext). Then it calls the service as clients would:
// one line per call with the method, the credential, the outcome, the
// status code and the reason from google.rpc.ErrorInfo, followed by the
// server's log, one safe line per denial. It exits non-zero when a call
// does not end as its row expects.
//
// A second replica of the server shares revocations with the first: a JWT
// revoked on replica A is refused on replica B. They share one in-process
// store, or, when GRPCAUTH_REDIS_ADDR names a Redis server, Redis (one
// store per replica, as in a fleet).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/examples/library"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1/libraryv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// call is one row of the demo.
type call struct {
	method string
	cred   string // what the caller presents, for the table
	conn   *grpc.ClientConn
	md     []string                   // metadata the raw client sends
	auth   *runtime.ClientCredentials // non-nil: use the generated auth client
	want   string                     // the expected status code; a mismatch fails the demo
	do     func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error)
}

func run(stdout io.Writer) error {
	w, err := startWorld()
	if err != nil {
		return err
	}
	defer w.close()
	iss := w.issuer

	reader := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
	writer := iss.Mint(authtest.Subject("bob"), authtest.Scopes("library.read", "library.write"), authtest.Claim("tenant", "acme"))
	admin := iss.Mint(authtest.Subject("carol"), authtest.Scopes("library.read", "library.write", "library.admin"), authtest.Claim("tenant", "acme"))
	otherTenant := iss.Mint(authtest.Subject("dan"), authtest.Scopes("library.read", "library.write", "library.admin"), authtest.Claim("tenant", "globex"))
	exporter := iss.Mint(authtest.Subject("dave"), authtest.Scopes("library.export"), authtest.Algorithm("ES256"))
	expired := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"), authtest.ExpiresIn(-time.Hour))
	otherAud := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"), authtest.Audience("billing"))
	forged := w.attacker.Mint(authtest.Subject("mallory"), authtest.Scopes("library.read", "library.write", "library.admin"), authtest.IssuerClaim(iss.URL()))
	opaque := w.introspector.Issue("erin", []string{"library.read"}, "library", time.Hour, nil)
	revoked := w.introspector.Issue("frank", []string{"library.read"}, "library", time.Hour, nil)
	w.introspector.Revoke(revoked)
	henry := iss.Mint(authtest.Subject("henry"), authtest.Scopes("library.read"), authtest.Claim("jti", "henry-laptop-1"))
	// ivan's tokens issued before ivanCut are revoked below: ivanOld was,
	// ivanNew was not.
	ivanCut := time.Now()
	ivanOld := iss.Mint(authtest.Subject("ivan"), authtest.Scopes("library.read"), authtest.IssuedAt(ivanCut.Add(-time.Minute)))
	ivanNew := iss.Mint(authtest.Subject("ivan"), authtest.Scopes("library.read"), authtest.IssuedAt(ivanCut.Add(time.Second)))

	bearer := func(tok string) []string { return []string{"authorization", "Bearer " + tok} }
	apiKey := func(key string) []string { return []string{"x-api-key", key} }

	getBook := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		var hdr metadata.MD
		b, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/public/books/1"}, grpc.Header(&hdr))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q; handler saw %s", b.GetTitle(), strings.Join(hdr.Get("x-served-for"), "")), nil
	}
	deleteBook := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		_, err := c.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Shelf: "tenants/acme/shelves/main", Name: "tenants/acme/shelves/main/books/2"})
		return "deleted tenants/acme/shelves/main/books/2", err
	}
	export := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		stream, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/public"})
		if err != nil {
			return "", err
		}
		n := 0
		for {
			_, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return fmt.Sprintf("streamed %d chunk(s)", n), nil
			}
			if err != nil {
				return "", err
			}
			n++
		}
	}
	badName := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/BAD/books/1"})
		return "found", err
	}
	importBooks := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		s, err := c.ImportBooks(ctx)
		if err != nil {
			return "", err
		}
		// Send fails with io.EOF once the server has answered; the status
		// comes from CloseAndRecv.
		_ = s.Send(&libraryv1.ImportBooksRequest{Book: &libraryv1.Book{Name: "tenants/initech/shelves/drafts/books/9", Title: "Dry Run"}})
		r, err := s.CloseAndRecv()
		return fmt.Sprintf("imported %d book(s); the server logged what it would have denied", r.GetImported()), err
	}
	listPublic := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		r, err := c.ListPublicShelves(ctx, &libraryv1.ListPublicShelvesRequest{})
		return strings.Join(r.GetShelves(), ","), err
	}
	healthCheck := func(ctx context.Context, _ libraryv1.LibraryServiceClient) (string, error) {
		r, err := healthpb.NewHealthClient(w.tls).Check(ctx, &healthpb.HealthCheckRequest{})
		return r.GetStatus().String(), err
	}
	reflect := func(ctx context.Context, _ libraryv1.LibraryServiceClient) (string, error) {
		s, err := reflectionpb.NewServerReflectionClient(w.tls).ServerReflectionInfo(ctx)
		if err != nil {
			return "", err
		}
		// Send fails with io.EOF once the server has ended the stream; the
		// status comes from Recv.
		_ = s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = s.Recv()
		return "listed services", err
	}

	// Revocations: made on replica A, enforced on replica B (at once with
	// the in-process store; within the pub/sub latency with Redis).
	var propagation []string
	onB := func(what string, revoke func(ctx context.Context) error) func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		return func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
			if err := revoke(ctx); err != nil {
				return "", err
			}
			start := time.Now()
			for {
				detail, err := getBook(ctx, c)
				if e, ok := runtime.FromError(err); (ok && e.Reason == runtime.ReasonTokenRevoked) || time.Since(start) > 3*time.Second {
					propagation = append(propagation, fmt.Sprintf("%s: revoked on replica A, refused on replica B after %s", what, time.Since(start).Round(time.Microsecond)))
					return detail, err
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	revokeHenry := onB("henry's token (by jti)", func(ctx context.Context) error {
		return w.revocationsA.RevokeToken(ctx, iss.URL(), "henry-laptop-1", time.Now().Add(5*time.Minute))
	})
	revokeIvan := onB("ivan's tokens issued before T (by subject)", func(ctx context.Context) error {
		return w.revocationsA.RevokeSubject(ctx, iss.URL(), "ivan", ivanCut)
	})

	// The generated client: a token source whose tokens live 3s, refreshed
	// 2s before they expire.
	shortLived := &countingSource{mint: func() *oauth2.Token {
		return &oauth2.Token{
			AccessToken: iss.Mint(authtest.Subject("grace"), authtest.Scopes("library.read"), authtest.ExpiresIn(3*time.Second)),
			Expiry:      time.Now().Add(3 * time.Second),
		}
	}}
	refreshing := &runtime.ClientCredentials{TokenSource: shortLived, RefreshMargin: 2 * time.Second}
	refresh := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		for i := 0; i < 3; i++ {
			if i == 2 {
				time.Sleep(1200 * time.Millisecond) // now inside the refresh margin
			}
			if _, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/public/books/1"}); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("3 calls, %d token fetches: refreshed ahead of expiry", shortLived.calls.Load()), nil
	}
	apiKeyOnly := &runtime.ClientCredentials{APIKey: w.exportKey}

	// Over HTTP: grpc-gateway in process, and connect-go clients on the
	// Connect, gRPC-Web and gRPC protocols, generated from the same .proto
	// and decided by the same rules.
	gw := func(method, path string, headers ...string) func(context.Context, libraryv1.LibraryServiceClient) (string, error) {
		return gatewayCall(w.httpClient, w.srv.HTTPURL, method, path, headers...)
	}
	connectClient := func(creds *runtime.ClientCredentials, opts ...connect.ClientOption) libraryv1connect.LibraryServiceClient {
		if creds != nil {
			ic, err := connectauth.NewClientInterceptor(w.srv.HTTPURL, creds, libraryv1.LibraryServiceAuthRules)
			if err != nil {
				panic(err) // the URL is the server's own
			}
			opts = append(opts, connect.WithInterceptors(ic))
		}
		return libraryv1connect.NewLibraryServiceClient(w.httpClient, w.srv.HTTPURL, opts...)
	}
	readerSource := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: reader, Expiry: time.Now().Add(time.Hour)})
	// Optional authentication: anybody may search; a signed-in reader of
	// tenant acme sees acme's books too, and a bad token is refused.
	search := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		var hdr metadata.MD
		r, err := c.SearchCatalogue(ctx, &libraryv1.SearchCatalogueRequest{}, grpc.Header(&hdr))
		return fmt.Sprintf("%d book(s); handler saw %s", len(r.GetBooks()), strings.Join(hdr.Get("x-served-for"), "")), err
	}
	acmeReader := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"), authtest.Claim("tenant", "acme"))

	// On behalf of an end user: the lending desk (its client certificate,
	// or its API key) lends a book to the member who signed in at the desk.
	// Members sign in at the members' realm, a second issuer (found by
	// OpenID Connect Discovery; typ JWT; scopes from its realm roles).
	memberRole := authtest.Claim("realm_access", map[string]any{"roles": []string{"member", "offline_access"}})
	member := w.members.Mint(authtest.Subject("alice"), authtest.Type("JWT"), authtest.Claim("typ", "Bearer"), memberRole)
	memberIDToken := w.members.Mint(authtest.Subject("alice"), authtest.Type("JWT"), authtest.Claim("typ", "ID"), memberRole)
	lendTo := func(who string, token string) func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		return func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
			if token != "" {
				ctx = runtime.OnBehalfOf(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
			}
			r, err := c.LendBook(ctx, &libraryv1.LendBookRequest{Name: "shelves/public/books/2", Member: who})
			return fmt.Sprintf("lent by %s to %s", r.GetLentBy(), r.GetLentTo()), err
		}
	}
	deskCert := &runtime.ClientCredentials{ClientCertificate: true}
	deskKey := &runtime.ClientCredentials{APIKey: w.deskKey}

	calls := []call{
		// Bearer JWTs.
		{"GetBook", "JWT alice [library.read]", w.tls, bearer(reader), nil, "OK", getBook},
		{"GetBook", "none", w.tls, nil, nil, "Unauthenticated", getBook},
		{"GetBook", "expired JWT", w.tls, bearer(expired), nil, "Unauthenticated", getBook},
		{"GetBook", "JWT for audience billing", w.tls, bearer(otherAud), nil, "Unauthenticated", getBook},
		{"GetBook", "JWT signed by another key", w.tls, bearer(forged), nil, "Unauthenticated", getBook},
		{"DeleteBook", "JWT bob [read write]", w.tls, bearer(writer), nil, "PermissionDenied", deleteBook},
		{"DeleteBook", "JWT carol [read write admin], plaintext", w.plain, bearer(admin), nil, "Unauthenticated", deleteBook},
		{"DeleteBook", "JWT dan [read write admin] tenant globex", w.tls, bearer(otherTenant), nil, "PermissionDenied", deleteBook},
		{"DeleteBook", "JWT carol [read write admin] tenant acme", w.tls, bearer(admin), nil, "OK", deleteBook},
		{"ExportShelf (stream)", "JWT dave [library.export] ES256", w.tls, bearer(exporter), nil, "OK", export},
		{"ExportShelf (stream)", "JWT alice [library.read]", w.tls, bearer(reader), nil, "PermissionDenied", export},
		// A rule being rolled out: the server runs ImportBooks in dry-run
		// (runtime.WithDryRun), so a call its rule would deny proceeds.
		{"ImportBooks (stream, dry-run)", "JWT alice [library.read]", w.tls, bearer(reader), nil, "OK", importBooks},
		// Opaque OAuth2 tokens, checked by introspection.
		{"GetBook", "OAuth2 token erin [library.read]", w.tls, bearer(opaque), nil, "OK", getBook},
		{"GetBook", "revoked OAuth2 token", w.tls, bearer(revoked), nil, "Unauthenticated", getBook},
		// API keys.
		{"ExportShelf (stream)", "API key of exporter [export]", w.tls, apiKey(w.exportKey), nil, "OK", export},
		{"ExportShelf (stream)", "unknown API key", w.tls, apiKey("gak_not-a-key"), nil, "Unauthenticated", export},
		{"GetBook", "API key of exporter", w.tls, apiKey(w.exportKey), nil, "Unauthenticated", getBook},
		// Client certificates.
		{"GetBook", "certificate spiffe://demo.test/reader", w.mtls, nil, nil, "OK", getBook},
		{"GetBook", "certificate spiffe://elsewhere.test/reader", w.badMTLS, nil, nil, "Unauthenticated", getBook},
		// Public methods and services registered without rules.
		{"ListPublicShelves", "none, plaintext", w.plain, nil, nil, "OK", listPublic},
		{"grpc.health.v1.Health/Check", "none (exempt)", w.tls, nil, nil, "OK", healthCheck},
		{"ServerReflectionInfo", "JWT alice (no rule)", w.tls, bearer(reader), nil, "PermissionDenied", reflect},
		// Revocation, across replicas.
		{"GetBook on replica B", "JWT henry [library.read]", w.replicaTLS, bearer(henry), nil, "OK", getBook},
		{"GetBook on replica B", "the same JWT, revoked on replica A", w.replicaTLS, bearer(henry), nil, "Unauthenticated", revokeHenry},
		{"GetBook on replica B", "JWT ivan issued before T, revoked on A", w.replicaTLS, bearer(ivanOld), nil, "Unauthenticated", revokeIvan},
		{"GetBook on replica B", "JWT ivan issued after T", w.replicaTLS, bearer(ivanNew), nil, "OK", getBook},
		// A second issuer: the members' realm.
		{"GetBook", "JWT of the members' realm, role member", w.tls, bearer(member), nil, "OK", getBook},
		{"GetBook", "ID token of the members' realm", w.tls, bearer(memberIDToken), nil, "Unauthenticated", getBook},
		// Optional authentication.
		{"SearchCatalogue", "none", w.tls, nil, nil, "OK", search},
		{"SearchCatalogue", "JWT alice [library.read] tenant acme", w.tls, bearer(acmeReader), nil, "OK", search},
		{"SearchCatalogue", "expired JWT", w.tls, bearer(expired), nil, "Unauthenticated", search},
		// On behalf of an end user, with the generated client.
		{"LendBook (generated client)", "desk certificate for member alice", w.desk, nil, deskCert, "OK", lendTo("alice", member)},
		{"LendBook (generated client)", "desk API key for member alice", w.tls, nil, deskKey, "OK", lendTo("alice", member)},
		{"LendBook (generated client)", "desk certificate for alice, request names bob", w.desk, nil, deskCert, "PermissionDenied", lendTo("bob", member)},
		{"LendBook (generated client)", "desk certificate, no member: preflight", w.desk, nil, deskCert, "Unauthenticated", lendTo("alice", "")},
		{"LendBook", "member alice alone", w.tls, bearer(member), nil, "Unauthenticated", lendTo("alice", "")},
		{"LendBook", "desk API key and library JWT alice [library.read]", w.tls, append(apiKey(w.deskKey), bearer(reader)...), nil, "PermissionDenied", lendTo("alice", "")},
		// The generated client.
		{"GetBook (generated client)", "API key only: preflight", w.tls, nil, apiKeyOnly, "Unauthenticated", getBook},
		{"GetBook (generated client)", "token source, 3s tokens", w.tls, nil, refreshing, "OK", refresh},
		// Behind a local proxy: plaintext on a Unix socket the server trusts.
		{"GetBook via the proxy socket", "JWT alice, plaintext from a trusted proxy", w.proxy, bearer(reader), nil, "OK", getBook},
		{"GetBook via the proxy socket", "certificate forwarded in x-forwarded-client-cert", w.proxy, []string{"x-forwarded-client-cert", w.forwardedCert}, nil, "OK", getBook},
		{"GetBook, plaintext TCP", "x-forwarded-client-cert, not from a proxy", w.plain, []string{"x-forwarded-client-cert", w.forwardedCert}, nil, "Unauthenticated", getBook},
		// Validation (protovalidate) runs after the decision.
		{"GetBook, invalid name", "none", w.tls, nil, nil, "Unauthenticated", badName},
		{"GetBook, invalid name", "JWT alice [library.read]", w.tls, bearer(reader), nil, "InvalidArgument", badName},
		// grpc-gateway in process.
		{"GET /v1/shelves/public/books/1 (gateway)", "JWT alice [library.read]", nil, nil, nil, "OK", gw("GET", "/v1/shelves/public/books/1", "Authorization", "Bearer "+reader)},
		{"GET /v1/shelves/public/books/1 (gateway)", "none", nil, nil, nil, "Unauthenticated", gw("GET", "/v1/shelves/public/books/1")},
		{"GET /v1/shelves/public/books/1 (gateway)", "Authorization and Grpc-Metadata-Authorization", nil, nil, nil, "Unauthenticated", gw("GET", "/v1/shelves/public/books/1", "Authorization", "Bearer "+reader, "Grpc-Metadata-Authorization", "Bearer "+reader)},
		{"GET /v1/shelves/BAD/books/1 (gateway)", "none", nil, nil, nil, "Unauthenticated", gw("GET", "/v1/shelves/BAD/books/1")},
		{"GET /v1/shelves/BAD/books/1 (gateway)", "JWT alice [library.read]", nil, nil, nil, "InvalidArgument", gw("GET", "/v1/shelves/BAD/books/1", "Authorization", "Bearer "+reader)},
		{"DELETE /v1/tenants/acme/shelves/main/books/1 (gateway)", "JWT dan tenant globex", nil, nil, nil, "PermissionDenied", gw("DELETE", "/v1/tenants/acme/shelves/main/books/1?shelf=tenants/acme/shelves/main", "Authorization", "Bearer "+otherTenant)},
		{"DELETE /v1/tenants/acme/shelves/main/books/1 (gateway)", "JWT carol tenant acme", nil, nil, nil, "OK", gw("DELETE", "/v1/tenants/acme/shelves/main/books/1?shelf=tenants/acme/shelves/main", "Authorization", "Bearer "+admin)},
		{"GET /v1/shelves:public (gateway)", "none", nil, nil, nil, "OK", gw("GET", "/v1/shelves:public")},
		// Connect handlers, decided before the body is read.
		{"GetBook (Connect)", "token source via connectauth", nil, nil, nil, "OK", connectCall(connectClient(&runtime.ClientCredentials{TokenSource: readerSource}), connectGetBook())},
		{"GetBook (Connect, gRPC-Web)", "none", nil, nil, nil, "Unauthenticated", connectCall(connectClient(nil, connect.WithGRPCWeb()), connectGetBook())},
		{"GetBook (Connect, gRPC)", "JWT bob [read write] in a header", nil, nil, nil, "OK", connectCall(connectClient(nil, connect.WithGRPC()), connectGetBook("Authorization", "Bearer "+writer))},
		{"GetBook (Connect)", "API key only: preflight", nil, nil, nil, "Unauthenticated", connectCall(connectClient(apiKeyOnly), connectGetBook())},
		{"ExportShelf (Connect stream, gRPC-Web)", "API key via connectauth", nil, nil, nil, "OK", connectCall(connectClient(apiKeyOnly, connect.WithGRPCWeb()), connectExport)},
	}

	fmt.Fprintf(stdout, "LibraryService on %s (TLS) and %s (plaintext); grpc-gateway and Connect on %s; replica B on %s\n", w.srv.TLSAddr, w.srv.PlainAddr, w.srv.HTTPURL, w.replica.TLSAddr)
	fmt.Fprintln(stdout, "Revocations:", w.revocationsKind)
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tCREDENTIAL\tOUTCOME\tCODE\tREASON\tDECISION ID\tDETAIL")
	var mismatches []string
	firstID := ""
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if len(c.md) > 0 {
			ctx = metadata.AppendToOutgoingContext(ctx, c.md...)
		}
		var client libraryv1.LibraryServiceClient
		switch {
		case c.auth != nil:
			client = libraryv1.NewLibraryServiceAuthClient(c.conn, c.auth)
		case c.conn != nil:
			client = libraryv1.NewLibraryServiceClient(c.conn)
		}
		detail, err := c.do(ctx, client)
		cancel()
		outcome, code, reason, id := "allowed", "OK", "-", "-"
		if err != nil {
			st := status.Convert(err)
			outcome, code, detail = "denied", st.Code().String(), st.Message()
			if e, ok := runtime.FromError(err); ok {
				reason = string(e.Reason)
				if e.Local {
					detail = "refused by the client before sending: " + detail
				}
				if e.DecisionID() != "" {
					// The server's log line, audit event and span have it too.
					id = e.DecisionID()
					if firstID == "" {
						firstID = id
					}
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.method, c.cred, outcome, code, reason, id, detail)
		if code != c.want {
			mismatches = append(mismatches, fmt.Sprintf("%s with %s: got %s, want %s", c.method, c.cred, code, c.want))
		}
	}
	tw.Flush()
	w.srv.Stop()
	w.replica.Stop()
	fmt.Fprintln(stdout)
	for _, p := range propagation {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "A denial's decision id finds its server log line: grep decision_id="+firstID)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Server log (which methods run in dry-run, then one line per denial or would-be denial; tokens and keys never appear):")
	fmt.Fprint(stdout, w.log.String())
	if len(mismatches) > 0 {
		return errors.New("unexpected outcomes:\n" + strings.Join(mismatches, "\n"))
	}
	return nil
}

// world is everything the demo starts.
type world struct {
	issuer, attacker *authtest.Issuer
	members          *authtest.Issuer // a second issuer: the members' realm
	introspector     *authtest.Introspector
	exportKey        string
	deskKey          string // the lending desk's API key
	srv              *library.Running
	replica          *library.Running // a second replica, sharing revocations with srv
	log              *syncBuffer
	tls, plain       *grpc.ClientConn // TLS without a client certificate; plaintext
	httpClient       *http.Client     // HTTPS (h2) without a client certificate
	proxy            *grpc.ClientConn // plaintext on the Unix socket of a trusted proxy
	forwardedCert    string           // an x-forwarded-client-cert for spiffe://demo.test/reader
	socketDir        string
	replicaTLS       *grpc.ClientConn // TLS to the second replica
	// revocationsA is replica A's revocation store; revocationsKind says
	// which store the replicas share.
	revocationsA    runtime.RevocationStore
	revocationsKind string
	mtls, badMTLS   *grpc.ClientConn // TLS with a workload certificate of demo.test; of elsewhere.test
	desk            *grpc.ClientConn // TLS with the lending desk's certificate
	closers         []func()
}

func (w *world) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}

func startWorld() (w *world, err error) {
	w = &world{log: &syncBuffer{}}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.issuer, err = authtest.StartIssuer(authtest.DefaultAudience("library")); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.issuer.Close)
	if w.attacker, err = authtest.StartIssuer(authtest.DefaultAudience("library")); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.attacker.Close)
	w.introspector = authtest.StartIntrospector("library-server", "demo-secret")
	w.closers = append(w.closers, w.introspector.Close)

	if w.members, err = authtest.StartIssuer(authtest.DefaultAudience("library"), authtest.IssuerPath("/realms/members"), authtest.KeyIDPrefix("members-")); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.members.Close)
	newJWT := func() (*jwtauth.Authenticator, error) {
		return jwtauth.New(
			jwtauth.Issuer(w.issuer.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(w.issuer.JWKSURL())),
			// The members' realm: its keys by discovery; typ JWT for access
			// and ID tokens alike, told apart by its typ claim; scopes from
			// its realm roles.
			jwtauth.Issuer(w.members.URL(),
				jwtauth.Audience("library"),
				jwtauth.OIDCDiscovery(),
				jwtauth.Types("at+jwt", "JWT"),
				jwtauth.RequireClaim("typ", "Bearer"),
				jwtauth.ScopesFrom(jwtauth.Claim("realm_access", "roles").Map(map[string][]string{
					"member": {"library.read", "library.borrow"},
				}))),
			jwtauth.HTTPClient(w.issuer.HTTPClient()), // both issuers serve httptest's certificate
		)
	}
	jwtAuth, err := newJWT()
	if err != nil {
		return nil, err
	}
	oauth, err := introspection.New(
		introspection.Endpoint(w.introspector.URL()),
		introspection.ClientSecret("library-server", "demo-secret"),
		introspection.HTTPClient(w.introspector.HTTPClient()),
		introspection.Issuer(w.introspector.Issuer()),
		introspection.Audience("library"),
	)
	if err != nil {
		return nil, err
	}
	if w.exportKey, err = apikey.NewKey(); err != nil {
		return nil, err
	}
	if w.deskKey, err = apikey.NewKey(); err != nil {
		return nil, err
	}
	keys, err := apikey.New([]apikey.Client{
		{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(w.exportKey)}},
		{Name: "lending-desk", Scopes: []string{"library.lend"}, KeySHA256: []string{apikey.Hash(w.deskKey)}},
	})
	if err != nil {
		return nil, err
	}
	ca, err := authtest.NewCA("demo CA")
	if err != nil {
		return nil, err
	}
	workloads, err := mtls.New(
		mtls.SPIFFE("demo.test"),
		mtls.Bundle(ca.Pool()),
		mtls.Scopes(map[string][]string{"spiffe://demo.test/reader": {"library.read"}, "spiffe://demo.test/desk": {"library.lend"}}),
	)
	if err != nil {
		return nil, err
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "peer" {
				return slog.Attr{}
			}
			return a
		},
	}))
	revA, revB, err := w.revocations(logger)
	if err != nil {
		return nil, err
	}
	w.revocationsA = revA
	if w.socketDir, err = os.MkdirTemp("", "library-demo"); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { _ = os.RemoveAll(w.socketDir) })
	socket := filepath.Join(w.socketDir, "proxy.sock")
	if w.srv, err = library.Start(library.Config{JWT: jwtAuth, OAuth2: oauth, APIKeys: keys, MTLS: workloads, TLS: serverTLS, ProxySocket: socket, Logger: logger, Revocation: revA,
		Options: []runtime.Option{runtime.WithDryRun(libraryv1.LibraryService_ImportBooks_FullMethodName)}}); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.srv.Stop)
	// Replica B: the same configuration, its own JWT authenticator (and
	// verified-token cache), the shared revocations.
	jwtB, err := newJWT()
	if err != nil {
		return nil, err
	}
	if w.replica, err = library.Start(library.Config{JWT: jwtB, TLS: serverTLS, Logger: logger, Revocation: revB}); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.replica.Stop)

	dial := func(addr string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err == nil {
			w.closers = append(w.closers, func() { _ = conn.Close() })
		}
		return conn, err
	}
	withCert := func(spiffeID string) (credentials.TransportCredentials, error) {
		cert, err := ca.Leaf(authtest.LeafOptions{URIs: []string{spiffeID}, Client: true})
		if err != nil {
			return nil, err
		}
		cfg := ca.ClientTLS()
		cfg.Certificates = []tls.Certificate{cert}
		return credentials.NewTLS(cfg), nil
	}
	w.httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS(), ForceAttemptHTTP2: true}}
	w.closers = append(w.closers, w.httpClient.CloseIdleConnections)
	if w.tls, err = dial(w.srv.TLSAddr, credentials.NewTLS(ca.ClientTLS())); err != nil {
		return nil, err
	}
	if w.plain, err = dial(w.srv.PlainAddr, insecure.NewCredentials()); err != nil {
		return nil, err
	}
	if w.proxy, err = dial("unix://"+socket, insecure.NewCredentials()); err != nil {
		return nil, err
	}
	reader, err := ca.Leaf(authtest.LeafOptions{URIs: []string{"spiffe://demo.test/reader"}, Client: true})
	if err != nil {
		return nil, err
	}
	w.forwardedCert = authtest.ForwardedClientCert(reader.Leaf)
	if w.replicaTLS, err = dial(w.replica.TLSAddr, credentials.NewTLS(ca.ClientTLS())); err != nil {
		return nil, err
	}
	good, err := withCert("spiffe://demo.test/reader")
	if err != nil {
		return nil, err
	}
	if w.mtls, err = dial(w.srv.TLSAddr, good); err != nil {
		return nil, err
	}
	desk, err := withCert("spiffe://demo.test/desk")
	if err != nil {
		return nil, err
	}
	if w.desk, err = dial(w.srv.TLSAddr, desk); err != nil {
		return nil, err
	}
	bad, err := withCert("spiffe://elsewhere.test/reader")
	if err != nil {
		return nil, err
	}
	if w.badMTLS, err = dial(w.srv.TLSAddr, bad); err != nil {
		return nil, err
	}
	return w, nil
}

// revocations returns the revocation stores of replicas A and B: one
// in-process store for both, or, when GRPCAUTH_REDIS_ADDR names a Redis
// server, one Redis store each, under a key prefix of this run's that is
// deleted at the end.
func (w *world) revocations(logger *slog.Logger) (a, b runtime.RevocationStore, err error) {
	addr := os.Getenv("GRPCAUTH_REDIS_ADDR")
	if addr == "" {
		m, err := revocation.NewMemory()
		if err != nil {
			return nil, nil, err
		}
		w.revocationsKind = "one in-process store shared by replicas A and B (set GRPCAUTH_REDIS_ADDR=host:port to share them through Redis)"
		return m, m, nil
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	prefix := fmt.Sprintf("grpcauth-demo:{%x}:", id)
	stores := make([]runtime.RevocationStore, 2)
	for i := range stores {
		client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
		w.closers = append(w.closers, func() { _ = client.Close() })
		s, err := redisstore.NewRevocations(client, redisstore.Prefix(prefix), redisstore.Logger(logger))
		if err != nil {
			return nil, nil, err
		}
		w.closers = append(w.closers, func() { _ = s.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.WaitSynced(ctx)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("redis at %s (GRPCAUTH_REDIS_ADDR): %w", addr, err)
		}
		stores[i] = s
	}
	w.closers = append(w.closers, func() { deleteKeys(addr, prefix) })
	w.revocationsKind = "Redis at " + addr + " (GRPCAUTH_REDIS_ADDR), one store per replica, mirrored by pub/sub"
	return stores[0], stores[1], nil
}

// deleteKeys deletes the demo's keys.
func deleteKeys(addr, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

// countingSource is an oauth2.TokenSource that counts its fetches.
type countingSource struct {
	mint  func() *oauth2.Token
	calls atomic.Int32
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	s.calls.Add(1)
	return s.mint(), nil
}

// syncBuffer collects the server's log lines.
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
