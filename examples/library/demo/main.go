// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Command demo starts a token issuer (JWKS over HTTPS), the example
// LibraryService on loopback (TLS and plaintext), and calls it as a client
// would: one line per call with the method, the credential, the outcome,
// the status code and the reason from google.rpc.ErrorInfo; then the
// server's log, one safe line per denial. It exits non-zero when a call
// does not end as the table says it should.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/examples/library"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// call is one demo call.
type call struct {
	method   string
	cred     string // what the caller presents, for the table
	token    string // "" sends no authorization
	tls      bool
	auth     *runtime.ClientCredentials // non-nil: use the generated auth client
	wantCode string                     // what the demo expects; a mismatch fails the demo
	do       func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error)
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

func run(stdout io.Writer) error {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		return err
	}
	defer iss.Close()
	attacker, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		return err
	}
	defer attacker.Close()
	ca, err := authtest.NewCA("demo CA")
	if err != nil {
		return err
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		return err
	}
	a, err := jwtauth.New(
		jwtauth.Issuer(iss.URL()),
		jwtauth.Audience("library"),
		jwtauth.JWKSURL(iss.JWKSURL()),
		jwtauth.HTTPClient(iss.HTTPClient()),
	)
	if err != nil {
		return err
	}
	var serverLog syncBuffer
	logger := slog.New(slog.NewTextHandler(&serverLog, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	srv, err := library.Start(library.Config{JWT: a, TLS: serverTLS, Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Stop()

	tlsConn, err := grpc.NewClient(srv.TLSAddr, grpc.WithTransportCredentials(credentials.NewTLS(ca.ClientTLS())))
	if err != nil {
		return err
	}
	defer tlsConn.Close()
	plainConn, err := grpc.NewClient(srv.PlainAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer plainConn.Close()

	reader := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"))
	writer := iss.Mint(authtest.Subject("bob"), authtest.Scopes("library.read", "library.write"))
	admin := iss.Mint(authtest.Subject("carol"), authtest.Scopes("library.read", "library.write", "library.admin"))
	exporter := iss.Mint(authtest.Subject("dave"), authtest.Scopes("library.export"), authtest.Algorithm("ES256"))
	expired := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"), authtest.ExpiresIn(-time.Hour))
	otherAud := iss.Mint(authtest.Subject("alice"), authtest.Scopes("library.read"), authtest.Audience("billing"))
	forged := attacker.Mint(authtest.Subject("mallory"), authtest.Scopes("library.read", "library.write", "library.admin"), authtest.IssuerClaim(iss.URL()))

	getBook := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		var hdr metadata.MD
		b, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/public/books/1"}, grpc.Header(&hdr))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q; handler saw %s", b.GetTitle(), strings.Join(hdr.Get("x-served-for"), "")), nil
	}
	deleteBook := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		_, err := c.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Shelf: "shelves/public", Name: "shelves/public/books/2"})
		return "deleted", err
	}
	export := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		stream, err := c.ExportShelf(ctx, &libraryv1.ExportShelfRequest{Shelf: "shelves/public"})
		if err != nil {
			return "", err
		}
		n := 0
		for {
			_, err := stream.Recv()
			if err == io.EOF {
				return fmt.Sprintf("streamed %d chunk(s)", n), nil
			}
			if err != nil {
				return "", err
			}
			n++
		}
	}
	listPublic := func(ctx context.Context, c libraryv1.LibraryServiceClient) (string, error) {
		r, err := c.ListPublicShelves(ctx, &libraryv1.ListPublicShelvesRequest{})
		return strings.Join(r.GetShelves(), ","), err
	}

	// A token source whose tokens live 3s, refreshed 2s before expiry.
	shortLived := &countingSource{mint: func() *oauth2.Token {
		return &oauth2.Token{
			AccessToken: iss.Mint(authtest.Subject("erin"), authtest.Scopes("library.read"), authtest.ExpiresIn(3*time.Second)),
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
	apiKeyOnly := &runtime.ClientCredentials{APIKey: "not-used"}

	calls := []call{
		{"GetBook", "JWT alice [library.read]", reader, true, nil, "OK", getBook},
		{"GetBook", "none", "", true, nil, "Unauthenticated", getBook},
		{"GetBook", "expired JWT", expired, true, nil, "Unauthenticated", getBook},
		{"GetBook", "JWT for audience billing", otherAud, true, nil, "Unauthenticated", getBook},
		{"GetBook", "JWT signed by another key", forged, true, nil, "Unauthenticated", getBook},
		{"DeleteBook", "JWT bob [library.read library.write]", writer, true, nil, "PermissionDenied", deleteBook},
		{"DeleteBook", "JWT carol [... library.admin], plaintext", admin, false, nil, "Unauthenticated", deleteBook},
		{"DeleteBook", "JWT carol [... library.admin]", admin, true, nil, "OK", deleteBook},
		{"ExportShelf (stream)", "JWT dave [library.export] ES256", exporter, true, nil, "OK", export},
		{"ExportShelf (stream)", "JWT alice [library.read]", reader, true, nil, "PermissionDenied", export},
		{"ListPublicShelves", "none", "", false, nil, "OK", listPublic},
		{"GetBook (generated client)", "API key only: preflight", "", true, apiKeyOnly, "Unauthenticated", getBook},
		{"GetBook (generated client)", "token source, 3s tokens", "", true, refreshing, "OK", refresh},
	}

	fmt.Fprintln(stdout, "LibraryService on", srv.TLSAddr, "(TLS) and", srv.PlainAddr, "(plaintext); issuer", iss.URL())
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tCREDENTIAL\tOUTCOME\tCODE\tREASON\tDETAIL")
	var mismatches []string
	for _, c := range calls {
		conn := plainConn
		if c.tls {
			conn = tlsConn
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if c.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
		}
		client := libraryv1.NewLibraryServiceClient(conn)
		if c.auth != nil {
			client = libraryv1.NewLibraryServiceAuthClient(conn, c.auth)
		}
		detail, err := c.do(ctx, client)
		cancel()
		outcome, code, reason := "allowed", "OK", "-"
		if err != nil {
			st := status.Convert(err)
			outcome, code, detail = "denied", st.Code().String(), st.Message()
			if e, ok := runtime.FromError(err); ok {
				reason = string(e.Reason)
				if e.Local {
					detail = "refused by the client before sending: " + detail
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.method, c.cred, outcome, code, reason, detail)
		if code != c.wantCode {
			mismatches = append(mismatches, fmt.Sprintf("%s with %s: got %s, want %s", c.method, c.cred, code, c.wantCode))
		}
	}
	tw.Flush()
	srv.Stop()
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Server log (one line per denial; tokens never appear):")
	fmt.Fprint(stdout, serverLog.String())
	if len(mismatches) > 0 {
		return errors.New("unexpected outcomes:\n" + strings.Join(mismatches, "\n"))
	}
	return nil
}
