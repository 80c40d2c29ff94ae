// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"io"
	"math"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestMoveMessage: a message received into a fresh one and moved into the
// caller's is what decoding into the caller's would have made: every
// field (scalars, maps, repeated and nested messages, unknown fields), and
// nothing of what the caller's held before. Generated messages and plain
// structs move as a whole struct; dynamicpb messages, whose zero struct is
// no message, field by field.
func TestMoveMessage(t *testing.T) {
	unknown := protowire.AppendTag(nil, 99, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	info := &errdetails.ErrorInfo{Reason: "R", Domain: "d", Metadata: map[string]string{"a": "1", "b": "2"}}
	srcs := []struct {
		msg   proto.Message
		whole bool
	}{
		{info, true},
		{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "f", Description: "x"}, {Field: "g"}}}, true},
		{&errdetails.Help{Links: []*errdetails.Help_Link{{Url: "u"}}}, true},
		{dynamicpb.NewMessage(info.ProtoReflect().Descriptor()), false},
	}
	for _, c := range srcs {
		want := c.msg
		if dm, ok := want.(*dynamicpb.Message); ok {
			proto.Merge(dm, info)
		}
		want.ProtoReflect().SetUnknown(unknown)
		wire, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		fresh, whole, ok := freshMessage(want)
		if !ok || whole != c.whole {
			t.Fatalf("%T: freshMessage = %v, whole %v; want a message, whole %v", want, ok, whole, c.whole)
		}
		if err := proto.Unmarshal(wire, fresh.(proto.Message)); err != nil {
			t.Fatal(err)
		}
		dst := want.ProtoReflect().New().Interface()
		if ei, ok := dst.(*errdetails.ErrorInfo); ok {
			ei.Reason, ei.Metadata = "stale", map[string]string{"c": "3"}
		}
		dst.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 98, protowire.VarintType), 1))
		moveMessage(dst, fresh, whole)
		if !proto.Equal(dst, want) {
			t.Errorf("%T: moved %v; want %v", want, dst, want)
		}
	}

	type plain struct{ A, B string }
	dst := &plain{A: "stale"}
	fresh, whole, ok := freshMessage(dst)
	if !ok || !whole {
		t.Fatalf("*plain: freshMessage = %v, whole %v; want a message, whole", ok, whole)
	}
	fresh.(*plain).B = "b"
	moveMessage(dst, fresh, whole)
	if *dst != (plain{B: "b"}) {
		t.Errorf("moved %+v; want {B:b}", *dst)
	}
	if _, _, ok := freshMessage(plain{}); ok {
		t.Error("freshMessage of a non-pointer succeeded")
	}
}

// TestGuardDerivesOnDemand: the stream guard, the handler's context,
// derives a cancellable context and sets a timer only when something
// waits on it, asks for its error or the guard trips. A stream whose
// handler only reads its values, receives, sends and returns has neither,
// and is checked by the clock instead; once it returned its context is
// done. A context derived from the handler's is cancelled with the denial
// as its cause; a guard that trips before anything waited is done with it.
func TestGuardDerivesOnDemand(t *testing.T) {
	e, err := NewEnforcer(WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	open := func(expiresIn time.Duration) *streamGuard {
		t.Helper()
		g := new(streamGuard)
		openGuard(t, g, parent, e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(expiresIn)}, false)
		return g
	}
	isExpired := func(err error) bool {
		var d *Error
		return errors.As(err, &d) && d.Reason == ReasonTokenExpired
	}

	g := open(time.Hour)
	if p, ok := PrincipalFrom(g); !ok || p.Subject != "s" {
		t.Fatalf("PrincipalFrom(the guard's context) = %v, %v", p, ok)
	}
	if _, ok := g.Deadline(); ok {
		t.Error("a deadline the parent has not")
	}
	for range 3 {
		if err := g.check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.finish(nil); err != nil {
		t.Fatal(err)
	}
	if g.derived.Load() != nil || g.timer != nil {
		t.Error("a stream that nothing waited on derived a context or set a timer")
	}
	if !errors.Is(g.Err(), context.Canceled) {
		t.Errorf("Err after the handler returned = %v; want context.Canceled", g.Err())
	}
	if g.timer != nil {
		t.Error("a timer set after the handler returned")
	}

	g = open(time.Hour)
	child, cancelChild := context.WithCancel(g)
	defer cancelChild()
	if g.derived.Load() == nil || g.timer == nil {
		t.Fatal("a context derived from the handler's did not derive the guard's or set its timer")
	}
	if err := child.Err(); err != nil {
		t.Fatalf("child.Err() = %v before anything ended", err)
	}
	if d := g.trip(tokenExpired()); d == nil {
		t.Fatal("trip returned nil")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the child context was not cancelled when the guard tripped")
	}
	if c := context.Cause(child); !isExpired(c) {
		t.Errorf("context.Cause(child) = %v; want the TOKEN_EXPIRED denial", c)
	}
	_ = g.finish(nil)

	g = open(time.Hour)
	_ = g.trip(tokenExpired())
	if c := context.Cause(g); !isExpired(c) {
		t.Errorf("context.Cause of a guard tripped before anything waited = %v; want the denial", c)
	}
	if g.timer != nil {
		t.Error("a timer set by a guard that had tripped")
	}
	if err := g.finish(nil); !isExpired(err) {
		t.Errorf("finish = %v; want the denial", err)
	}

	// Expired before anything asked: the first Done is already closed.
	g = open(-time.Second)
	select {
	case <-g.Done():
	default:
		t.Error("Done of a stream whose credential had expired is not closed")
	}
	if c := context.Cause(g); !isExpired(c) {
		t.Errorf("context.Cause = %v; want the TOKEN_EXPIRED denial", c)
	}
	_ = g.finish(nil)
}

// TestGuardInstantsAtTheEnds: a credential that expires after 2262
// (RFC 5280's 99991231235959Z, a certificate with no expiry), beyond what
// Unix nanoseconds hold, is due never, not at a wrapped-around instant in
// the past: the stream is not ended, and its timer is not due at once
// (it would fire again and again).
func TestGuardInstantsAtTheEnds(t *testing.T) {
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(0))
	if err != nil {
		t.Fatal(err)
	}
	g := new(streamGuard)
	openGuard(t, g, context.Background(), e, &Principal{Kind: MTLS, Subject: "s", ExpiresAt: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, false)
	defer g.finish(nil)
	if due := g.dueAt.Load(); due != math.MaxInt64 {
		t.Errorf("dueAt = %d; want math.MaxInt64", due)
	}
	if err := g.check(); err != nil {
		t.Fatalf("check = %v", err)
	}
	if d := g.untilNext(time.Now()); d < 24*time.Hour {
		t.Errorf("untilNext = %s; want the far future", d)
	}
	if d := g.untilNext(time.Unix(-1e9, 0)); d <= 0 {
		t.Errorf("untilNext from before 1970 = %s; want positive, not an overflow", d)
	}
	_ = g.Done()
	if err := g.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

// TestGuardRecheckWhenFirstAsked: a recheck that came due before anything
// asked for the context runs when the context is first asked for (Err,
// Done), and a denial ends the stream then, as the timer would have: the
// handler does not see a live context. A dry-run stream that has reported
// the end it would make is not checked again.
func TestGuardRecheckWhenFirstAsked(t *testing.T) {
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(MinStreamRecheck))
	if err != nil {
		t.Fatal(err)
	}
	open := func(dryRun bool) *streamGuard {
		// No credential in the context: the recheck's decision denies.
		g := new(streamGuard)
		openGuard(t, g, context.Background(), e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(time.Hour)}, dryRun)
		return g
	}
	due := func(g *streamGuard) { g.recheckAt.Store(1); g.dueAt.Store(1) }

	for _, ask := range []string{"Err", "Done"} {
		g := open(false)
		due(g)
		if ask == "Err" {
			if err := g.Err(); !errors.Is(err, context.Canceled) {
				t.Errorf("Err with a recheck due that denies = %v; want context.Canceled", err)
			}
		} else {
			select {
			case <-g.Done():
			default:
				t.Error("Done with a recheck due that denies is not closed")
			}
		}
		var d *Error
		if c := context.Cause(g); !errors.As(c, &d) {
			t.Errorf("%s: context.Cause = %v; want the recheck's denial", ask, c)
		}
		_ = g.finish(nil)
	}

	g := open(true)
	due(g)
	if err := g.check(); err != nil {
		t.Fatalf("dry-run check = %v; want nil (it reports)", err)
	}
	if !g.stopped.Load() {
		t.Fatal("a dry-run stream that reported is not stopped")
	}
	due(g)
	if err := g.check(); err != nil || g.recheckAt.Load() != 1 {
		t.Errorf("a stopped dry-run stream was checked again (err %v, recheckAt moved to %d)", err, g.recheckAt.Load())
	}
	_ = g.finish(nil)
}

// ctxState is ctx and its decision, as open takes them.
func ctxState(ctx context.Context) (context.Context, *authState) { return ctx, stateFrom(ctx) }

// openGuard opens g, zero, as the guard of a stream of /t.S/M that e
// allowed for p (in dry-run or not), with parent's values, and returns
// the decision; the test fails if the stream needs no guard.
func openGuard(t *testing.T, g *streamGuard, parent context.Context, e *Enforcer, p *Principal, dryRun bool) *authState {
	t.Helper()
	ctx, st := ctxState(withState(parent, authState{rule: &Rule{FullMethod: "/t.S/M"}, principal: p, enf: e, dryRun: dryRun}))
	if !g.open(ctx, st) {
		t.Fatal("no guard for a principal that expires")
	}
	return st
}

// TestCoarseClock: the coarse clock answers 0 (read the clock) when it is
// not ticking and starts; then its readings are never ahead of the clock
// and at most a tick and a little behind it, for as long as it is read;
// left unread for a tick, it stops (0 again, its timer not set again);
// read again, it starts again. trusts a reading only more than
// coarseSlack before the instant, and never overflows at the ends.
func TestCoarseClock(t *testing.T) {
	var c coarseClock
	if n := c.load(); n != 0 {
		t.Fatalf("first load = %d; want 0 (not ticking)", n)
	}
	if c.now.Load() == 0 {
		t.Fatal("the first load did not start the coarse clock")
	}
	// Read for three ticks: every reading is behind the clock by less
	// than a tick and a margin for a slow machine, never ahead.
	for end := time.Now().Add(3 * coarseTick); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		before := time.Now()
		n := c.load()
		after := time.Now()
		switch {
		case n == 0:
			t.Fatal("load = 0 while read: the clock stopped")
		case n > after.UnixNano():
			t.Fatalf("reading %s is ahead of the clock (%s)", time.Unix(0, n).Format(time.StampMicro), after.Format(time.StampMicro))
		case before.Sub(time.Unix(0, n)) > coarseTick+200*time.Millisecond:
			t.Fatalf("reading is %s behind the clock; want at most about a tick (%s)", before.Sub(time.Unix(0, n)), coarseTick)
		}
	}
	n := c.load()
	if !trusts(n, n+coarseSlack+1) || trusts(n, n+coarseSlack) || trusts(n, math.MinInt64) || !trusts(n, math.MaxInt64) || trusts(0, math.MaxInt64) {
		t.Errorf("trusts misjudges an instant around the slack (%d), at the ends or without a reading", coarseSlack)
	}
	// Unread, it stops within two ticks.
	for deadline := time.Now().Add(10 * time.Second); c.now.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the unread coarse clock still ticks")
		}
	}
	time.Sleep(2 * coarseTick)
	if n := c.now.Load(); n != 0 {
		t.Fatalf("the stopped coarse clock ticked again: %d", n)
	}
	if n := c.load(); n != 0 {
		t.Fatalf("load after the stop = %d; want 0 (starting again)", n)
	}
	if n := c.load(); n == 0 {
		t.Fatal("the coarse clock did not start again")
	}
}

// TestGuardedReceiveIntoNilInPlace: a receive into a nil pointer, which
// nothing can be decoded into, runs in the handler's goroutine (where
// grpc-go's codec fails or panics as it does unguarded), not in a
// receiver, where a panic could not be recovered.
func TestGuardedReceiveIntoNilInPlace(t *testing.T) {
	g := &streamGuard{}
	g.dueAt.Store(math.MaxInt64)
	g.now = func() time.Time { return time.Unix(0, 0) }
	want := errors.New("the codec's error")
	var into any = "not called"
	err := g.receiveInto((*errdetails.ErrorInfo)(nil), func(fresh any) recvJob {
		return recvJob{g: g, call: func() error { into = fresh; return want }}
	})
	if !errors.Is(err, want) || into != any((*errdetails.ErrorInfo)(nil)) {
		t.Errorf("receive into nil: %v, into %v; want the codec's error, into the nil message", err, into)
	}
	if g.received != nil {
		t.Error("the receive into nil was handed to a receiver")
	}
}

// TestGuardDenialFarFromTheInstants: a stream ended by a recheck's denial
// is due for its next recheck later, often more than coarseSlack away, so
// the checks' fast path (quiet) must see the denial itself: every later
// send, the receive of a server-streaming method's request, and the
// handler's return give the denial, and no send reaches the underlying
// stream.
func TestGuardDenialFarFromTheInstants(t *testing.T) {
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sc := new(streamCall)
	g := &sc.guard
	st := openGuard(t, g, context.Background(), e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(time.Hour)}, false)
	g.inPlace = true
	for range 3 { // the first reads start the coarse clock and mark it read
		if err := g.check(); err != nil {
			t.Fatal(err)
		}
	}
	if !g.quiet() {
		t.Fatal("a guard an hour from either instant, on the system clock, is not quiet")
	}
	denial := NewError(ReasonTokenRevoked, "revoked")
	if d := g.trip(denial); d != denial {
		t.Fatalf("trip = %v", d)
	}
	if g.quiet() {
		t.Error("a guard with a denial is quiet")
	}
	s := &sc.stream
	*s = contextStream{ServerStream: receiveOnly{}, ctx: g, st: st, g: g} // a send that reaches it panics
	if err := s.SendMsg(nil); !errors.Is(err, denial) {
		t.Errorf("SendMsg after the denial = %v", err)
	}
	if err := s.RecvMsg(new(struct{})); !errors.Is(err, denial) {
		t.Errorf("the in-place RecvMsg after the denial = %v", err)
	}
	if err := g.check(); !errors.Is(err, denial) {
		t.Errorf("check after the denial = %v", err)
	}
	typed := &serverStreaming[struct{}]{g: g}
	if err := typed.Send(nil); !errors.Is(err, denial) {
		t.Errorf("a typed Send after the denial = %v", err)
	}
	if err := g.finish(nil); !errors.Is(err, denial) {
		t.Errorf("finish after the denial = %v", err)
	}
}

// receiveOnly is a server stream whose receives succeed at once; anything
// else of it panics (its ServerStream is nil).
type receiveOnly struct{ grpc.ServerStream }

func (receiveOnly) RecvMsg(any) error { return nil }

// TestGuardUnopenedAndBeyond2262: a StreamGuard that GuardStream did not
// open guards nothing, as a nil one does (its Receive panicked, in a
// context made from no parent); and on a clock of its own, a
// stream whose credential expires after 2262 (beyond what Unix
// nanoseconds hold) goes on before that instant and ends after it.
func TestGuardUnopenedAndBeyond2262(t *testing.T) {
	if err := new(StreamGuard).Check(); err != nil {
		t.Errorf("Check of a StreamGuard never opened = %v; want nil", err)
	}
	var into any
	if err := new(StreamGuard).Receive(new(struct{}), func(m any) error { into = m; return io.EOF }); !errors.Is(err, io.EOF) || into == nil {
		t.Errorf("Receive of a StreamGuard never opened = %v (received into %v); want the receive's io.EOF", err, into)
	}
	if err := new(StreamGuard).Finish(io.EOF); !errors.Is(err, io.EOF) {
		t.Errorf("Finish of a StreamGuard never opened = %v; want the handler's io.EOF", err)
	}
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(0))
	if err != nil {
		t.Fatal(err)
	}
	g := new(streamGuard)
	openGuard(t, g, context.Background(), e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Date(2290, 1, 1, 0, 0, 0, 0, time.UTC)}, false)
	now := time.Date(2280, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	if err := g.check(); err != nil {
		t.Fatalf("check ten years before the expiry = %v", err)
	}
	now = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	var d *Error
	if err := g.check(); !errors.As(err, &d) || d.Reason != ReasonTokenExpired {
		t.Errorf("check ten years after the expiry = %v; want TOKEN_EXPIRED", err)
	}
}

// denials counts the denials an enforcer reports.
type denials struct{ n atomic.Int32 }

func (d *denials) ObserveDecision(_ context.Context, o Observation) {
	if o.Outcome == OutcomeDeny {
		d.n.Add(1)
	}
}

// TestGuardFinishRacesTrip: the handler's return (finish, which takes no
// lock when the context was never derived) and the guard's end of the
// stream (trip, from another goroutine) agree on which came first, every
// time: either finish returns the handler's result and no denial is
// reported, or it returns the denial, reported once. A trip that lost
// reports nothing. It fails when trip reports before it claims the end,
// or finish returns before it claims it, or when finish decides by a
// load of the end before its compare-and-swap. The two goroutines meet
// at a spinning barrier and each then spins for a count that the
// iterations sweep, so that trip starts at each of finish's steps.
func TestGuardFinishRacesTrip(t *testing.T) {
	needsTwoProcs(t)
	obs := new(denials)
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(0), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	handlerErr := errors.New("the handler's result")
	var won [2]int
	for i := range 20000 {
		sc := new(streamCall)
		g := &sc.guard
		openGuard(t, g, context.Background(), e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(time.Hour)}, false)
		before := obs.n.Load()
		denial := NewError(ReasonTokenRevoked, "revoked")
		tripped := make(chan *Error, 1)
		var ready atomic.Int32
		go func() {
			meet(&ready, i%101)
			tripped <- g.trip(denial)
		}()
		meet(&ready, i/101%11)
		got := g.finish(handlerErr)
		d := <-tripped
		reported := obs.n.Load() - before
		switch {
		case errors.Is(got, handlerErr):
			won[0]++
			if d != nil || reported != 0 {
				t.Fatalf("finish returned the handler's result, but trip returned %v and %d denials were reported", d, reported)
			}
		case errors.Is(got, denial):
			won[1]++
			if d != denial || reported != 1 {
				t.Fatalf("finish returned the denial, but trip returned %v and %d denials were reported", d, reported)
			}
		default:
			t.Fatalf("finish = %v", got)
		}
		if g.end.Load() == endOpen {
			t.Fatal("the stream's end was not claimed")
		}
	}
	t.Logf("finish first %d times, trip first %d times", won[0], won[1])
	if won[0] == 0 || won[1] == 0 {
		t.Errorf("finish first %d times, trip first %d times: the race was not run both ways", won[0], won[1])
	}
}

// meet waits, spinning, until both goroutines of a race are at it, then
// spins on for n rounds: the races below sweep one goroutine's start
// across the other's steps (GOMAXPROCS permitting: with one, the
// scheduler alone decides).
func meet(ready *atomic.Int32, n int) {
	ready.Add(1)
	for spins := 0; ready.Load() < 2; spins++ {
		if spins > 100000 {
			goruntime.Gosched() // the other is not running: let it
		}
	}
	for range n {
		spinSink.Add(1)
	}
}

var spinSink atomic.Int32

// needsTwoProcs skips a race that one processor cannot run both ways.
func needsTwoProcs(t *testing.T) {
	if goruntime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS < 2: the two goroutines cannot run at once")
	}
}

// TestStreamCallSize: a stream's one allocation stays in the 256-byte size
// class (BENCHMARKS.md, round 7).
func TestStreamCallSize(t *testing.T) {
	if n := unsafe.Sizeof(streamCall{}); n > 256 {
		t.Errorf("streamCall is %d bytes; want at most 256", n)
	}
}

// TestGuardFinishRacesDerive: the handler's return and the first wait on
// its context (from another goroutine: a goroutine the handler started)
// leave the context cancelled and no timer running, whichever came first.
// finish takes no lock when it finds no context derived, so derive must
// find the stream finished then; it fails when derive looks at the end
// before it stores the context, or when finish looks for the context
// before it claims the end. The start of the wait is swept across
// finish's steps as in TestGuardFinishRacesTrip.
func TestGuardFinishRacesDerive(t *testing.T) {
	needsTwoProcs(t)
	e, err := NewEnforcer(WithLogger(nil), WithStreamRecheck(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		sc := new(streamCall)
		g := &sc.guard
		openGuard(t, g, context.Background(), e, &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(time.Hour)}, false)
		done := make(chan (<-chan struct{}), 1)
		var ready atomic.Int32
		go func() {
			meet(&ready, i%101)
			done <- g.Done()
		}()
		meet(&ready, i/101%11)
		if err := g.finish(nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-<-done:
		case <-time.After(2 * time.Second):
			t.Fatal("the handler returned, and its context is not cancelled")
		}
		g.mu.Lock()
		if g.timer != nil && g.timer.Stop() {
			t.Error("the handler returned, and the guard's timer still runs")
		}
		g.mu.Unlock()
	}
}
