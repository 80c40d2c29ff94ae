// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// The metadata a stream probe's client sends.
const (
	// probeIDKey names the stream, for what the probe records of it.
	probeIDKey = "x-probe-id"
	// probeReturnKey says what the handler returns once its stream ended:
	// "err" (default) the error that ended it, "ctx" ctx.Err(), "own" an
	// error of its own.
	probeReturnKey = "x-probe-return"
)

// streamProbe is a Kinds service whose streams stay open until something
// ends them, and which records how each handler saw its stream end. Every
// handler sends its header first, so that a client knows the handler runs.
//
//   - ChatAny echoes every message.
//   - UploadAny receives until the client closes.
//   - WatchAny with text "idle" waits for its context to end; with "tick" it
//     sends a message every 20ms; with "unwatched" too, but it never looks
//     at its context; with "nap" it sleeps 3s, sends nothing and returns,
//     having looked at nothing of its context but its values (unless
//     x-probe-return is "ctx").
type streamProbe struct {
	grpcauthtestv1.UnimplementedKindsServer
	received atomic.Int64 // messages the handlers received

	mu   sync.Mutex
	ends map[string]probeEnd // by probe id
	// sent is when the last send that went through began, by probe id
	// (the "unwatched" handler's); got is when the client sent the last
	// message that reached ChatAny's handler (bidi-moving's carry it).
	sent, got map[string]time.Time
}

// probeEnd is how a handler saw its stream end.
type probeEnd struct {
	err   error // what ended the handler's loop
	cause error // context.Cause of the handler's context then
	// unasked: the handler ended without asking (serverNap).
	unasked bool
}

func newStreamProbe() *streamProbe {
	return &streamProbe{ends: map[string]probeEnd{}, sent: map[string]time.Time{}, got: map[string]time.Time{}}
}

// lastGot returns when the client sent the last message of stream id that
// reached the handler; zero when none carried the time.
func (p *streamProbe) lastGot(id string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[id]
}

// lastSent returns when the last send of stream id that went through
// began; zero when none did.
func (p *streamProbe) lastSent(id string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[id]
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// end records how the stream of ctx ended and returns what the handler
// returns.
func (p *streamProbe) end(ctx context.Context, err error) error {
	return p.record(ctx, probeEnd{err: err, cause: context.Cause(ctx)})
}

// endUnasked records the end of a stream whose handler never asked how
// it ended, and returns what the handler returns: nothing of its context
// but its values is looked at, unless x-probe-return is "ctx".
func (p *streamProbe) endUnasked(ctx context.Context) error {
	return p.record(ctx, probeEnd{unasked: true})
}

// record keeps e as the end of the stream of ctx and returns what its
// handler returns, as x-probe-return says: e.err by default (nil for the
// client's io.EOF), ctx.Err() or an error of its own.
func (p *streamProbe) record(ctx context.Context, e probeEnd) error {
	md, _ := metadata.FromIncomingContext(ctx)
	p.mu.Lock()
	p.ends[firstOf(md.Get(probeIDKey))] = e
	p.mu.Unlock()
	if errors.Is(e.err, io.EOF) {
		return nil
	}
	switch firstOf(md.Get(probeReturnKey)) {
	case "ctx":
		return ctx.Err()
	case "own":
		return status.Error(codes.Aborted, "the handler gave up")
	}
	return e.err
}

// endOf returns how the stream id ended, and false if its handler has not
// seen it end.
func (p *streamProbe) endOf(id string) (probeEnd, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.ends[id]
	return e, ok
}

func (p *streamProbe) ChatAny(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	if err := stream.SendHeader(metadata.Pairs("x-probe", "open")); err != nil {
		return p.end(stream.Context(), err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return p.end(stream.Context(), err)
		}
		p.received.Add(1)
		if at, err := time.Parse(time.RFC3339Nano, m.GetText()); err == nil {
			id := firstOf(metadata.ValueFromIncomingContext(stream.Context(), probeIDKey))
			p.mu.Lock()
			p.got[id] = at
			p.mu.Unlock()
		}
		if err := stream.Send(m); err != nil {
			return p.end(stream.Context(), err)
		}
	}
}

func (p *streamProbe) UploadAny(stream grpc.ClientStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	if err := stream.SendHeader(metadata.Pairs("x-probe", "open")); err != nil {
		return p.end(stream.Context(), err)
	}
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			_ = p.end(stream.Context(), err)
			return stream.SendAndClose(&grpcauthtestv1.Msg{Text: "done"})
		}
		if err != nil {
			return p.end(stream.Context(), err)
		}
		p.received.Add(1)
	}
}

func (p *streamProbe) WatchAny(m *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	ctx := stream.Context()
	if err := stream.SendHeader(metadata.Pairs("x-probe", "open")); err != nil {
		return p.end(ctx, err)
	}
	switch m.GetText() {
	case "unwatched":
		// Sends every 20ms and never looks at its context: only the
		// guard's checks at each send can end it.
		id := firstOf(metadata.ValueFromIncomingContext(ctx, probeIDKey))
		for {
			time.Sleep(20 * time.Millisecond)
			began := time.Now()
			if err := stream.Send(&grpcauthtestv1.Msg{Text: "tick"}); err != nil {
				return p.end(ctx, err)
			}
			p.mu.Lock()
			p.sent[id] = began
			p.mu.Unlock()
		}
	case "nap":
		// Sleeps past any expiry of the tests, then returns, having sent
		// nothing and never looked at its context.
		time.Sleep(3 * time.Second)
		return p.endUnasked(ctx)
	case "tick":
	default:
		<-ctx.Done()
		return p.end(ctx, ctx.Err())
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return p.end(ctx, ctx.Err())
		case <-tick.C:
		}
		if err := stream.Send(&grpcauthtestv1.Msg{Text: "tick"}); err != nil {
			return p.end(ctx, err)
		}
	}
}

// The shapes of stream a client opens on a probe.
const (
	bidiIdle      = "bidi-idle"      // one echo, then the handler waits in Recv
	bidiMoving    = "bidi-moving"    // a message each way every 20ms
	serverIdle    = "server-idle"    // the handler sends nothing
	serverTicking = "server-ticking" // the handler sends every 20ms
	// serverUnwatched: the handler sends every 20ms and never looks at its
	// context (nothing derives the guard's context or sets its timer).
	serverUnwatched = "server-unwatched"
	serverNap       = "server-nap"  // the handler sleeps 3s and returns
	clientIdle      = "client-idle" // one message, then the handler waits in Recv
)

// streamEnd is how a client saw its stream end: the final error (nil
// when it ended OK) and when.
type streamEnd struct {
	err error
	at  time.Time
}

// openStream opens a stream of shape on c and returns once its handler
// runs. The channel gets how the stream ended, when it ends.
func openStream(t *testing.T, ctx context.Context, c grpcauthtestv1.KindsClient, shape string) <-chan streamEnd {
	t.Helper()
	ended := make(chan streamEnd, 1)
	done := make(chan error, 1)
	go func() {
		err := <-done
		ended <- streamEnd{err, time.Now()}
	}()
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("%s: %s: %v", shape, what, err)
	}
	switch shape {
	case bidiIdle, bidiMoving:
		s, err := c.ChatAny(ctx)
		if err != nil {
			fail("open", err)
		}
		if err := s.Send(&grpcauthtestv1.Msg{Text: "hi"}); err != nil {
			fail("send", err)
		}
		if _, err := s.Recv(); err != nil {
			fail("first echo", err)
		}
		go func() {
			if shape == bidiIdle {
				_, err := s.Recv()
				done <- err
				return
			}
			for {
				if err := s.Send(&grpcauthtestv1.Msg{Text: time.Now().Format(time.RFC3339Nano)}); err != nil {
					_, err = s.Recv() // the status, once the server ended the stream
					done <- err
					return
				}
				if _, err := s.Recv(); err != nil {
					done <- err
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	case serverIdle, serverTicking, serverUnwatched, serverNap:
		text := map[string]string{serverIdle: "idle", serverTicking: "tick", serverUnwatched: "unwatched", serverNap: "nap"}[shape]
		s, err := c.WatchAny(ctx, &grpcauthtestv1.Msg{Text: text})
		if err != nil {
			fail("open", err)
		}
		if _, err := s.Header(); err != nil {
			fail("header", err)
		}
		go func() { done <- recvAll(s.Recv) }()
	case clientIdle:
		s, err := c.UploadAny(ctx)
		if err != nil {
			fail("open", err)
		}
		if err := s.Send(&grpcauthtestv1.Msg{Text: "part"}); err != nil {
			fail("send", err)
		}
		if _, err := s.Header(); err != nil {
			fail("header", err)
		}
		go func() { done <- s.RecvMsg(new(grpcauthtestv1.Msg)) }()
	default:
		t.Fatalf("unknown stream shape %q", shape)
	}
	return ended
}

// probeCtx is the outgoing context of a probe stream: credential md, the
// probe's id and return mode, and a deadline that ends a hung test.
func probeCtx(t *testing.T, md context.Context, id, ret string) context.Context {
	ctx := metadata.AppendToOutgoingContext(md, probeIDKey, id, probeReturnKey, ret)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openedStream is a probe stream a test waits on.
type openedStream struct {
	id      string
	subject string // the principal's subject, when it is not id
	done    <-chan streamEnd
	reason  runtime.Reason // the denial it must end with
	code    codes.Code
}

// waitDenied waits until s ends, at most until deadline, and asserts that
// the client saw s.code with s.reason, that the handler's context was
// cancelled with that denial as its cause, and that the denial was
// audited and logged once. It returns when the stream ended.
func waitDenied(t *testing.T, f *kindsFixture, probe *streamProbe, s openedStream, deadline time.Time) time.Time {
	t.Helper()
	var end streamEnd
	select {
	case end = <-s.done:
	case <-time.After(time.Until(deadline)):
		t.Errorf("%s: still open at %s; want it ended with %s", s.id, deadline.Format(time.StampMilli), s.reason)
		return time.Time{}
	}
	err, ended := end.err, end.at
	if ended.After(deadline) {
		t.Errorf("%s: ended at %s; want it ended with %s by %s", s.id, ended.Format(time.StampMilli), s.reason, deadline.Format(time.StampMilli))
	}
	e, ok := runtime.FromError(err)
	if st := status.Convert(err); !ok || st.Code() != s.code || e.Reason != s.reason {
		t.Errorf("%s: ended with %v; want %s %s", s.id, err, s.code, s.reason)
	}
	pe, ok := probe.endOf(s.id)
	var cause *runtime.Error
	switch {
	case !ok:
		t.Errorf("%s: the handler did not see its stream end", s.id)
	case pe.unasked:
	case !errors.As(pe.cause, &cause) || cause.Reason != s.reason:
		t.Errorf("%s: the handler's context cause is %v (loop ended by %v); want the %s denial", s.id, pe.cause, pe.err, s.reason)
	}
	subject := s.subject
	if subject == "" {
		subject = s.id
	}
	audited := 0
	for _, d := range f.decisions.all() {
		if d.Subject == subject && d.Reason == s.reason {
			audited++
		}
	}
	logged := 0
	for _, line := range strings.Split(f.log.String(), "\n") {
		if strings.Contains(line, "subject="+subject+" ") && strings.Contains(line, "reason="+string(s.reason)) {
			logged++
		}
	}
	if audited != 1 || logged != 1 {
		t.Errorf("%s: the denial was audited %d and logged %d times; want once each", s.id, audited, logged)
	}
	return ended
}

// expiringToken mints a JWT for subject with scope s whose exp is a whole
// second between 0.5s and 1.5s from now, and returns it with its exp.
func expiringToken(iss *authtest.Issuer, subject string) (string, time.Time) {
	exp := time.Unix(time.Now().Add(1500*time.Millisecond).Unix(), 0)
	return iss.Mint(authtest.Subject(subject), authtest.Scopes("s"), authtest.Claim("exp", exp.Unix())), exp
}

// TestStreamEndsAtExpiry: a stream whose token expires ends at that
// instant with 16 TOKEN_EXPIRED although no message moves: the handler's
// context is cancelled with the denial as its cause, a handler blocked in
// Recv gets the denial, and whatever the handler returns then, the client
// sees the denial, which is logged and audited once. On every path, for
// client-, server- and bidi-streaming.
func TestStreamEndsAtExpiry(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		t.Parallel()
		probe := newStreamProbe()
		f := newKindsFixture(t, m, kindsOptions{impl: probe, jwtOpts: []jwtauth.Option{jwtauth.Leeway(0)}})
		var streams []openedStream
		exps := map[string]time.Time{}
		for _, shape := range []string{bidiIdle, serverIdle, clientIdle, bidiMoving, serverTicking, serverUnwatched, serverNap} {
			for _, ret := range []string{"err", "ctx", "own"} {
				id := shape + "." + ret
				token, exp := expiringToken(f.iss, id)
				exps[id] = exp
				done := openStream(t, probeCtx(t, bearerMD(token), id, ret), f.client, shape)
				streams = append(streams, openedStream{id: id, done: done, reason: runtime.ReasonTokenExpired, code: codes.Unauthenticated})
			}
		}
		for _, s := range streams {
			exp := exps[s.id]
			if ended := waitDenied(t, f, probe, s, exp.Add(3*time.Second)); !ended.IsZero() && ended.Before(exp) {
				t.Errorf("%s: ended at %s, before the token expired at %s", s.id, ended.Format(time.StampMilli), exp.Format(time.StampMilli))
			}
		}
	})
}

// TestStreamEndsAtExpiryOnTheSystemClock: on the system clock a guard
// checks its receives and sends by the coarse clock while the expiry is
// more than coarseSlack (1.25s) away, and by the clock itself from then
// on. With a token that expires 2.5-3.5s after the stream opens, a handler
// that sends every 20ms and never looks at its context sends until the
// expiry and gets no send through that began at or after it; a bidi
// stream whose client sends every 20ms has its messages delivered until
// the expiry and none that the client sent at or after it (its receives
// wait on the context, whose timer ends the stream at the instant, and
// are checked after they return: it fails with the slack at 0 and the
// timer off). Both end then, for each way of serving them.
func TestStreamEndsAtExpiryOnTheSystemClock(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		t.Parallel()
		probe := newStreamProbe()
		f := newKindsFixture(t, m, kindsOptions{impl: probe, jwtOpts: []jwtauth.Option{jwtauth.Leeway(0)}})
		exp := time.Unix(time.Now().Add(3500*time.Millisecond).Unix(), 0)
		var streams []openedStream
		for _, shape := range []string{serverUnwatched, bidiMoving} {
			id := "system-clock." + shape
			token := f.iss.Mint(authtest.Subject(id), authtest.Scopes("s"), authtest.Claim("exp", exp.Unix()))
			done := openStream(t, probeCtx(t, bearerMD(token), id, "err"), f.client, shape)
			streams = append(streams, openedStream{id: id, done: done, reason: runtime.ReasonTokenExpired, code: codes.Unauthenticated})
		}
		for _, s := range streams {
			ended := waitDenied(t, f, probe, s, exp.Add(time.Second))
			if !ended.IsZero() && ended.Before(exp) {
				t.Errorf("%s: ended at %s, before the token expired at %s", s.id, ended.Format(time.StampMilli), exp.Format(time.StampMilli))
			}
			what, last := "a send that began", probe.lastSent(s.id)
			if s.id == "system-clock."+bidiMoving {
				what, last = "a message the client sent", probe.lastGot(s.id)
			}
			switch {
			case !last.Before(exp):
				t.Errorf("%s: %s at %s went through; the token expired at %s", s.id, what, last.Format(time.StampMicro), exp.Format(time.StampMicro))
			case last.Before(exp.Add(-500 * time.Millisecond)):
				t.Errorf("%s: the last that went through was %s at %s; want them until the expiry at %s", s.id, what, last.Format(time.StampMicro), exp.Format(time.StampMicro))
			}
		}
	})
}

// TestStreamMessageAfterExpiryNotDelivered: a message that arrives while
// the handler waits in Recv, after the token expired, never reaches the
// handler (the check after the underlying receive). The enforcer's clock
// jumps past the expiry while the handler waits, so that only that check
// can catch it.
func TestStreamMessageAfterExpiryNotDelivered(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		for _, shape := range []string{bidiIdle, clientIdle} {
			t.Run(shape, func(t *testing.T) {
				clock := &fakeClock{t: time.Now()}
				probe := newStreamProbe()
				f := newKindsFixture(t, m, kindsOptions{impl: probe, jwtOpts: []jwtauth.Option{jwtauth.Clock(clock.Now)}})
				ctx := probeCtx(t, bearerMD(f.iss.Mint(authtest.Scopes("s"), authtest.ExpiresIn(time.Minute))), shape, "err")
				var send func() error
				var end func() error
				if shape == bidiIdle {
					s, err := f.client.ChatAny(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Send(&grpcauthtestv1.Msg{}); err != nil {
						t.Fatal(err)
					}
					if _, err := s.Recv(); err != nil {
						t.Fatal(err)
					}
					send = func() error { return s.Send(&grpcauthtestv1.Msg{Text: "late"}) }
					end = func() error { _, err := s.Recv(); return err }
				} else {
					s, err := f.client.UploadAny(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Send(&grpcauthtestv1.Msg{}); err != nil {
						t.Fatal(err)
					}
					if _, err := s.Header(); err != nil {
						t.Fatal(err)
					}
					send = func() error { return s.Send(&grpcauthtestv1.Msg{Text: "late"}) }
					end = func() error { return s.RecvMsg(new(grpcauthtestv1.Msg)) }
				}
				waitFor(t, "the first message to reach the handler", func() bool { return probe.received.Load() == 1 })
				time.Sleep(100 * time.Millisecond) // the handler waits in Recv again
				clock.Add(2 * time.Minute)
				if err := send(); err != nil {
					t.Fatal(err)
				}
				wantDenied(t, end(), codes.Unauthenticated, runtime.ReasonTokenExpired)
				if n := probe.received.Load(); n != 1 {
					t.Errorf("the handler received %d messages; want 1 (none after the token expired)", n)
				}
			})
		}
	})
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// guardGoroutines returns the stacks of the goroutines running code of
// the runtime's stream guard.
func guardGoroutines() []string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "protoc-gen-go-grpcauth/runtime.(*streamGuard)") {
			out = append(out, g)
		}
	}
	return out
}

// TestStreamGuardLeavesNothingRunning: once its streams have ended —
// expired while the handler waited in Recv, expired while idle, closed by
// the client, cancelled by the client, all rechecked meanwhile — nothing
// of the guard keeps running: no goroutine is left in a receive or a
// recheck, no timer fires.
func TestStreamGuardLeavesNothingRunning(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		probe := newStreamProbe()
		f := newKindsFixture(t, m, kindsOptions{impl: probe, jwtOpts: []jwtauth.Option{jwtauth.Leeway(0)},
			enforcerOpts: []runtime.Option{runtime.WithStreamRecheck(runtime.MinStreamRecheck)}})
		// Warm up: the key set is fetched, the connection is up.
		warm := f.iss.Mint(authtest.Scopes("s"))
		wctx, cancelWarm := context.WithCancel(probeCtx(t, bearerMD(warm), "warm", "err"))
		done := openStream(t, wctx, f.client, bidiIdle)
		cancelWarm()
		<-done
		waitFor(t, "the warm-up stream to end", func() bool { _, ok := probe.endOf("warm"); return ok })
		time.Sleep(100 * time.Millisecond)
		before := goruntime.NumGoroutine()

		var waits []<-chan streamEnd
		var cancels []context.CancelFunc
		for i := range 5 {
			for _, shape := range []string{bidiIdle, serverIdle, clientIdle} {
				token, _ := expiringToken(f.iss, "expiring")
				waits = append(waits, openStream(t, probeCtx(t, bearerMD(token), shape, "err"), f.client, shape))
				ctx, cancel := context.WithCancel(probeCtx(t, bearerMD(warm), shape, "err"))
				waits = append(waits, openStream(t, ctx, f.client, shape))
				cancels = append(cancels, cancel)
			}
			// A stream the client closes.
			s, err := f.client.ChatAny(probeCtx(t, bearerMD(warm), "closed", "err"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(&grpcauthtestv1.Msg{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := recvAll(s.Recv); err != nil {
				t.Fatalf("closed stream %d: %v", i, err)
			}
		}
		for _, c := range cancels {
			c()
		}
		for i, w := range waits {
			select {
			case <-w:
			case <-time.After(10 * time.Second):
				t.Fatalf("stream %d did not end", i)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			left, n := guardGoroutines(), goruntime.NumGoroutine()
			if len(left) == 0 && n <= before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines left (%d before the streams); of the stream guard:\n%s", n, before, strings.Join(left, "\n\n"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestStreamExpiryDecidedOnce: with the interceptors in front of the
// generated registration, a stream is guarded once: it ends at expiry
// with one denial, logged and audited once.
func TestStreamExpiryDecidedOnce(t *testing.T) {
	// The library fixture's JWT authenticator has the default leeway of
	// 30s; a clock 30s ahead makes the token's ExpiresAt its exp.
	ahead := func() time.Time { return time.Now().Add(30 * time.Second) }
	f := newFixture(t, fixtureOptions{mode: modeRegister, interceptorsToo: true, jwtOpts: []jwtauth.Option{jwtauth.Clock(ahead)}})
	exp := time.Unix(time.Now().Add(1500*time.Millisecond).Unix(), 0)
	token := f.iss.Mint(authtest.Subject("twice"), authtest.Scopes("library.read"), authtest.Claim("exp", exp.Unix()))
	ctx, cancel := context.WithTimeout(withToken(token), 10*time.Second)
	defer cancel()
	s, err := f.client.SyncShelf(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&libraryv1.SyncShelfRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv() // idle until the server ends the stream
	wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenExpired)
	if time.Now().Before(exp) {
		t.Errorf("ended before the token expired")
	}
	denials := 0
	for _, d := range f.decisions.all() {
		if d.Outcome != runtime.OutcomeAllow {
			denials++
		}
	}
	if logged := strings.Count(f.log.String(), "grpcauth: call denied"); denials != 1 || logged != 1 {
		t.Errorf("%d denials audited, %d logged; want one each", denials, logged)
	}
}

// TestGuardedStreamMessagesIntact: a guarded receive, which receives into
// a message of its own and moves it into the caller's, delivers every
// message whole, nested messages included.
func TestGuardedStreamMessagesIntact(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{mode: m, enforcerOpts: []runtime.Option{runtime.WithStreamRecheck(time.Hour)}})
			ctx, cancel := context.WithTimeout(withToken(f.iss.Mint(authtest.Scopes("library.read"))), 10*time.Second)
			defer cancel()
			s, err := f.client.SyncShelf(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				want := &libraryv1.Book{Name: fmt.Sprintf("shelves/a/books/%d", i), Title: strings.Repeat("x", i*100)}
				if err := s.Send(&libraryv1.SyncShelfRequest{Book: want}); err != nil {
					t.Fatal(err)
				}
				got, err := s.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(got.GetBook(), want) {
					t.Fatalf("message %d: got %v; want %v", i, got.GetBook(), want)
				}
			}
		})
	}
}

// jsonCodec is a gRPC codec of encoding/json, which decodes into what a
// message already holds (a nested message a pointer points to, a map).
type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }
func (jsonCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := json.Marshal(v)
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}
func (jsonCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return json.Unmarshal(data.Materialize(), v)
}

// TestGuardedReceivesKeepEarlierMessages: a guarded receive decodes into a
// message of its own, moves it into the caller's and decodes the next one
// into it again: a codec that decodes into what a message holds
// (encoding/json into a nested message) must not write into a message the
// handler kept. Every message the handler received is still what was sent
// once the stream is over.
func TestGuardedReceivesKeepEarlierMessages(t *testing.T) {
	var mu sync.Mutex
	var kept []*libraryv1.SyncShelfRequest
	r := &recorder{synced: func(req *libraryv1.SyncShelfRequest) {
		mu.Lock()
		kept = append(kept, req)
		mu.Unlock()
	}}
	c, token := guardedLibrary(t, func(s *grpc.Server, enf *runtime.Enforcer) { libraryv1.RegisterLibraryServiceServerWithAuth(s, r, enf) },
		grpc.ForceServerCodecV2(jsonCodec{}))
	syncBooks(t, c, token, 5, grpc.ForceCodecV2(jsonCodec{}))
	mu.Lock()
	defer mu.Unlock()
	wantBooks(t, kept, 5)
}

// TestGuardedReceivesIntoDynamicMessages: a handler that receives into
// dynamicpb messages (a proxy's, behind the interceptor) gets each whole:
// dynamicpb's zero struct is no message, so the guard receives into a
// message made by its type and moves it field by field.
func TestGuardedReceivesIntoDynamicMessages(t *testing.T) {
	var mu sync.Mutex
	var kept []*libraryv1.SyncShelfRequest
	md := (&libraryv1.SyncShelfRequest{}).ProtoReflect().Descriptor()
	desc := grpc.ServiceDesc{
		ServiceName: "library.v1.LibraryService",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "SyncShelf", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			for {
				m := dynamicpb.NewMessage(md)
				if err := ss.RecvMsg(m); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
				req := &libraryv1.SyncShelfRequest{}
				b, err := proto.Marshal(m)
				if err == nil {
					err = proto.Unmarshal(b, req)
				}
				if err != nil {
					return err
				}
				mu.Lock()
				kept = append(kept, req)
				mu.Unlock()
				if err := ss.SendMsg(&libraryv1.SyncShelfResponse{}); err != nil {
					return err
				}
			}
		}}},
	}
	var enf *runtime.Enforcer
	c, token := guardedLibrary(t, func(s *grpc.Server, e *runtime.Enforcer) { enf = e; s.RegisterService(&desc, nil) },
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return enf.StreamServerInterceptor()(srv, ss, info, h)
		}))
	syncBooks(t, c, token, 5)
	mu.Lock()
	defer mu.Unlock()
	wantBooks(t, kept, 5)
}

// guardedLibrary serves LibraryService, registered by register with an
// enforcer of the library's rules whose streams are guarded (a JWT that
// expires, rechecks every hour), over TLS, and returns a client and a
// token for it.
func guardedLibrary(t *testing.T, register func(*grpc.Server, *runtime.Enforcer), opts ...grpc.ServerOption) (libraryv1.LibraryServiceClient, string) {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	enf, err := runtime.NewEnforcer(runtime.WithJWT(mustJWT(t, iss)), runtime.WithLogger(nil), runtime.WithStreamRecheck(time.Hour),
		runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	if err != nil {
		t.Fatal(err)
	}
	serverCreds, clientCreds := tlsPair(t, "guarded library CA")
	lis := serve(t, func(s *grpc.Server) { register(s, enf) }, append([]grpc.ServerOption{serverCreds}, opts...)...)
	c := libraryv1.NewLibraryServiceClient(dial(t, lis, clientCreds))
	return c, iss.Mint(authtest.Scopes("library.read"))
}

// syncBooks sends n books on a SyncShelf stream, each after the answer to
// the one before, and closes it.
func syncBooks(t *testing.T, c libraryv1.LibraryServiceClient, token string, n int, opts ...grpc.CallOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(withToken(token), 10*time.Second)
	defer cancel()
	s, err := c.SyncShelf(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Send(&libraryv1.SyncShelfRequest{Book: &libraryv1.Book{Name: fmt.Sprintf("shelves/a/books/%d", i)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
}

// wantBooks asserts that the handler kept n requests, the i-th holding
// book i (what syncBooks sent).
func wantBooks(t *testing.T, kept []*libraryv1.SyncShelfRequest, n int) {
	t.Helper()
	if len(kept) != n {
		t.Fatalf("the handler received %d messages; want %d", len(kept), n)
	}
	for i, req := range kept {
		if want := fmt.Sprintf("shelves/a/books/%d", i); req.GetBook().GetName() != want {
			t.Errorf("kept message %d holds book %q; want %q (a later receive wrote into it)", i, req.GetBook().GetName(), want)
		}
	}
}

// TestServerStreamRequestAfterExpiry: a server-streaming call whose
// client opens the stream with a valid token and sends its one request
// only after the token expired never reaches the method: the request,
// received in place by the guard (or by the typed wrapper before it
// authorizes), is refused with 16 TOKEN_EXPIRED.
func TestServerStreamRequestAfterExpiry(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		// A second ahead: with no leeway, a token minted in the next
		// second (its iat) would otherwise be not yet valid.
		clock := &fakeClock{t: time.Now().Add(time.Second)}
		probe := newStreamProbe()
		f := newKindsFixture(t, m, kindsOptions{impl: probe, jwtOpts: []jwtauth.Option{jwtauth.Clock(clock.Now), jwtauth.Leeway(0)}})
		ctx := probeCtx(t, bearerMD(f.iss.Mint(authtest.Scopes("s"), authtest.ExpiresIn(time.Minute))), serverIdle, "err")
		s, err := f.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, grpcauthtestv1.Kinds_WatchAny_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // the server waits for the request
		clock.Add(2 * time.Minute)
		if err := s.SendMsg(&grpcauthtestv1.Msg{Text: "tick"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		err = s.RecvMsg(new(grpcauthtestv1.Msg))
		if md, _ := s.Header(); len(md.Get("x-probe")) > 0 {
			t.Errorf("the method ran on a request sent after the token expired")
		}
		wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenExpired)
	})
}

// deadlineStream is a server stream whose context is ctx.
type deadlineStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *deadlineStream) Context() context.Context { return s.ctx }

// TestStreamEndsAtExpiryAfterOuterDeadline: when an interceptor in front
// of the enforcer's gives the stream a deadline of its own, and it passes
// while the handler waits in Recv (the receive goes on: grpc-go's does not
// watch that context), the credential's expiry still ends the wait at its
// instant.
func TestStreamEndsAtExpiryAfterOuterDeadline(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
	ahead := func() time.Time { return time.Now().Add(30 * time.Second) } // the default leeway: ExpiresAt is exp
	enf, err := runtime.NewEnforcer(runtime.WithJWT(mustJWT(t, iss, jwtauth.Clock(ahead))), runtime.WithLogger(nil),
		runtime.WithRules(libraryv1.LibraryServiceAuthRules))
	if err != nil {
		t.Fatal(err)
	}
	outer := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, cancel := context.WithTimeout(ss.Context(), 200*time.Millisecond)
		defer cancel()
		return h(srv, &deadlineStream{ServerStream: ss, ctx: ctx})
	}
	serverCreds, clientCreds := tlsPair(t, "outer CA")
	lis := serve(t, func(s *grpc.Server) { libraryv1.RegisterLibraryServiceServer(s, &recorder{}) },
		serverCreds, grpc.ChainStreamInterceptor(outer, enf.StreamServerInterceptor()))
	c := libraryv1.NewLibraryServiceClient(dial(t, lis, clientCreds))
	exp := time.Unix(time.Now().Add(1500*time.Millisecond).Unix(), 0)
	token := iss.Mint(authtest.Scopes("library.read"), authtest.Claim("exp", exp.Unix()))
	ctx, cancel := context.WithTimeout(withToken(token), 10*time.Second)
	defer cancel()
	s, err := c.SyncShelf(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv() // the handler waits in Recv: the client sends nothing
	wantDenied(t, err, codes.Unauthenticated, runtime.ReasonTokenExpired)
	if late := time.Since(exp); late > 2*time.Second {
		t.Errorf("ended %v after the token expired; want at the instant", late)
	}
}
