// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc/credentials/insecure"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// clientEvents records what a ClientObserver is told.
type clientEvents struct {
	mu  sync.Mutex
	evs []runtime.ClientEvent
}

func (c *clientEvents) ObserveClient(_ context.Context, ev runtime.ClientEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
}

func (c *clientEvents) types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ev := range c.evs {
		s := ev.Type.String()
		if ev.DryRun {
			s += "(dry-run)"
		}
		if ev.Failed {
			s += "(failed)"
		}
		out = append(out, s)
	}
	return out
}

// TestClientLogs: with a Logger, the generated client logs its preflight
// refusals, token fetches and retries, with the server's decision id of
// the refused call, and never a token; its Observer is told the same.
func TestClientLogs(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	clock := &fakeClock{t: time.Now()}
	var expiredFirst atomic.Bool
	expiredFirst.Store(true)
	var tokens []string
	var mu sync.Mutex
	src := &tokenSource{mint: func() *oauth2.Token {
		ttl := time.Hour
		if expiredFirst.Swap(false) {
			ttl = -time.Hour
		}
		tok := f.iss.Mint(authtest.Scopes("library.read"), authtest.ExpiresIn(ttl))
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
		return &oauth2.Token{AccessToken: tok, Expiry: clock.Now().Add(time.Hour)}
	}}
	var logBuf syncBuffer
	obs := &clientEvents{}
	creds := &runtime.ClientCredentials{TokenSource: src, Clock: clock.Now, Logger: slog.New(slog.NewTextHandler(&logBuf, nil)), Observer: obs}
	c := libraryv1.NewLibraryServiceAuthClient(f.conn, creds)
	if _, err := c.GetBook(context.Background(), &libraryv1.GetBookRequest{}); err != nil {
		t.Fatalf("GetBook: %v", err)
	}
	// A key-only client refused before sending.
	keyOnly := &runtime.ClientCredentials{APIKey: "gak_secretkey", Logger: creds.Logger, Observer: obs}
	_, err := libraryv1.NewLibraryServiceAuthClient(f.conn, keyOnly).GetBook(context.Background(), &libraryv1.GetBookRequest{})
	if !isReason(err, runtime.ReasonCredentialsMissing) {
		t.Fatalf("err = %v; want CREDENTIALS_MISSING", err)
	}
	log := logBuf.String()
	for _, want := range []string{
		"grpcauth: token fetched", "grpcauth: retrying once with a fresh token", "method=/library.v1.LibraryService/GetBook reason=TOKEN_EXPIRED",
		"grpcauth: call refused before sending", "reason=CREDENTIALS_MISSING", "accepted_kinds=BEARER_JWT,OAUTH2_TOKEN,MTLS",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("client log lacks %q:\n%s", want, log)
		}
	}
	// The retry line names the server's decision: one search finds both.
	retry := logLine(log, "retrying once")
	_, id, _ := strings.Cut(retry, "decision_id=")
	id = strings.TrimSpace(id)
	if id == "" || !strings.Contains(logLine(f.log.String(), "decision_id="+id), "reason=TOKEN_EXPIRED") {
		t.Errorf("retry line %q: its decision id is not in the server log:\n%s", retry, f.log.String())
	}
	mu.Lock()
	for _, tok := range append(tokens, "gak_secretkey") {
		if strings.Contains(log, tok) {
			t.Errorf("the client log holds a token or key")
		}
	}
	mu.Unlock()
	want := []string{"token_fetched", "retried", "token_fetched", "preflight_refused"}
	if got := obs.types(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("observer saw %v; want %v", got, want)
	}

	// Off by default: nothing is logged without a Logger.
	quiet := &runtime.ClientCredentials{APIKey: "k"}
	if _, err := libraryv1.NewLibraryServiceAuthClient(f.conn, quiet).GetBook(context.Background(), &libraryv1.GetBookRequest{}); err == nil {
		t.Fatal("want a refusal")
	}
}

// TestClientTokenFetchFailureLog: a failing token source is logged without
// what its error quotes.
func TestClientTokenFetchFailureLog(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: modeRegister})
	var logBuf syncBuffer
	obs := &clientEvents{}
	src := oauth2.TokenSource(refusingSource{})
	creds := &runtime.ClientCredentials{TokenSource: src, Logger: slog.New(slog.NewTextHandler(&logBuf, nil)), Observer: obs}
	_, err := libraryv1.NewLibraryServiceAuthClient(f.conn, creds).GetBook(context.Background(), &libraryv1.GetBookRequest{})
	if err == nil {
		t.Fatal("want an error")
	}
	line := logLine(logBuf.String(), "token fetch failed")
	if !strings.Contains(line, `the token endpoint refused: status 401, error \"invalid_client\"`) || strings.Contains(line, "client_secret") {
		t.Errorf("line = %q", line)
	}
	if got := obs.types(); len(got) != 1 || got[0] != "token_fetched(failed)" {
		t.Errorf("observer saw %v", got)
	}
}

type refusingSource struct{}

func (refusingSource) Token() (*oauth2.Token, error) {
	return nil, &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusUnauthorized}, Body: []byte(`{"error":"invalid_client","client_secret":"hunter2"}`), ErrorCode: "invalid_client"}
}

// TestClientDryRun: for a rule in dry-run, the generated client sends the
// call it would refuse, without the credential, and reports the refusal it
// did not make; the server proceeds too.
func TestClientDryRun(t *testing.T) {
	impl := &rolloutServer{}
	f := newKindsFixture(t, modeRegister, kindsOptions{extra: registerRollout(impl)})
	var logBuf syncBuffer
	obs := &clientEvents{}
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))

	// No accepted kind held: sent without a credential.
	keyOnly := &runtime.ClientCredentials{APIKey: f.exporterKey, Logger: logger, Observer: obs}
	r, err := grpcauthtestv1.NewRolloutAuthClient(f.conn, keyOnly).Get(context.Background(), &grpcauthtestv1.RolloutRequest{})
	if err != nil || r.GetCaller() != "anonymous" {
		t.Fatalf("Get = %v, %v; want it sent and served anonymously", r, err)
	}
	if ev, _ := f.lastDecision(grpcauthtestv1.Rollout_Get_FullMethodName); ev.Reason != runtime.ReasonCredentialsMissing || ev.Outcome != runtime.OutcomeWouldDeny {
		t.Errorf("server audit = %+v; want would_deny CREDENTIALS_MISSING (the key was not sent)", ev)
	}
	// A token over plaintext: sent without the token.
	src := &tokenSource{mint: func() *oauth2.Token {
		return &oauth2.Token{AccessToken: f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s")), Expiry: time.Now().Add(time.Hour)}
	}}
	plainConn := dial(t, f.plain, insecure.NewCredentials())
	withToken := &runtime.ClientCredentials{TokenSource: src, Logger: logger, Observer: obs}
	s, err := grpcauthtestv1.NewRolloutAuthClient(plainConn, withToken).Watch(context.Background(), &grpcauthtestv1.RolloutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Recv(); err != nil || r.GetCaller() != "anonymous" {
		t.Fatalf("Watch over plaintext = %v, %v; want it sent without the token", r, err)
	}
	if src.calls.Load() != 0 {
		t.Errorf("a token was fetched for a call that cannot send it")
	}
	if got := obs.types(); strings.Join(got, " ") != "preflight_refused(dry-run) preflight_refused(dry-run)" {
		t.Errorf("observer saw %v", got)
	}
	if n := strings.Count(logBuf.String(), "would be refused before sending (dry-run"); n != 2 {
		t.Errorf("%d dry-run refusal lines; want 2:\n%s", n, logBuf.String())
	}
	// An enforced method of the same service still refuses.
	if _, err := grpcauthtestv1.NewRolloutAuthClient(f.conn, keyOnly).Enforced(context.Background(), &grpcauthtestv1.RolloutRequest{}); !isReason(err, runtime.ReasonCredentialsMissing) {
		t.Errorf("Enforced = %v; want a local CREDENTIALS_MISSING", err)
	}
}
