// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

// ErrUnavailable is returned by Revoked while the mirror is not known to
// be current (before its first sync, and once Redis is lost beyond
// [MaxStaleness]); the enforcer fails the call closed with UNAVAILABLE
// AUTH_BACKEND_UNAVAILABLE. RevokeToken and RevokeSubject wrap it when
// Redis did not take the revocation.
var ErrUnavailable = errors.New("redisstore: revocations unavailable")

// ErrClosed is returned by [Revocations.WaitSynced] once the store is closed.
var ErrClosed = errors.New("redisstore: closed")

// State is where a [Revocations] store stands with Redis.
type State int32

const (
	// Starting: not yet synchronised with Redis. Revoked fails.
	Starting State = iota
	// Synced: subscribed, and the mirror loaded since. Revoked answers.
	Synced
	// Stale: Redis lost, the mirror answers within MaxStaleness.
	Stale
	// Unavailable: Redis lost beyond MaxStaleness, or the mirror cannot
	// hold every entry. Revoked fails.
	Unavailable
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Synced:
		return "synced"
	case Stale:
		return "stale"
	case Unavailable:
		return "unavailable"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Stats is a snapshot of a store, for logs, health checks and metrics.
type Stats struct {
	// State is where the store stands; Revoked answers in Synced and
	// Stale only.
	State State
	// Connected is whether the subscription is up.
	Connected bool
	// Tokens and Subjects are the mirror's entries.
	Tokens, Subjects int
	// Messages counts revocations received by pub/sub and mirrored.
	Messages int64
	// Resyncs counts complete loads of the mirror from Redis.
	Resyncs int64
	// WriteBacks counts entries the mirror wrote back to Redis, which had
	// lost them (a restart) or never got them (a write that failed).
	WriteBacks int64
	// Errors counts failed Redis operations and malformed data.
	Errors int64
	// LastSync is when the mirror was last loaded in full.
	LastSync time.Time
	// LastHeard is when Redis last answered on the subscription: the
	// mirror is known current up to then.
	LastHeard time.Time
}

// Revocations is a [runtime.RevocationStore] shared by the replicas of a
// service through Redis. Writes go to Redis and are published; each
// replica keeps a local mirror (a revocation.Memory) fed by the
// subscription, so that Revoked never waits on the network. The mirror is
// loaded in full when the store starts and after every (re)subscription,
// and every ResyncInterval; entries it holds that Redis lost are written
// back. See the package documentation for the guarantees. It is safe for
// concurrent use; Close it when done.
type Revocations struct {
	client redis.UniversalClient
	cfg    config
	keys   layout
	mirror *revocation.Memory

	state     atomic.Int32
	connected atomic.Bool
	dirty     atomic.Bool // a local revocation may be missing from Redis
	lastSync  atomic.Int64
	lastHeard atomic.Int64
	messages  atomic.Int64
	resyncs   atomic.Int64
	written   atomic.Int64
	errs      atomic.Int64

	mu       sync.Mutex
	staleGen int           // ends a stale period's timer when another one begins
	ps       *redis.PubSub // the session's subscription, closed by Close
	closed   bool

	synced     chan struct{}
	syncedOnce sync.Once
	cancel     context.CancelFunc
	done       chan struct{}
}

var _ runtime.RevocationStore = (*Revocations)(nil)

// NewRevocations returns a store on client and starts synchronising its
// mirror in the background; until the first sync, Revoked fails (see
// [Revocations.WaitSynced]). The client is the caller's: Close does not
// close it. Give it a short DialTimeout: a reconnection waits for it.
// Errors wrap [ErrInvalidOption].
func NewRevocations(client redis.UniversalClient, opts ...Option) (*Revocations, error) {
	if client == nil {
		return nil, errorf("nil client")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	mirror, err := revocation.NewMemory(revocation.Grace(cfg.grace), revocation.SubjectRetention(cfg.retention), revocation.MaxEntries(cfg.maxEntries))
	if err != nil {
		return nil, errorf("%w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Revocations{
		client: client, cfg: cfg, keys: newLayout(cfg.prefix), mirror: mirror,
		synced: make(chan struct{}), cancel: cancel, done: make(chan struct{}),
	}
	go r.run(ctx)
	return r, nil
}

// Close stops the background synchronisation and waits for it to end.
// Revoked fails afterwards.
func (r *Revocations) Close() error {
	r.cancel()
	r.mu.Lock()
	r.closed = true
	if r.ps != nil {
		_ = r.ps.Close() // a receive waiting on it returns now
	}
	r.mu.Unlock()
	<-r.done
	return nil
}

// WaitSynced waits until the mirror is first in sync with Redis, ctx ends
// or the store is closed. A server may call it before serving, so that no
// call is refused while the store starts.
func (r *Revocations) WaitSynced(ctx context.Context) error {
	select {
	case <-r.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return ErrClosed
	}
}

// Revoked answers from the mirror without a network round trip: an atomic
// load, then [revocation.Memory.Revoked]. It fails with [ErrUnavailable]
// while the mirror is not known current (see [MaxStaleness]).
func (r *Revocations) Revoked(iss, sub, jti string, issuedAt time.Time) (bool, error) {
	if s := State(r.state.Load()); s != Synced && s != Stale {
		return false, ErrUnavailable
	}
	return r.mirror.Revoked(iss, sub, jti, issuedAt)
}

// RevokeToken revokes the token of iss with ID jti until its exp, until,
// plus the grace period, on every replica. The mirror takes it first, so
// this replica enforces it at once; then Redis does, and publishes it.
// When Redis does not take it, the error wraps [ErrUnavailable]: the
// revocation holds on this replica only, and is written back to Redis by
// the next resync that can reach it (unless this replica stops first).
// It fails with revocation.ErrFull when the mirror is full.
func (r *Revocations) RevokeToken(ctx context.Context, iss, jti string, until time.Time) error {
	if iss == "" || jti == "" {
		return fmt.Errorf("%w: RevokeToken needs an issuer and a jti", revocation.ErrInvalidRevocation)
	}
	now := time.Now()
	drop := until.Add(r.cfg.grace)
	if !drop.After(now) {
		return nil
	}
	if err := r.mirror.PutToken(iss, jti, drop); err != nil {
		return err
	}
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	err := revokeTokenScript.Run(ctx, r.client, []string{r.keys.tokens}, ceilMilli(drop), id(iss, jti), now.UnixMilli(), r.keys.channel).Err()
	return r.written1(err)
}

// RevokeSubject revokes every token of iss and sub issued before before
// (by iat), on every replica, as [Revocations.RevokeToken] does. The
// entry is kept until before plus the subject retention.
func (r *Revocations) RevokeSubject(ctx context.Context, iss, sub string, before time.Time) error {
	if iss == "" || sub == "" {
		return fmt.Errorf("%w: RevokeSubject needs an issuer and a subject", revocation.ErrInvalidRevocation)
	}
	now := time.Now()
	drop := before.Add(r.cfg.retention)
	if !drop.After(now) {
		return nil
	}
	// Stored in µs rounded up: a token issued in the same microsecond, a
	// hair after before, is refused too, never the other way round.
	before = time.UnixMicro(ceilMicro(before))
	if err := r.mirror.PutSubject(iss, sub, before, drop); err != nil {
		return err
	}
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	err := revokeSubjectScript.Run(ctx, r.client, []string{r.keys.subjects, r.keys.subjectsDrop},
		id(iss, sub), before.UnixMicro(), ceilMilli(drop), now.UnixMilli(), r.keys.channel).Err()
	return r.written1(err)
}

func (r *Revocations) written1(err error) error {
	if err == nil {
		return nil
	}
	r.dirty.Store(true)
	r.errs.Add(1)
	r.log(slog.LevelWarn, "grpcauth redisstore: a revocation was not written to Redis; it holds on this replica and will be written back", slog.String("error", err.Error()))
	return fmt.Errorf("%w: the revocation holds on this replica only until Redis takes it: %w", ErrUnavailable, err)
}

// opContext bounds ctx by the Timeout unless it ends sooner.
func (r *Revocations) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < r.cfg.timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.cfg.timeout)
}

// Stats returns a snapshot of the store.
func (r *Revocations) Stats() Stats {
	tok, sub := r.mirror.Len()
	return Stats{
		State:      State(r.state.Load()),
		Connected:  r.connected.Load(),
		Tokens:     tok,
		Subjects:   sub,
		Messages:   r.messages.Load(),
		Resyncs:    r.resyncs.Load(),
		WriteBacks: r.written.Load(),
		Errors:     r.errs.Load(),
		LastSync:   unixNano(r.lastSync.Load()),
		LastHeard:  unixNano(r.lastHeard.Load()),
	}
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (r *Revocations) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if r.cfg.logger == nil {
		return
	}
	attrs = append(attrs, slog.String("prefix", r.cfg.prefix))
	r.cfg.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// Backoff between attempts to reach Redis.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// run keeps the mirror in sync until ctx ends: one session per
// subscription, and a new one, after a backoff, when a session loses
// Redis.
func (r *Revocations) run(ctx context.Context) {
	defer close(r.done)
	defer r.state.Store(int32(Unavailable))
	backoff := minBackoff
	for ctx.Err() == nil {
		reached, err := r.session(ctx)
		r.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		r.errs.Add(1)
		r.lost(err)
		if reached {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// writeBackMargin: entries due within it are not written back, nor
// counted as missing from Redis. It covers the rounding of drop times to
// seconds in the mirror and the skew between replicas' clocks.
const writeBackMargin = 5 * time.Second

var errHealth = errors.New("the subscription did not answer a health check")

// session subscribes, loads the mirror and applies what the subscription
// brings until Redis is lost. It reports whether it got in sync.
func (r *Revocations) session(ctx context.Context) (bool, error) {
	ps := r.client.Subscribe(ctx)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ps.Close()
		return false, ctx.Err()
	}
	r.ps = ps
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.ps = nil
		r.mu.Unlock()
		_ = ps.Close()
	}()
	if err := ps.Subscribe(ctx, r.keys.channel); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	// Subscribed before loading: what is published during the load waits
	// on the connection and is applied after it (applying twice is
	// harmless), so nothing written meanwhile is missed.
	msg, err := ps.ReceiveTimeout(ctx, r.cfg.timeout)
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		return false, fmt.Errorf("subscribe: unexpected %T", msg)
	}
	r.connected.Store(true)
	r.heard(time.Now())
	if err := r.resync(ctx); err != nil {
		return false, err
	}
	nextResync := time.Now().Add(r.cfg.resync)
	var pingSent time.Time
	for {
		wait := r.cfg.health
		if d := time.Until(nextResync); d < wait {
			wait = max(d, time.Millisecond)
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		now := time.Now()
		switch {
		case err == nil:
			r.heard(now)
			pingSent = time.Time{}
			switch m := msg.(type) {
			case *redis.Message:
				if r.apply(m.Payload) {
					// Entries were written back elsewhere: reload soon,
					// once for a burst of such messages.
					nextResync = minTime(nextResync, now.Add(time.Second))
				}
			case *redis.Subscription:
				// go-redis subscribed again on a new connection: messages
				// may have been lost in between.
				nextResync = now
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case !isTimeout(err):
			return true, err
		case !pingSent.IsZero():
			if now.Sub(pingSent) >= r.cfg.health {
				return true, errHealth
			}
		case now.Sub(unixNano(r.lastHeard.Load())) >= r.cfg.health:
			if err := ps.Ping(ctx); err != nil {
				return true, fmt.Errorf("health check: %w", err)
			}
			pingSent = now
		}
		if !now.Before(nextResync) {
			if err := r.resync(ctx); err != nil {
				return true, err
			}
			nextResync = time.Now().Add(r.cfg.resync)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (r *Revocations) heard(now time.Time) { r.lastHeard.Store(now.UnixNano()) }

// apply mirrors one published message. It reports whether the message
// asks for a resync.
func (r *Revocations) apply(payload string) (resync bool) {
	kind, rest, _ := strings.Cut(payload, " ")
	var err error
	switch kind {
	case "r":
		return true
	case "t":
		var drop, ident string
		drop, ident, _ = strings.Cut(rest, " ")
		err = r.putToken(ident, drop)
	case "s":
		b, more, _ := strings.Cut(rest, " ")
		d, ident, _ := strings.Cut(more, " ")
		err = r.putSubject(ident, b+" "+d)
	default:
		err = errMalformed
	}
	if err != nil {
		r.malformed(err)
		return false
	}
	r.messages.Add(1)
	return false
}

func (r *Revocations) malformed(err error) {
	r.errs.Add(1)
	if errors.Is(err, revocation.ErrFull) {
		r.full()
		return
	}
	r.log(slog.LevelWarn, "grpcauth redisstore: ignored a malformed entry or message", slog.String("error", err.Error()))
}

// full fails the store closed: the mirror cannot hold every revocation, so
// it cannot say that a token is not revoked. The next resync retries.
func (r *Revocations) full() {
	if State(r.state.Swap(int32(Unavailable))) != Unavailable {
		r.log(slog.LevelError, "grpcauth redisstore: the mirror is full (MaxEntries); failing JWT calls closed until entries expire")
	}
}

func (r *Revocations) putToken(ident, dropMs string) error {
	iss, jti, err := parseID(ident)
	if err != nil || iss == "" || jti == "" {
		return errMalformed
	}
	ms, err := strconv.ParseFloat(dropMs, 64)
	if err != nil {
		return errMalformed
	}
	return r.mirror.PutToken(iss, jti, time.UnixMilli(int64(ms)))
}

func (r *Revocations) putSubject(ident, value string) error {
	iss, sub, err := parseID(ident)
	if err != nil || iss == "" || sub == "" {
		return errMalformed
	}
	before, drop, err := parseSubjectValue(value)
	if err != nil {
		return err
	}
	return r.mirror.PutSubject(iss, sub, before, drop)
}

// resync loads every entry of Redis into the mirror, writes back what the
// mirror holds and Redis lacks, and marks the mirror in sync.
func (r *Revocations) resync(ctx context.Context) error {
	now := time.Now()
	opCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	counts, err := trimScript.Run(opCtx, r.client, []string{r.keys.tokens, r.keys.subjects, r.keys.subjectsDrop}, now.UnixMilli()).Int64Slice()
	cancel()
	if err != nil || len(counts) != 2 {
		return fmt.Errorf("resync: trim: %w", err)
	}
	complete := true
	var cursor uint64
	for {
		var page []string
		opCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
		page, cursor, err = r.client.ZScan(opCtx, r.keys.tokens, cursor, "", 1000).Result()
		cancel()
		if err != nil {
			return fmt.Errorf("resync: tokens: %w", err)
		}
		for i := 0; i+1 < len(page); i += 2 {
			if err := r.putToken(page[i], page[i+1]); err != nil {
				complete = complete && !errors.Is(err, revocation.ErrFull)
				r.malformed(err)
			}
		}
		if cursor == 0 {
			break
		}
	}
	for {
		var page []string
		opCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
		page, cursor, err = r.client.HScan(opCtx, r.keys.subjects, cursor, "", 1000).Result()
		cancel()
		if err != nil {
			return fmt.Errorf("resync: subjects: %w", err)
		}
		for i := 0; i+1 < len(page); i += 2 {
			if err := r.putSubject(page[i], page[i+1]); err != nil {
				complete = complete && !errors.Is(err, revocation.ErrFull)
				r.malformed(err)
			}
		}
		if cursor == 0 {
			break
		}
	}
	r.mirror.Sweep()
	// Entries about to be due are not counted: Redis dropped them by the
	// clock of the replica that trimmed, which may be ahead of this one's.
	tok, sub := r.mirror.Live(now.Add(writeBackMargin))
	if r.dirty.Swap(false) || int64(tok) > counts[0] || int64(sub) > counts[1] {
		if err := r.writeBack(ctx, now); err != nil {
			r.dirty.Store(true)
			return fmt.Errorf("resync: write-back: %w", err)
		}
	}
	r.resyncs.Add(1)
	r.lastSync.Store(time.Now().UnixNano())
	if !complete {
		r.full()
		return nil
	}
	r.markSynced(tok, sub)
	return nil
}

// writeBack writes every entry of the mirror to Redis (keeping the later
// times of what is there) and asks every replica to resync.
func (r *Revocations) writeBack(ctx context.Context, now time.Time) error {
	entries := r.mirror.Entries(now.Add(writeBackMargin))
	if len(entries) == 0 {
		return nil
	}
	exec := func(p redis.Pipeliner) error {
		opCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
		defer cancel()
		_, err := p.Exec(opCtx)
		return err
	}
	for _, s := range []*redis.Script{revokeSubjectScript, trimScript} {
		opCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
		err := s.Load(opCtx, r.client).Err()
		cancel()
		if err != nil {
			return err
		}
	}
	const batch = 500
	pipe := r.client.Pipeline()
	args := make([]redis.Z, 0, batch)
	flushTokens := func() {
		if len(args) > 0 {
			pipe.ZAddGT(ctx, r.keys.tokens, args...)
			args = args[:0]
		}
	}
	queued := 0
	for _, e := range entries {
		if e.JTI != "" {
			args = append(args, redis.Z{Score: float64(e.Drop.UnixMilli()), Member: id(e.Issuer, e.JTI)})
			if len(args) == batch {
				flushTokens()
			}
		} else {
			revokeSubjectScript.EvalSha(ctx, pipe, []string{r.keys.subjects, r.keys.subjectsDrop},
				id(e.Issuer, e.Subject), e.Before.UnixMicro(), e.Drop.UnixMilli(), now.UnixMilli(), "")
		}
		if queued++; queued%batch == 0 {
			flushTokens()
			if err := exec(pipe); err != nil {
				return err
			}
		}
	}
	flushTokens()
	trimScript.EvalSha(ctx, pipe, []string{r.keys.tokens, r.keys.subjects, r.keys.subjectsDrop}, now.UnixMilli())
	pipe.Publish(ctx, r.keys.channel, "r")
	if err := exec(pipe); err != nil {
		return err
	}
	r.written.Add(int64(len(entries)))
	r.log(slog.LevelWarn, "grpcauth redisstore: wrote back revocations Redis lacked (a restart without persistence, or a write that failed)",
		slog.Int("entries", len(entries)))
	return nil
}

// markSynced records that the mirror is current.
func (r *Revocations) markSynced(tokens, subjects int) {
	r.mu.Lock()
	r.staleGen++
	r.mu.Unlock()
	if old := State(r.state.Swap(int32(Synced))); old != Synced {
		r.log(slog.LevelInfo, "grpcauth redisstore: revocations in sync with Redis",
			slog.String("was", old.String()), slog.Int("tokens", tokens), slog.Int("subjects", subjects))
	}
	r.syncedOnce.Do(func() { close(r.synced) })
}

// lost records that Redis was lost: the store fails closed now, or once
// MaxStaleness has passed since Redis last answered.
func (r *Revocations) lost(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := State(r.state.Load())
	attrs := []slog.Attr{slog.String("error", cause.Error())}
	if state != Synced {
		if state == Starting {
			r.log(slog.LevelWarn, "grpcauth redisstore: cannot reach Redis; JWT calls fail closed until the revocations are loaded", attrs...)
		}
		return
	}
	r.staleGen++ // a new period: a timer of an earlier one does nothing
	deadline := unixNano(r.lastHeard.Load()).Add(r.cfg.maxStaleness)
	wait := time.Until(deadline)
	if r.cfg.maxStaleness == 0 || wait <= 0 {
		r.state.Store(int32(Unavailable))
		r.log(slog.LevelError, "grpcauth redisstore: lost Redis; failing JWT calls closed until the revocations are in sync again", attrs...)
		return
	}
	r.state.Store(int32(Stale))
	r.log(slog.LevelWarn, "grpcauth redisstore: lost Redis; serving revocations from the mirror, then failing closed",
		append(attrs, slog.Duration("for", wait))...)
	gen := r.staleGen
	time.AfterFunc(wait, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.staleGen == gen && r.state.CompareAndSwap(int32(Stale), int32(Unavailable)) {
			r.log(slog.LevelError, "grpcauth redisstore: Redis still lost after MaxStaleness; failing JWT calls closed until the revocations are in sync again")
		}
	})
}
