// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoimpl"
)

// streamGuard ends an allowed stream when its credential expires, or when
// a recheck (every [WithStreamRecheck] interval) denies it: at that instant
// it cancels the handler's context with the denial as its cause, every
// later receive or send returns the denial, and the handler's result is
// replaced by it. One guard per stream with a principal that can expire or
// is rechecked; a public stream has none.
//
// A handler blocked in the underlying grpc-go RecvMsg is not woken by the
// cancellation of a context derived from the stream's: grpc-go ends that
// receive only when the stream finishes (the handler returned and its
// status is written, which cancels the transport stream) or the client or
// transport goes away. So a guarded receive runs the underlying RecvMsg in
// another goroutine, a receiver (startReceive: parked receivers are reused
// from one message to the next, across streams), and waits for it or for
// the denial, whichever is first. It is race-free because:
//
//   - at most one underlying receive is in flight: a receive starts one
//     only after the previous one's result was taken, or never again once
//     the guard has returned early, since it returns early only with the
//     denial set and every later receive returns the denial at once;
//   - the goroutine receives into a message of its own (a fresh one of the
//     caller's type, moved into the caller's on success in the caller's
//     goroutine), so nothing writes into a caller's message after the
//     receive returned;
//   - a goroutine left in the underlying RecvMsg ends as soon as the
//     handler returns: grpc-go writes the status, which cancels the
//     transport stream's context that its receive waits on. Its RecvMsg
//     then runs alongside grpc-go's end of the call, as a RecvMsg beside a
//     SendMsg does, and finds the status already written.
//
// The guard is the handler's context. It derives a cancellable context
// from Authorize's, and sets its one timer (time.AfterFunc, due at the
// expiry or the next recheck, whichever is first), only when something
// needs them: the first time anything waits on the handler's context or
// asks for its error (Done, Err: the handler itself, a client library it
// passes the context to, a context derived from it, a receive handed to a
// receiver), and when the guard trips. Until then the instants are
// checked by the clock at every receive and send and when the handler
// returns, and a recheck that is due runs there, in the handler's
// goroutine, and when the context is first asked for (Done, Err): a
// stream that nothing waits on cannot tell an instant kept by a timer from
// one kept so (only its denial is logged when the handler next receives,
// sends, looks at its context or returns, not at the instant). Most streams are
// over long before either instant, having paid for neither the context
// nor the timer: they were 3,300 instructions and 4 allocations of the
// 5,800 the guard cost each stream when both were made at its opening.
// Once derived, the timer keeps the instants, and it is stopped when the
// handler returns: nothing of a guard runs after its stream ended. The
// timer's rechecks run in its goroutine with the handler's context, which
// is cancelled when the handler returns.
type streamGuard struct {
	// st is the decision that opened the stream: its enforcer, rule,
	// principal, workload and dry-run, which nothing changes once the
	// stream is open; nil for a guard never opened, which guards nothing.
	// The stream's expiry is streamExpiry(st).
	st  *authState
	now func() time.Time // the clock of the authenticator that made the principal; nil: the system clock (see clock)

	// parent is the context Authorize returned. The guard's context is
	// parent's values, and the cancellable context derived from parent
	// once something waits on it (see derive).
	parent  context.Context
	derived atomic.Pointer[derivedContext]

	// recheckAt is when the next recheck is due, by the stream's clock in
	// Unix nanoseconds (0: none); a recheck is claimed by moving it on
	// (claimRecheck), so that each is run once. (One that outlasts the
	// interval can overlap the next; trip ends the stream once either
	// way.) dueAt is the earlier of it and the expiry: a check before dueAt
	// has nothing to do.
	recheckAt atomic.Int64
	dueAt     atomic.Int64

	// received is the result of the receive in flight, made at the first
	// receive that needs it. Receives do not run concurrently with each
	// other, so only the handler's goroutine sets it.
	received chan error
	// spare is the message the last receive was made into, emptied once
	// moved into the caller's, for the next receive into a message of its
	// type: only one that moves as a whole struct (see freshMessage) and
	// whose receive returned (nothing writes into it any more). Only the
	// handler's goroutine uses it: grpc-go forbids two receives at once
	// on a stream, and so does the guard (see received).
	spare any
	// denial ends the stream once set; it is set before ctx is cancelled
	// with it, so that a receive woken by the cancellation finds it.
	denial atomic.Pointer[Error]
	// ended is made, under mu, by a receive that waits on after the
	// handler's context ended without a denial (the client left, an outer
	// deadline), and closed by trip: the denial still ends that wait at
	// once.
	ended chan struct{}

	mu    sync.Mutex  // serialises trip, derive, the timer, and finish when it has any of them to stop
	timer *time.Timer // set when the context is derived

	// end is how the stream ended: endOpen until the handler returns
	// (finish) or the guard ends it (trip), whichever claims it first.
	// finish claims it without mu when the context was never derived:
	// then nothing of the guard is left to stop (see finish).
	end atomic.Int32

	// stopped: the stream's method runs in dry-run (st.dryRun) and trip
	// has reported the end it would make, once; the stream goes on,
	// unguarded from then on (set under mu: checks are not made, rechecks
	// not run).
	stopped atomic.Bool

	// inPlace: receives run in the handler's goroutine, into the caller's
	// message, and their result is checked when they return. Set for a
	// server-streaming method, whose one request grpc-go's generated
	// handler receives before the method's own code runs (the generated
	// typed wrappers get it already received, unguarded): a receive that
	// waits past the instant ends the stream when it returns (the client
	// sends the request or goes away), and nothing of the method has run
	// meanwhile, nor runs after; what the hand-over to a receiver would
	// buy, returning at the instant, matters only to code that waits in a
	// receive while it does other work, which that handler does not.
	inPlace bool
}

// How a guard's stream ended (streamGuard.end).
const (
	endOpen     = iota // neither yet
	endFinished        // the handler returned first
	endTripped         // the guard ended the stream first (not in dry-run)
)

// guardIn makes guard, zero and held by the stream's wrapper (one
// allocation for both), the guard of the stream whose context Authorize
// returned with the decision st, and returns the context the handler must
// run with and the guard; ctx and nil when the stream needs none or
// already has one (an interceptor guarded it before a generated wrapper
// ran). The handler's result must go through the guard's finish (a nil
// guard's returns it).
func guardIn(ctx context.Context, st *authState, guard *streamGuard) (context.Context, *streamGuard) {
	if !guard.open(ctx, st) {
		return ctx, nil
	}
	return guard, guard
}

// needsGuard reports whether the stream of the decision st needs a guard
// (an allowed principal whose credential expires, or rechecks) and has
// none yet.
func needsGuard(st *authState) bool {
	_, ok := guardDue(st)
	return ok
}

// guardDue is streamExpiry of st in Unix nanoseconds (math.MaxInt64 when
// it has none), and whether its stream needs a guard (see needsGuard).
// streamExpiry is called only for a stream with a workload, whose
// expiry is the earlier of two: open runs this for every stream.
func guardDue(st *authState) (int64, bool) {
	if st == nil || st.principal == nil || st.enf == nil || st.guard != nil {
		return 0, false
	}
	e := st.enf
	if e.noStreamExpiry {
		return math.MaxInt64, e.streamRecheck > 0
	}
	exp := st.principal.ExpiresAt
	if st.workload != nil {
		exp = streamExpiry(st)
	}
	if exp.IsZero() {
		return math.MaxInt64, e.streamRecheck > 0
	}
	return unixNano(exp), true
}

// streamExpiry is when the stream of st ends by its credentials: the end
// user's token or the workload's certificate, whichever ends first; zero
// when neither expires or streams outlive them (WithoutStreamExpiry).
func streamExpiry(st *authState) time.Time {
	if st.enf.noStreamExpiry {
		return time.Time{}
	}
	expiresAt := st.principal.ExpiresAt
	if w := st.workload; w != nil && !w.ExpiresAt.IsZero() && (expiresAt.IsZero() || w.ExpiresAt.Before(expiresAt)) {
		expiresAt = w.ExpiresAt
	}
	return expiresAt
}

// open makes g, zero, the guard of the stream whose context Authorize
// returned with the decision st, if it needs one (see needsGuard), and
// reports whether it does.
func (g *streamGuard) open(ctx context.Context, st *authState) bool {
	due, ok := guardDue(st)
	if !ok {
		return false
	}
	e := st.enf
	g.st, g.parent = st, ctx
	g.now = e.clockFor(st.principal.Kind)
	if e.streamRecheck > 0 {
		// On the system clock, from the coarse clock's reading: at most
		// a tick behind, which makes the first recheck due that much
		// early at most.
		var n int64
		if g.now == nil {
			n = coarse.load()
		}
		if n == 0 {
			n = unixNano(g.clock())
		}
		at := addNano(n, e.streamRecheck)
		g.recheckAt.Store(at)
		due = min(due, at)
	}
	g.dueAt.Store(due)
	st.guard = g
	return true
}

// derivedContext is the cancellable context of a guard, and its cancel.
type derivedContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// The guard is the handler's context: its values are Authorize's (those
// of the derived context, once there is one, are the same), and waiting on
// it or asking for its error derives it.
var _ context.Context = (*streamGuard)(nil)

func (g *streamGuard) Deadline() (time.Time, bool) { return g.parent.Deadline() }
func (g *streamGuard) String() string              { return "grpcauth stream context" }

// Done derives the context. It checks the stream first, as a receive or a
// send does: a context first waited on after the expiry, or when a
// recheck is due (which runs then), is done already if that ends the
// stream, as it would be had the timer kept the instants from the start.
func (g *streamGuard) Done() <-chan struct{} {
	if d := g.derived.Load(); d != nil {
		return d.ctx.Done()
	}
	_ = g.check()
	return g.derive().ctx.Done()
}

// Err is Done's context's error; it checks the stream first as Done does.
func (g *streamGuard) Err() error {
	if d := g.derived.Load(); d != nil {
		return d.ctx.Err()
	}
	_ = g.check()
	return g.derive().ctx.Err()
}

// Value is parent's value for key; once the context is derived, the
// derived one's, so that context.Cause finds its cause, and a context
// derived from the handler's is cancelled with it, without a goroutine.
// (Both ask Err or Done first, which derive it.)
func (g *streamGuard) Value(key any) any {
	if _, ok := key.(authStateKey); ok && g.st != nil {
		return g.st // what parent's, and so the derived one's, is
	}
	if d := g.derived.Load(); d != nil {
		return d.ctx.Value(key)
	}
	return g.parent.Value(key)
}

// derive returns the guard's cancellable context, deriving it from parent
// and setting the timer when it is asked for the first time.
func (g *streamGuard) derive() *derivedContext {
	if d := g.derived.Load(); d != nil {
		return d
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deriveLocked()
}

// deriveLocked is derive with g.mu held. A context derived after the
// guard tripped is cancelled with the denial, one derived after the
// handler returned is cancelled; otherwise the timer is set.
func (g *streamGuard) deriveLocked() *derivedContext {
	if d := g.derived.Load(); d != nil {
		return d
	}
	ctx, cancel := context.WithCancelCause(g.parent)
	d := &derivedContext{ctx: ctx, cancel: cancel}
	g.derived.Store(d)
	switch derr := g.denial.Load(); {
	case derr != nil:
		cancel(derr)
	case g.end.Load() == endFinished:
		// After derived is stored: a finish that claimed the end before
		// is seen here, one after it sees derived and stops the timer.
		cancel(nil)
	case g.stopped.Load():
		// A dry-run stream reports the end it would make once; then
		// nothing is left to time.
	default:
		g.timer = time.AfterFunc(g.untilNext(g.clock()), g.fire)
	}
	return d
}

// claimRecheck reports whether a recheck is due at now, and if so moves
// the next one on by the interval: the caller runs this one.
func (g *streamGuard) claimRecheck(now time.Time) bool {
	at := g.recheckAt.Load()
	if at == 0 || unixNano(now) < at {
		return false
	}
	next := addNano(unixNano(now), g.st.enf.streamRecheck)
	if !g.recheckAt.CompareAndSwap(at, next) {
		return false
	}
	if exp := streamExpiry(g.st); !exp.IsZero() {
		next = min(next, unixNano(exp))
	}
	g.dueAt.Store(next)
	return true
}

// untilNext returns how long from now the timer is next due.
func (g *streamGuard) untilNext(now time.Time) time.Duration {
	due, n := g.dueAt.Load(), unixNano(now)
	if n < 0 && due > math.MaxInt64+n {
		return math.MaxInt64 // the difference overflows: as good as never
	}
	return time.Duration(due - n)
}

// The instants that Unix nanoseconds can hold (1677 to 2262); the whole
// seconds within them, either way, are fewer than maxUnixSec.
const maxUnixSec = math.MaxInt64 / int64(time.Second)

var (
	maxUnixNano = time.Unix(0, math.MaxInt64)
	minUnixNano = time.Unix(0, math.MinInt64)
)

// unixNano is t in Unix nanoseconds, saturated at the ends of what an
// int64 holds: t.UnixNano is undefined beyond them, and a credential may
// well expire after 2262 (RFC 5280's 99991231235959Z, a certificate that
// has no expiry), which must not wrap to a date in the past. Every
// instant a clock reads, and every expiry before 2262, is its first case.
func unixNano(t time.Time) int64 {
	if s := t.Unix(); s > -maxUnixSec && s < maxUnixSec { // one unsigned comparison, as compiled
		return s*int64(time.Second) + int64(t.Nanosecond())
	}
	return unixNanoEdge(t)
}

// unixNanoEdge is unixNano of an instant near or beyond the ends.
func unixNanoEdge(t time.Time) int64 {
	switch {
	case t.After(maxUnixNano):
		return math.MaxInt64
	case t.Before(minUnixNano):
		return math.MinInt64
	}
	return t.UnixNano()
}

// addNano is n+d, Unix nanoseconds and a positive duration, saturated.
func addNano(n int64, d time.Duration) int64 {
	if n > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return n + int64(d)
}

// clock is the stream's clock: its authenticator's, or the system clock.
func (g *streamGuard) clock() time.Time {
	if g.now == nil {
		return time.Now()
	}
	return g.now()
}

// fire runs when the timer is due: it ends an expired stream, rechecks one
// whose recheck is due, and sets the timer again. The timer is set again
// only at its end, so fire never runs twice at once.
func (g *streamGuard) fire() {
	now := g.clock()
	if g.expired(now) {
		_ = g.trip(tokenExpired()) // the handler sees it through its context
		return
	}
	if g.claimRecheck(now) {
		if derr := g.recheck(); derr != nil {
			_ = g.trip(derr)
			return
		}
		now = g.clock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.end.Load() != endOpen || g.denial.Load() != nil || g.stopped.Load() {
		return
	}
	// Early for the expiry when the clock and the timer disagree: the
	// timer waits for the rest.
	g.timer.Reset(g.untilNext(now))
}

// recheck decides the stream's rule again with the credential it was
// opened with, taken again from the stream's metadata and connection by
// the handler's context, and returns the denial if there is one.
func (g *streamGuard) recheck() *Error {
	_, derr := g.st.enf.decide(g, g.st.rule)
	if derr == nil {
		return nil
	}
	switch {
	case g.ending():
		return nil // the stream is ending: the handler returned, or its caller left
	case derr.Code == codes.Canceled || derr.Code == codes.DeadlineExceeded:
		// The authenticator's own timeout, not the stream's: its backend
		// did not answer.
		derr = NewError(ReasonAuthBackendUnavailable, "the credential could not be checked again; reopen the stream later").WithCause(derr)
	case derr.Reason == ReasonTokenExpired && g.st.enf.noStreamExpiry:
		return nil // WithoutStreamExpiry: streams outlive their credential
	}
	if derr.Detail == "" {
		derr.Detail = "recheck of an open stream"
	} else {
		derr.Detail = "recheck of an open stream: " + derr.Detail
	}
	return derr
}

// ending reports whether the handler's context has ended (without
// deriving it): the handler returned, or its caller left.
func (g *streamGuard) ending() bool {
	if d := g.derived.Load(); d != nil {
		return d.ctx.Err() != nil
	}
	return g.end.Load() == endFinished || g.parent.Err() != nil
}

// expired reports whether the stream's credential has expired at now,
// by time.Time's comparison: exact beyond the instants Unix nanoseconds
// hold, and by the monotonic clock when both instants carry it.
func (g *streamGuard) expired(now time.Time) bool {
	exp := streamExpiry(g.st)
	return !exp.IsZero() && !now.Before(exp)
}

func tokenExpired() *Error {
	return NewError(ReasonTokenExpired, "the credential expired during the stream; reopen it with a fresh one")
}

// trip ends the stream with derr, once: it logs and audits the denial,
// cancels the handler's context with it as the cause, and makes every
// later receive and send return it. It returns the denial that ended the
// stream, or nil when the handler has already returned.
func (g *streamGuard) trip(derr *Error) *Error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := g.denial.Load(); d != nil {
		return d
	}
	if g.end.Load() == endFinished {
		return nil
	}
	// The reports take parent, whose values the handler's context has:
	// g.mu is held, and the guard's own Done and Err take it.
	st := g.st
	c := caller{kind: st.principal.Kind, principal: st.principal, workload: st.workload}
	if st.dryRun {
		// Dry-run: the stream goes on; the end it would make is reported
		// once, and the guard stops.
		if !g.stopped.Load() {
			g.stopped.Store(true)
			if g.timer != nil {
				g.timer.Stop()
			}
			st.enf.report(g.parent, &verdict{rule: st.rule, c: c, err: derr, outcome: OutcomeWouldDeny, dryRun: true})
		}
		return nil
	}
	// The stream's end is claimed first: a finish that claims it
	// meanwhile has the handler's result returned, and nothing is
	// reported; one that comes after waits on mu for the denial.
	if !g.end.CompareAndSwap(endOpen, endTripped) {
		return nil
	}
	// deny annotates derr: it is not shared before it is stored.
	st.enf.deny(g.parent, st.rule, c, derr)
	g.denial.Store(derr)
	if d := g.derived.Load(); d != nil {
		d.cancel(derr)
	} else {
		g.deriveLocked() // cancelled with the denial
	}
	if g.ended != nil {
		close(g.ended)
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	return derr
}

// check returns the denial if the stream has been ended, or is due to end
// by the clock. A nil guard checks nothing.
func (g *streamGuard) check() error {
	if g.quiet() {
		return nil
	}
	return g.checkSlow()
}

// quiet reports whether a check of g has nothing to do: g is nil, or on
// the system clock with no denial and more than coarseSlack before either
// instant by a reading of the coarse clock marked read. Anything else
// (another clock, a reading not marked read, which checkSlow's
// coarse.load marks, a dry-run stream that stopped) is for checkSlow.
// check is over the inliner's budget and quiet is not, so where streams
// receive and send, and where the handler returns, the code tests quiet
// and calls checkSlow only when it is false.
func (g *streamGuard) quiet() bool {
	if g == nil {
		return true
	}
	n := coarse.now.Load()
	return n&1 != 0 && g.now == nil && n+coarseSlack < g.dueAt.Load() && g.denial.Load() == nil
}

// checkSlow is check of a guard that is not quiet.
func (g *streamGuard) checkSlow() error {
	if g.st == nil {
		return nil // never opened: a StreamGuard not made by GuardStream
	}
	if d := g.denial.Load(); d != nil {
		return d
	}
	if g.stopped.Load() {
		return nil // a dry-run stream that reported the end it would make
	}
	due := g.dueAt.Load()
	if g.now == nil && trusts(coarse.load(), due) {
		return nil // more than coarseSlack before either instant
	}
	now := g.clock()
	if unixNano(now) < due {
		return nil
	}
	if g.expired(now) {
		return g.tripped(g.trip(tokenExpired()))
	}
	// A recheck that is due runs here while no timer runs them (the
	// context is not derived yet).
	if g.derived.Load() == nil && g.claimRecheck(now) {
		if derr := g.recheck(); derr != nil {
			return g.tripped(g.trip(derr))
		}
	}
	return nil
}

// tripped is the error of a check whose trip returned d: nil when the
// stream goes on (dry-run) or the handler has returned.
func (g *streamGuard) tripped(d *Error) error {
	if d == nil {
		return nil
	}
	return d
}

// receive runs call, an underlying receive, unless the stream has ended,
// and returns its error; it returns the denial instead as soon as the
// stream is ended while call waits, and when the stream was ended by the
// time call returned (the message, if any, is dropped). call must not
// write where the caller can see after receive returned early.
func (g *streamGuard) receive(call func() error) error {
	if !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	g.startReceive(recvJob{g: g, call: call})
	return g.await()
}

// recvMsg is RecvMsg of ss into the caller's m, through receive: the
// message is received into a fresh one of m's type and moved into m on
// success.
func (g *streamGuard) recvMsg(ss grpc.ServerStream, m any) error {
	if g.inPlace {
		// Checked when it returns: nothing of the method has run before.
		return g.received1(ss.RecvMsg(m))
	}
	return g.receiveInto(m, func(fresh any) recvJob { return recvJob{g: g, ss: ss, m: fresh} })
}

// receiveInto is a guarded receive into m, unless the stream has ended,
// as receive runs one: job(fresh) is the underlying receive into fresh, a
// message of m's type made for it or kept from the last receive (spare),
// moved into m on success.
func (g *streamGuard) receiveInto(m any, job func(fresh any) recvJob) error {
	if !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		// Nothing can be decoded into it: grpc-go's codec fails or
		// panics, as it does unguarded, here in the handler's goroutine.
		j := job(m)
		return g.received1(j.do())
	}
	fresh, whole, ok := g.spare, true, true
	if fresh == nil || reflect.TypeOf(fresh) != reflect.TypeOf(m) {
		fresh, whole, ok = freshMessage(m)
		if !ok { // not a pointer: nothing can be decoded into it anyway
			fresh = m
		}
	}
	g.spare = nil // until its receive returned: one returned early may still write into it
	g.startReceive(job(fresh))
	if err := g.await(); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	moveMessage(m, fresh, whole)
	if whole {
		// Emptied, so that a codec that decodes into what a message
		// holds (encoding/json does) cannot write into m's.
		reflect.ValueOf(fresh).Elem().SetZero()
		g.spare = fresh
	}
	return nil
}

// recvJob is an underlying receive for a guard: RecvMsg(m) of ss, or call.
type recvJob struct {
	g    *streamGuard
	ss   grpc.ServerStream
	m    any
	call func() error
}

// run is the receive of j, in a receiver: its result goes to the guard.
// (A receive in flight shows this method in a goroutine dump; a parked
// receiver does not.)
func (g *streamGuard) run(j *recvJob) {
	g.received <- j.do() // buffered for one: never blocks
}

// do is the receive of j.
func (j *recvJob) do() error {
	if j.call != nil {
		return j.call()
	}
	return j.ss.RecvMsg(j.m)
}

// receivers hands receives to parked receiver goroutines. It is
// unbuffered: a send succeeds only when a receiver is waiting for one.
var receivers = make(chan recvJob)

// receiverIdle is how long a receiver waits for another receive before it
// exits.
const receiverIdle = time.Second

// startReceive runs j, a receive of g, in a parked receiver, or in a new one when none is
// waiting. A receive runs apart from the handler so that the guard can
// return the denial while it waits (see streamGuard); receivers are kept
// for the next receive because a new goroutine per message costs its
// creation and the growth of a fresh stack to the depth of grpc-go's
// receive, about 9,000 instructions a message, where a hand-over to a
// parked one costs a channel send.
func (g *streamGuard) startReceive(j recvJob) {
	if g.received == nil {
		g.received = make(chan error, 1)
	}
	select {
	case receivers <- j:
	default:
		go receiver(j)
	}
}

// receiver runs j, then the receives handed to it, and exits once it has
// waited receiverIdle without one. It holds nothing of a finished receive
// while it waits.
func receiver(j recvJob) {
	j.g.run(&j)
	j = recvJob{}
	idle := time.NewTimer(receiverIdle)
	defer idle.Stop()
	used := false
	for {
		select {
		case j = <-receivers:
			j.g.run(&j)
			j = recvJob{}
			used = true
		case <-idle.C:
			if !used {
				return
			}
			used = false
			idle.Reset(receiverIdle)
		}
	}
}

// await waits for the receive in flight or the end of the stream.
func (g *streamGuard) await() error {
	select {
	case err := <-g.received:
		return g.received1(err)
	case <-g.Done():
		if d := g.denial.Load(); d != nil {
			return d
		}
	}
	// The handler's context ended otherwise (the client left, a deadline of
	// the stream's or of an interceptor's passed): the receive returns, or
	// the guard ends the stream meanwhile, whichever is first.
	g.mu.Lock()
	if g.ended == nil {
		g.ended = make(chan struct{})
	}
	ended := g.ended
	g.mu.Unlock()
	if d := g.denial.Load(); d != nil {
		return d
	}
	select {
	case err := <-g.received:
		return g.received1(err)
	case <-ended:
		return g.denial.Load()
	}
}

// received1 is the result of a receive that returned err: the denial if
// the stream was ended by then (a message received is dropped), else err.
func (g *streamGuard) received1(err error) error {
	if !g.quiet() {
		if derr := g.checkSlow(); derr != nil {
			return derr
		}
	}
	return err
}

// freshMessage returns a new, empty message of m's type, and whether it
// moves into m as a whole struct (moveMessage); false when m is not a
// pointer (receiveInto takes a nil pointer apart). A protobuf message is made by its type (dynamicpb's too); it
// moves whole when it is a struct generated by protoc-gen-go, which a zero
// struct also makes and which holds nothing that points into itself.
// Anything else that is a pointer (gogo or golang/protobuf v1 structs,
// messages of other codecs) is a zero struct and moves whole.
func freshMessage(m any) (fresh any, whole, ok bool) {
	if pm, isProto := m.(proto.Message); isProto {
		fresh := pm.ProtoReflect().New().Interface()
		t := reflect.TypeOf(m)
		return fresh, reflect.TypeOf(fresh) == t && generated(t), true
	}
	t := reflect.TypeOf(m)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, false, false
	}
	return reflect.New(t.Elem()).Interface(), true, true
}

// messageState is the type of the first field of every message struct
// protoc-gen-go generates (open and opaque API alike).
var messageState = reflect.TypeFor[protoimpl.MessageState]()

// generated reports whether t is a pointer to a struct protoc-gen-go
// generated.
func generated(t reflect.Type) bool {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return false
	}
	s := t.Elem()
	return s.NumField() > 0 && s.Field(0).Type == messageState
}

// moveMessage makes dst what src, a fresh message of dst's type
// (freshMessage), is, as decoding into dst would have (a codec replaces
// what dst held). whole: src's struct, protobuf-go's state and unknown
// fields included, is moved into dst, so no field is copied however
// large; src is not used afterwards but emptied, and nothing else uses
// either meanwhile, which is what protobuf-go's rule against copying
// messages is about (a copy whose original another goroutine may be
// using). Otherwise (dynamicpb, a message of its own making) src's fields
// are set in dst one by one, and src is not used again.
func moveMessage(dst, src any, whole bool) {
	if whole {
		reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
		return
	}
	pm := dst.(proto.Message)
	d, from := pm.ProtoReflect(), src.(proto.Message).ProtoReflect()
	proto.Reset(pm)
	from.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
	if u := from.GetUnknown(); len(u) > 0 {
		d.SetUnknown(u)
	}
}

// finish is called with the handler's result when it returns: it stops
// the timer, releases the handler's context, and returns the denial in
// place of err when the guard ended the stream, whatever the handler made
// of it (ctx.Err(), an error of its own, or nil).
//
// A stream whose context was never derived has no timer and no context
// to release, and most end so: finish then claims the stream's end with
// one compare-and-swap, without mu. That orders it with a trip, which
// claims the end with the same swap before it reports anything, and with
// a derive, which stores the context before it looks at the end (finish
// looks at the context after its swap). A dry-run stream takes mu, which
// orders it with the end a trip reports but does not make.
func (g *streamGuard) finish(err error) error {
	if g == nil {
		return err
	}
	// An instant may have passed since the last receive or send with no
	// timer to keep it (nothing waited on the context), or a timer yet to
	// fire.
	if !g.quiet() {
		_ = g.checkSlow()
	}
	if st := g.st; st != nil && !st.dryRun && g.end.CompareAndSwap(endOpen, endFinished) && g.derived.Load() == nil {
		return err
	}
	return g.finishSlow(err)
}

// finishSlow is finish of a stream that has a context derived, was ended
// by the guard, runs in dry-run, or was never opened.
func (g *streamGuard) finishSlow(err error) error {
	g.mu.Lock()
	g.end.CompareAndSwap(endOpen, endFinished)
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
	if d := g.derived.Load(); d != nil {
		d.cancel(nil)
	}
	if d := g.denial.Load(); d != nil {
		return d
	}
	return err
}
