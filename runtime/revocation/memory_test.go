// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/revocation"
)

const iss = "https://issuer.example"

// clock is a settable time source.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

func newMemory(t testing.TB, opts ...revocation.Option) *revocation.Memory {
	t.Helper()
	m, err := revocation.NewMemory(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func revoked(t *testing.T, m *revocation.Memory, iss, sub, jti string, iat time.Time) bool {
	t.Helper()
	r, err := m.Revoked(iss, sub, jti, iat)
	if err != nil {
		t.Fatalf("Revoked: %v", err)
	}
	return r
}

func TestMemoryToken(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now))
	ctx := context.Background()
	now := c.now()
	if revoked(t, m, iss, "alice", "t1", now) {
		t.Fatal("empty store revokes")
	}
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		iss, sub, jti string
		want          bool
	}{
		{iss, "alice", "t1", true},
		{iss, "bob", "t1", true}, // the jti decides, whoever the subject
		{iss, "alice", "t2", false},
		{iss, "alice", "", false},
		{"https://other.example", "alice", "t1", false}, // a jti is unique per issuer only
		{iss + "/", "alice", "t1", false},
	} {
		if got := revoked(t, m, tc.iss, tc.sub, tc.jti, now); got != tc.want {
			t.Errorf("Revoked(%q, %q, %q) = %v; want %v", tc.iss, tc.sub, tc.jti, got, tc.want)
		}
	}
	if tok, sub := m.Len(); tok != 1 || sub != 0 {
		t.Errorf("Len = %d, %d; want 1, 0", tok, sub)
	}
}

func TestMemorySubject(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now))
	ctx := context.Background()
	at := c.now()
	if err := m.RevokeSubject(ctx, iss, "alice", at); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sub  string
		iat  time.Time
		want bool
	}{
		{"issued before", "alice", at.Add(-time.Second), true},
		{"issued a nanosecond before", "alice", at.Add(-time.Nanosecond), true},
		{"issued at the time", "alice", at, false},
		{"issued after", "alice", at.Add(time.Second), false},
		{"no iat", "alice", time.Time{}, true},
		{"another subject", "bob", at.Add(-time.Second), false},
	} {
		if got := revoked(t, m, iss, tc.sub, "any", tc.iat); got != tc.want {
			t.Errorf("%s: Revoked = %v; want %v", tc.name, got, tc.want)
		}
	}
	if revoked(t, m, "https://other.example", "alice", "", at.Add(-time.Second)) {
		t.Error("a subject's revocation applies to another issuer's subject of that name")
	}
	// Again with an earlier time: the later one stands.
	if err := m.RevokeSubject(ctx, iss, "alice", at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !revoked(t, m, iss, "alice", "", at.Add(-time.Minute)) {
		t.Error("an earlier revocation of the subject replaced the later one")
	}
	// And a later one moves it.
	if err := m.RevokeSubject(ctx, iss, "alice", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !revoked(t, m, iss, "alice", "", at.Add(time.Minute)) {
		t.Error("a later revocation of the subject was not taken")
	}
}

func TestMemoryExpiry(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now), revocation.Grace(5*time.Minute), revocation.SubjectRetention(time.Hour))
	ctx := context.Background()
	now := c.now()
	exp := now.Add(10 * time.Minute)
	if err := m.RevokeToken(ctx, iss, "t1", exp); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeSubject(ctx, iss, "alice", now); err != nil {
		t.Fatal(err)
	}
	// A token already past exp and grace is not recorded.
	if err := m.RevokeToken(ctx, iss, "old", now.Add(-6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if revoked(t, m, iss, "x", "old", now) {
		t.Error("a token past its exp and grace was recorded")
	}
	// Within exp + grace, the entry holds: the verifier still accepts the
	// token for its leeway.
	c.advance(12 * time.Minute)
	m.Sweep()
	if !revoked(t, m, iss, "x", "t1", c.now()) {
		t.Fatal("the entry was dropped within the grace period")
	}
	c.advance(5 * time.Minute) // past exp + grace and the bucket's end
	if tok, sub := m.Live(c.now()); tok != 0 || sub != 1 {
		t.Errorf("Live = %d, %d after the token's drop time; want 0, 1", tok, sub)
	}
	m.Sweep()
	if tok, _ := m.Len(); tok != 0 {
		t.Errorf("%d token entries after their drop time; want 0", tok)
	}
	if revoked(t, m, iss, "x", "t1", c.now()) {
		t.Error("the token is still revoked after its entry was due")
	}
	if !revoked(t, m, iss, "alice", "", now.Add(-time.Second)) {
		t.Error("the subject's entry was dropped before its retention")
	}
	c.advance(time.Hour)
	// A write sweeps too.
	if err := m.RevokeToken(ctx, iss, "t2", c.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if tok, sub := m.Len(); tok != 1 || sub != 0 {
		t.Errorf("Len = %d, %d after the subject's retention; want 1, 0", tok, sub)
	}
}

func TestMemoryExtend(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now), revocation.Grace(0))
	ctx := context.Background()
	now := c.now()
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(time.Minute)); err != nil { // earlier: ignored
		t.Fatal(err)
	}
	c.advance(10 * time.Minute)
	m.Sweep()
	if !revoked(t, m, iss, "x", "t1", c.now()) {
		t.Error("the entry was dropped at its first drop time, not the later one")
	}
}

func TestMemoryFull(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now), revocation.MaxEntries(2), revocation.Grace(0))
	ctx := context.Background()
	now := c.now()
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeSubject(ctx, iss, "alice", now); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(ctx, iss, "t2", now.Add(time.Hour)); !errors.Is(err, revocation.ErrFull) {
		t.Fatalf("third entry: %v; want ErrFull", err)
	}
	if !revoked(t, m, iss, "x", "t1", now) || !revoked(t, m, iss, "alice", "", now.Add(-time.Second)) {
		t.Fatal("a full store forgot an entry")
	}
	// Re-revoking what is there is no new entry.
	if err := m.RevokeToken(ctx, iss, "t1", now.Add(time.Hour)); err != nil {
		t.Fatalf("re-revoking a recorded token: %v", err)
	}
	// Once an entry is due, it makes room.
	c.advance(3 * time.Hour)
	if err := m.RevokeToken(ctx, iss, "t2", c.now().Add(time.Hour)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestMemoryInvalid(t *testing.T) {
	m := newMemory(t)
	ctx := context.Background()
	for name, err := range map[string]error{
		"no issuer":          m.RevokeToken(ctx, "", "t1", time.Now().Add(time.Hour)),
		"no jti":             m.RevokeToken(ctx, iss, "", time.Now().Add(time.Hour)),
		"subject, no issuer": m.RevokeSubject(ctx, "", "alice", time.Now()),
		"no subject":         m.RevokeSubject(ctx, iss, "", time.Now()),
	} {
		if !errors.Is(err, revocation.ErrInvalidRevocation) {
			t.Errorf("%s: %v; want ErrInvalidRevocation", name, err)
		}
	}
	for name, opt := range map[string]revocation.Option{
		"Grace":            revocation.Grace(-time.Second),
		"SubjectRetention": revocation.SubjectRetention(0),
		"MaxEntries":       revocation.MaxEntries(0),
		"Clock":            revocation.Clock(nil),
		"nil":              nil,
	} {
		if _, err := revocation.NewMemory(opt); !errors.Is(err, revocation.ErrInvalidOption) {
			t.Errorf("%s: %v; want ErrInvalidOption", name, err)
		}
	}
}

func TestMemoryEntries(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now), revocation.Grace(0), revocation.SubjectRetention(time.Hour))
	now := c.now()
	_ = m.RevokeToken(context.Background(), iss, "t1", now.Add(time.Minute))
	_ = m.RevokeSubject(context.Background(), iss, "alice", now)
	got := map[string]revocation.Entry{}
	for _, e := range m.Entries(now) {
		got[e.JTI+"|"+e.Subject] = e
	}
	if e := got["t1|"]; e.Issuer != iss || !e.Drop.Equal(now.Add(time.Minute)) {
		t.Errorf("token entry = %+v", e)
	}
	if e := got["|alice"]; e.Issuer != iss || !e.Before.Equal(now) || !e.Drop.Equal(now.Add(time.Hour)) {
		t.Errorf("subject entry = %+v", e)
	}
	if len(got) != 2 {
		t.Errorf("%d entries; want 2", len(got))
	}
}

// TestMemoryNoAllocation: Revoked allocates nothing, empty or not.
func TestMemoryNoAllocation(t *testing.T) {
	m := newMemory(t)
	now := time.Now()
	check := func(what string) {
		if n := testing.AllocsPerRun(1000, func() {
			_, _ = m.Revoked(iss, "alice", "t-allowed", now)
		}); n != 0 {
			t.Errorf("%s: Revoked allocates %.0f times per call", what, n)
		}
	}
	check("empty")
	_ = m.RevokeToken(context.Background(), iss, "t1", now.Add(time.Hour))
	_ = m.RevokeSubject(context.Background(), iss, "bob", now)
	check("with entries")
}

// TestMemory100k measures the store's memory for 100,000 revoked tokens
// of one issuer with UUID jtis (what the README and the package doc
// state), and bounds it generously.
func TestMemory100k(t *testing.T) {
	const n = 100_000
	m := newMemory(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	before := heap()
	for i := 0; i < n; i++ {
		// Each issuer and jti arrives in a buffer of its own, as from a
		// request (and is garbage after).
		jti := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
		if err := m.RevokeToken(ctx, string([]byte(iss)), jti, exp.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	perEntry := float64(after-before) / n
	t.Logf("100,000 revoked tokens: %.1f MB, %.0f bytes per entry", float64(after-before)/1e6, perEntry)
	if perEntry > 300 {
		t.Errorf("%.0f bytes per entry; the documented bound is 300", perEntry)
	}
	if ok, _ := m.Revoked(iss, "x", fmt.Sprintf("%08x-0000-4000-8000-%012x", 4242, 4242*7919), time.Now()); !ok {
		t.Error("an entry is missing")
	}
	runtime.KeepAlive(m)
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryConcurrent runs readers beside writers and sweeps, for -race.
func TestMemoryConcurrent(t *testing.T) {
	c := newClock()
	m := newMemory(t, revocation.Clock(c.now), revocation.Grace(0))
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = m.Revoked(iss, "alice", fmt.Sprint("t", i%500), c.now())
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		if err := m.RevokeToken(ctx, iss, fmt.Sprint("t", i), c.now().Add(time.Duration(i%5)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			_ = m.RevokeSubject(ctx, iss, fmt.Sprint("s", i), c.now())
			c.advance(time.Minute)
			m.Sweep()
		}
	}
	close(stop)
	wg.Wait()
}
