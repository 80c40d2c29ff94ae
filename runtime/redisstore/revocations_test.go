// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/internal/redistest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/redisstore"
)

var ctx = context.Background()

// TestTwoReplicas: a JWT revoked on replica A is refused with
// TOKEN_REVOKED on replica B within the bound, through real gRPC calls,
// also though B had verified (and cached) the token before; a subject
// revoked on B refuses on A the tokens issued before its time only.
func TestTwoReplicas(t *testing.T) {
	w := newWorld(t)
	a, b := w.replica(t, w.addr), w.replica(t, w.addr)
	a.synced(t)
	b.synced(t)

	tok, other := w.token(t, "jti-1"), w.token(t, "jti-2")
	for _, r := range []*replica{a, b} {
		if err := r.get(tok); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
	}
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "jti-1", time.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.get(tok); reason(err) != runtime.ReasonTokenRevoked {
		t.Errorf("the revoking replica: %v; want TOKEN_REVOKED at once", err)
	}
	took := b.until(t, tok, runtime.ReasonTokenRevoked)
	t.Logf("revoked on A, refused on B after %s", took)
	if err := b.get(other); err != nil {
		t.Errorf("another token: %v", err)
	}
	if s := b.store.Stats(); s.Messages < 1 || s.State != redisstore.Synced || !s.Connected || s.Tokens != 1 {
		t.Errorf("B's stats = %+v", s)
	}

	// Subject revocation, the other way round.
	T := time.Now().Truncate(time.Second)
	old := w.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("carol"), authtest.IssuedAt(T.Add(-time.Minute)))
	fresh := w.iss.Mint(authtest.Scopes("library.read"), authtest.Subject("carol"), authtest.IssuedAt(T.Add(time.Second)))
	for _, tk := range []string{old, fresh} {
		if err := a.get(tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.store.RevokeSubject(ctx, w.iss.URL(), "carol", T); err != nil {
		t.Fatal(err)
	}
	a.until(t, old, runtime.ReasonTokenRevoked)
	if err := a.get(fresh); err != nil {
		t.Errorf("a token issued after the subject's time: %v", err)
	}

	// Nothing that identifies a token beyond its jti is in Redis, and
	// each key expires.
	for _, k := range redistest.Keys(t, w.redis, w.prefix) {
		if ttl := w.redis.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 25*time.Hour {
			t.Errorf("key %s: TTL %s", k, ttl)
		}
	}
	for _, v := range redistest.Dump(t, w.redis, w.prefix) {
		if strings.Contains(v, "eyJ") {
			t.Errorf("Redis holds a token: %q", v)
		}
	}
}

// TestRevocationEntriesExpire: entries leave Redis and the mirrors with
// the token they revoke (exp plus the grace period).
func TestRevocationEntriesExpire(t *testing.T) {
	w := newWorld(t)
	a := w.replica(t, w.addr, redisstore.Grace(0))
	a.synced(t)
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "short", time.Now().Add(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "long", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := w.redis.ZCard(ctx, w.prefix+"tokens").Val(); n != 2 {
		t.Fatalf("%d entries in Redis; want 2", n)
	}
	time.Sleep(2 * time.Second)
	// The next write removes what is due.
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "long2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	members := w.redis.ZRange(ctx, w.prefix+"tokens", 0, -1).Val()
	if len(members) != 2 || strings.Contains(strings.Join(members, ","), "short") {
		t.Errorf("Redis holds %q after the short token's exp", members)
	}
	// The key expires with its last entry.
	if ttl := w.redis.PTTL(ctx, w.prefix+"tokens").Val(); ttl < 59*time.Minute || ttl > time.Hour+time.Second {
		t.Errorf("TTL of the tokens key = %s; want about 1h", ttl)
	}
}

// TestRedisRestart: Redis restarts without persistence mid-run (every
// client connection dropped and the keys gone, as such a restart does):
// the replicas resubscribe and resync, write back the revocations Redis
// lost, and a replica started after the restart learns them; revocations
// made after the restart reach every replica.
func TestRedisRestart(t *testing.T) {
	w := newWorld(t)
	proxy := redistest.NewProxy(t, w.addr)
	a, b := w.replica(t, proxy.Addr()), w.replica(t, proxy.Addr())
	a.synced(t)
	b.synced(t)
	x, y := w.token(t, "x"), w.token(t, "y")
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "x", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.until(t, x, runtime.ReasonTokenRevoked)
	resyncs := b.store.Stats().Resyncs

	// The restart.
	proxy.Cut()
	redistest.DeleteKeys(t, w.redis, w.prefix)
	proxy.Restore()

	// Both resync; Redis gets x back from their mirrors.
	if _, err := redistest.Eventually(bound, func() bool {
		return w.redis.ZScore(ctx, w.prefix+"tokens", fmt.Sprintf("%d:%sx", len(w.iss.URL()), w.iss.URL())).Err() == nil
	}); err != nil {
		t.Fatalf("Redis did not get the lost revocation back; A %+v, B %+v\n%s%s", a.store.Stats(), b.store.Stats(), a.log.String(), b.log.String())
	}
	if _, err := redistest.Eventually(bound, func() bool { return b.store.Stats().Resyncs > resyncs }); err != nil {
		t.Fatalf("B did not resync: %+v", b.store.Stats())
	}
	if a.store.Stats().WriteBacks+b.store.Stats().WriteBacks == 0 {
		t.Error("no write-back counted")
	}
	if !strings.Contains(a.log.String()+b.log.String(), "wrote back revocations") {
		t.Errorf("the write-back is not logged:\n%s%s", a.log.String(), b.log.String())
	}
	for _, r := range []*replica{a, b} {
		r.until(t, x, runtime.ReasonTokenRevoked)
	}
	// A replica started after the restart knows x.
	c := w.replica(t, w.addr)
	c.synced(t)
	c.until(t, x, runtime.ReasonTokenRevoked)
	// A revocation after the restart reaches all.
	if err := b.store.RevokeToken(ctx, w.iss.URL(), "y", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{a, c} {
		r.until(t, y, runtime.ReasonTokenRevoked)
	}
}

// TestRedisUnreachableAtStart: a replica that cannot reach Redis when it
// starts fails JWT calls closed with 14 AUTH_BACKEND_UNAVAILABLE, in both
// failure modes (its mirror never held anything to serve), and serves —
// revocations made meanwhile included — once Redis is back.
func TestRedisUnreachableAtStart(t *testing.T) {
	for name, opts := range map[string][]redisstore.Option{
		"fail_closed": nil,
		"stale_ok":    {redisstore.MaxStaleness(time.Minute)},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			proxy := redistest.NewProxy(t, w.addr)
			proxy.Cut()
			b := w.replica(t, proxy.Addr(), opts...)
			tok, revoked := w.token(t, "fine"), w.token(t, "revoked")
			b.still(t, tok, runtime.ReasonAuthBackendUnavailable, 500*time.Millisecond)
			if s := b.store.Stats(); s.State != redisstore.Starting || s.Connected {
				t.Errorf("stats while unreachable = %+v", s)
			}
			if !strings.Contains(b.log.String(), "cannot reach Redis") {
				t.Errorf("not logged:\n%s", b.log.String())
			}
			// Revoked elsewhere while B cannot reach Redis.
			a := w.replica(t, w.addr)
			a.synced(t)
			if err := a.store.RevokeToken(ctx, w.iss.URL(), "revoked", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			proxy.Restore()
			b.synced(t)
			b.until(t, tok, "")
			b.until(t, revoked, runtime.ReasonTokenRevoked)
		})
	}
}

// TestRedisUnreachableMidRun, failing closed (the default): once Redis is
// lost — the connection closed, or silently (a partition, noticed by the
// health check) — JWT calls are refused with 14 within the bound; a
// revocation made meanwhile on this replica holds here at once and
// reaches the others once Redis is back; one made elsewhere is enforced
// here once Redis is back.
func TestRedisUnreachableMidRun(t *testing.T) {
	for _, how := range []string{"cut", "stall"} {
		t.Run(how, func(t *testing.T) {
			w := newWorld(t)
			proxy := redistest.NewProxy(t, w.addr)
			a, b := w.replica(t, w.addr), w.replica(t, proxy.Addr())
			a.synced(t)
			b.synced(t)
			tok := w.token(t, "fine")
			if err := b.get(tok); err != nil {
				t.Fatal(err)
			}
			if how == "cut" {
				proxy.Cut()
			} else {
				proxy.Stall()
			}
			took := b.until(t, tok, runtime.ReasonAuthBackendUnavailable)
			t.Logf("%s: failing closed after %s", how, took)
			if how == "stall" && took > 2*health+time.Second {
				t.Errorf("a silent loss was noticed after %s; the bound is 2 × %s", took, health)
			}
			if s := b.store.Stats(); s.State != redisstore.Unavailable {
				t.Errorf("stats = %+v", s)
			}
			if !strings.Contains(b.log.String(), "failing JWT calls closed") {
				t.Errorf("not logged:\n%s", b.log.String())
			}
			// Revocations during the outage, on each side.
			if err := a.store.RevokeToken(ctx, w.iss.URL(), "on-a", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			err := b.store.RevokeToken(ctx, w.iss.URL(), "on-b", time.Now().Add(time.Hour))
			if !errors.Is(err, redisstore.ErrUnavailable) {
				t.Errorf("RevokeToken while Redis is lost: %v; want ErrUnavailable", err)
			}
			proxy.Restore()
			b.until(t, tok, "")
			b.until(t, w.token(t, "on-a"), runtime.ReasonTokenRevoked)
			b.until(t, w.token(t, "on-b"), runtime.ReasonTokenRevoked)
			a.until(t, w.token(t, "on-b"), runtime.ReasonTokenRevoked) // written back
		})
	}
}

// TestRedisUnreachableStale: with MaxStaleness, a replica that lost Redis
// keeps serving from its mirror (what it knew stays revoked) for that
// long after Redis last answered, then fails closed; once Redis is back
// it enforces what was revoked meanwhile.
func TestRedisUnreachableStale(t *testing.T) {
	const staleness = 1500 * time.Millisecond
	w := newWorld(t)
	proxy := redistest.NewProxy(t, w.addr)
	a, b := w.replica(t, w.addr), w.replica(t, proxy.Addr(), redisstore.MaxStaleness(staleness))
	a.synced(t)
	b.synced(t)
	tok, known, later := w.token(t, "fine"), w.token(t, "known"), w.token(t, "later")
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "known", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.until(t, known, runtime.ReasonTokenRevoked)
	proxy.Cut()
	lost := time.Now()
	if _, err := redistest.Eventually(bound, func() bool { return b.store.Stats().State == redisstore.Stale }); err != nil {
		t.Fatalf("not stale: %+v", b.store.Stats())
	}
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "later", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Within the staleness: the mirror answers.
	if err := b.get(tok); err != nil {
		t.Errorf("within MaxStaleness: %v", err)
	}
	if err := b.get(known); reason(err) != runtime.ReasonTokenRevoked {
		t.Errorf("a revocation the mirror held: %v", err)
	}
	if err := b.get(later); err != nil {
		t.Errorf("a revocation made after the loss is not known within MaxStaleness (documented); got %v", err)
	}
	b.until(t, tok, runtime.ReasonAuthBackendUnavailable)
	if since := time.Since(lost); since < staleness-200*time.Millisecond {
		t.Errorf("failed closed %s after the loss; MaxStaleness is %s", since, staleness)
	}
	t.Logf("failing closed %s after the loss (MaxStaleness %s)", time.Since(lost), staleness)
	if !strings.Contains(b.log.String(), "serving revocations from the mirror") || !strings.Contains(b.log.String(), "still lost after MaxStaleness") {
		t.Errorf("not logged:\n%s", b.log.String())
	}
	proxy.Restore()
	b.until(t, tok, "")
	b.until(t, later, runtime.ReasonTokenRevoked)
}

// Test100kRevocations: 100,000 revocations through Redis; a replica that
// starts after them loads them all, within a bounded time and memory.
func Test100kRevocations(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 100_000
	w := newWorld(t)
	a := w.replica(t, w.addr)
	a.synced(t)
	iss := w.iss.URL()
	exp := time.Now().Add(time.Hour)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	const workers = 32
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += workers {
				if err := a.store.RevokeToken(ctx, iss, jtiOf(i), exp); err != nil {
					failed.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d revocations failed", failed.Load())
	}
	t.Logf("100,000 revocations written in %s", time.Since(start).Round(time.Millisecond))
	if got := w.redis.ZCard(ctx, w.prefix+"tokens").Val(); got != n {
		t.Fatalf("Redis holds %d; want %d", got, n)
	}
	usage, _ := w.redis.MemoryUsage(ctx, w.prefix+"tokens", 0).Result()
	t.Logf("Redis: %.1f MB for the tokens key", float64(usage)/1e6)

	before := heapInUse()
	start = time.Now()
	b := w.replica(t, w.addr)
	b.synced(t)
	loaded := time.Since(start)
	after := heapInUse()
	mb := float64(after-before) / 1e6
	t.Logf("a new replica loaded 100,000 revocations in %s; its heap grew by %.1f MB (%.0f bytes per revocation)", loaded.Round(time.Millisecond), mb, float64(after-before)/n)
	if mb > 40 {
		t.Errorf("the mirror of 100,000 revocations takes %.1f MB; the bound is 40 MB", mb)
	}
	if loaded > 20*time.Second {
		t.Errorf("loading took %s", loaded)
	}
	if s := b.store.Stats(); s.Tokens != n {
		t.Errorf("B mirrors %d; want %d", s.Tokens, n)
	}
	b.until(t, w.token(t, jtiOf(77777)), runtime.ReasonTokenRevoked)
	if err := b.get(w.token(t, "not-revoked")); err != nil {
		t.Error(err)
	}
}

func jtiOf(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919) }

func heapInUse() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	debug.FreeOSMemory()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestConcurrentCallsWhileRevoking runs calls on replica B while replica A
// revokes their tokens, for -race: every token ends refused on B.
func TestConcurrentCallsWhileRevoking(t *testing.T) {
	w := newWorld(t)
	a, b := w.replica(t, w.addr), w.replica(t, w.addr)
	a.synced(t)
	b.synced(t)
	const n = 16
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = w.token(t, fmt.Sprint("c", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := reason(b.get(tokens[i])); r != "" && r != runtime.ReasonTokenRevoked {
					t.Errorf("call: reason %q", r)
					return
				}
				calls.Add(1)
			}
		}(i)
	}
	for i := range tokens {
		if err := a.store.RevokeToken(ctx, w.iss.URL(), fmt.Sprint("c", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if err := a.store.RevokeSubject(ctx, w.iss.URL(), fmt.Sprint("nobody", i), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tk := range tokens {
		b.until(t, tk, runtime.ReasonTokenRevoked)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls while revoking", calls.Load())
}

// TestPropagation measures revoke-on-A → refused-on-B (the store's answer
// on B) for 500 revocations and reports p50 and p99.
func TestPropagation(t *testing.T) {
	w := newWorld(t)
	a, b := w.replica(t, w.addr), w.replica(t, w.addr)
	a.synced(t)
	b.synced(t)
	p50, p99 := propagation(t, a, b, w.iss.URL(), 500)
	t.Logf("propagation A → B over 500 revocations: p50 %s, p99 %s", p50, p99)
	if p99 > time.Second {
		t.Errorf("p99 %s", p99)
	}
}

func propagation(tb testing.TB, a, b *replica, iss string, n int) (p50, p99 time.Duration) {
	tb.Helper()
	took := make([]time.Duration, 0, n)
	exp := time.Now().Add(time.Hour)
	for i := 0; i < n; i++ {
		jti := fmt.Sprintf("p-%d-%d", i, time.Now().UnixNano())
		start := time.Now()
		if err := a.store.RevokeToken(ctx, iss, jti, exp); err != nil {
			tb.Fatal(err)
		}
		for {
			if ok, err := b.store.Revoked(iss, "x", jti, time.Time{}); err == nil && ok {
				break
			}
			if time.Since(start) > bound {
				tb.Fatalf("revocation %d not seen on B within %s", i, bound)
			}
			time.Sleep(20 * time.Microsecond)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	return took[len(took)/2], took[len(took)*99/100]
}

// TestIdleStaysSynced: a subscription that carries nothing is kept by its
// health checks: it is not taken for lost, and the mirror is not reloaded.
func TestIdleStaysSynced(t *testing.T) {
	// A longer interval than the other tests': a loaded machine must not
	// make a health check miss its answer here.
	const interval = 300 * time.Millisecond
	w := newWorld(t)
	a := w.replica(t, w.addr, redisstore.HealthCheckInterval(interval))
	a.synced(t)
	time.Sleep(8 * interval)
	if s := a.store.Stats(); s.State != redisstore.Synced || !s.Connected || s.Resyncs != 1 || s.Errors != 0 {
		t.Errorf("after %s idle: %+v\n%s", 8*interval, s, a.log.String())
	}
	if since := time.Since(a.store.Stats().LastHeard); since > 3*interval {
		t.Errorf("Redis last heard %s ago; the health checks should have had answers", since)
	}
}

// TestStreamEndsOnRevocation: a stream opened on replica B before its
// token is revoked on replica A ends with TOKEN_REVOKED within the bound:
// the propagation plus B's stream recheck interval.
func TestStreamEndsOnRevocation(t *testing.T) {
	w := newWorld(t)
	a, b := w.replica(t, w.addr), w.replica(t, w.addr)
	a.synced(t)
	b.synced(t)
	tok := w.token(t, "streamer")
	sctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), 30*time.Second)
	defer cancel()
	stream, err := b.client.SyncShelf(sctx)
	if err != nil {
		t.Fatal(err)
	}
	exchange := func() error {
		if err := stream.Send(&libraryv1.SyncShelfRequest{Book: &libraryv1.Book{Name: "shelves/a/books/1"}}); err != nil {
			_, err = stream.Recv() // the status
			return err
		}
		_, err := stream.Recv()
		return err
	}
	if err := exchange(); err != nil {
		t.Fatalf("the stream before the revocation: %v", err)
	}
	if err := a.store.RevokeToken(ctx, w.iss.URL(), "streamer", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	for {
		err := exchange()
		if err != nil {
			if reason(err) != runtime.ReasonTokenRevoked {
				t.Fatalf("the stream ended with %v; want TOKEN_REVOKED", err)
			}
			t.Logf("the stream ended %s after the revocation", time.Since(revokedAt))
			return
		}
		if time.Since(revokedAt) > bound {
			t.Fatalf("the stream still runs %s after its token was revoked", bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCloseIsPrompt: Close does not wait for the subscription's next
// health check.
func TestCloseIsPrompt(t *testing.T) {
	addr := redistest.Addr(t)
	rc := redistest.Client(t, addr)
	s, err := redisstore.NewRevocations(rc, redisstore.Prefix(redistest.Prefix(t, rc)), redisstore.HealthCheckInterval(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if err := s.WaitSynced(c); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = s.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %s", took)
	}
	if _, err := s.Revoked("i", "s", "j", time.Time{}); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Revoked after Close: %v; want ErrUnavailable", err)
	}
}
