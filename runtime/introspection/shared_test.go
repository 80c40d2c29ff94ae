// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// mapCache is a SharedCache in a map, standing for what replicas share
// (runtime/redisstore tests the Redis one against a real server). Its
// clock decides expiry.
type mapCache struct {
	clock *fakeClock
	mu    sync.Mutex
	m     map[string]sharedValue
	fail  error
	last  string // the key of the last Get
}

type sharedValue struct {
	v     []byte
	until time.Time
}

func newMapCache(c *fakeClock) *mapCache { return &mapCache{clock: c, m: map[string]sharedValue{}} }

func (c *mapCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = key
	if c.fail != nil {
		return nil, c.fail
	}
	e, ok := c.m[key]
	if !ok || !c.clock.Now().Before(e.until) {
		return nil, nil
	}
	return bytes.Clone(e.v), nil
}

func (c *mapCache) Set(_ context.Context, key string, v []byte, until time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.m[key] = sharedValue{bytes.Clone(v), until}
	return nil
}

func (c *mapCache) only(t *testing.T) (string, sharedValue) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) != 1 {
		t.Fatalf("the shared cache holds %d entries; want 1", len(c.m))
	}
	for k, v := range c.m {
		return k, v
	}
	panic("unreachable")
}

func (c *mapCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

var sharedSecret = bytes.Repeat([]byte("k"), 32)

// activeFor answers every token as active for alice until exp.
func activeFor(exp int64) answer {
	return reply(fmt.Sprintf(`{"active":true,"sub":"alice","scope":"s","exp":%d,"token_type":"access_token"}`, exp))
}

// TestSharedCache: two replicas with one shared cache ask the endpoint
// once per token; the entry is kept no longer than CacheTTL after the
// first introspection nor past exp, on either replica; the key holds no
// token and the value is bound to its key by the secret.
func TestSharedCache(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, activeFor(clock.Unix(time.Hour)))
	shared := newMapCache(clock)
	opts := []introspection.Option{introspection.WithSharedCache(shared, sharedSecret), introspection.CacheTTL(time.Minute)}
	a, b := newAuth(t, s, opts...), newAuth(t, s, opts...)
	token := randomToken(t)

	if p := mustOK(t, a, token); p.Subject != "alice" {
		t.Fatalf("subject %q", p.Subject)
	}
	wantRequests(t, s, 1)
	clock.Advance(30 * time.Second)
	if p := mustOK(t, b, token); p.Subject != "alice" || !p.HasScope("s") {
		t.Fatalf("from the shared cache: %+v", p)
	}
	wantRequests(t, s, 1) // b did not ask
	if st := b.SharedCacheStats(); st.Hits != 1 || st.Stores != 0 {
		t.Errorf("b's stats = %+v", st)
	}
	if st := a.SharedCacheStats(); st.Stores != 1 || st.Misses != 1 {
		t.Errorf("a's stats = %+v", st)
	}
	key, v := shared.only(t)
	if strings.Contains(key, token) || bytes.Contains(v.v, []byte(token)) || strings.Contains(key, token[4:12]) {
		t.Error("the shared cache holds the token")
	}
	if want := clock.Now().Add(-30 * time.Second).Add(time.Minute); !v.until.Equal(want) {
		t.Errorf("shared until %s; want %s (first introspection + CacheTTL)", v.until, want)
	}
	// b's own entry ends with the shared one: 30s later, both ask again.
	clock.Advance(31 * time.Second)
	mustOK(t, b, token)
	wantRequests(t, s, 2)
	mustOK(t, a, token)
	wantRequests(t, s, 2) // a found b's fresh answer in the shared cache
}

// TestSharedCacheCappedByExp: an answer whose token expires before
// CacheTTL is shared until exp only.
func TestSharedCacheCappedByExp(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, activeFor(clock.Unix(20*time.Second)))
	shared := newMapCache(clock)
	a := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret), introspection.CacheTTL(time.Minute))
	mustOK(t, a, randomToken(t))
	if _, v := shared.only(t); !v.until.Equal(time.Unix(clock.Unix(20*time.Second), 0)) {
		t.Errorf("shared until %s; want exp", v.until)
	}
}

// TestSharedCacheOnlyGoodAnswers: inactive answers, refresh tokens and
// answers that fail a check are never shared.
func TestSharedCacheOnlyGoodAnswers(t *testing.T) {
	clock := newClock()
	for name, tc := range map[string]struct {
		body   string
		reason runtime.Reason
	}{
		"inactive":      {`{"active":false}`, runtime.ReasonTokenRevoked},
		"refresh token": {fmt.Sprintf(`{"active":true,"sub":"a","token_type":"refresh_token","exp":%d}`, clock.Unix(time.Hour)), runtime.ReasonCredentialKindNotAccepted},
		"wrong issuer":  {fmt.Sprintf(`{"active":true,"sub":"a","iss":"https://evil.example","exp":%d}`, clock.Unix(time.Hour)), runtime.ReasonIssuerUntrusted},
	} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, clock, reply(tc.body))
			shared := newMapCache(clock)
			a := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret), introspection.Issuer("https://as.example"))
			_, err := a.Authenticate(context.Background(), randomToken(t))
			wantDenial(t, err, tc.reason)
			if shared.len() != 0 {
				t.Error("a refused answer was shared")
			}
		})
	}
}

// TestSharedCacheForgedValues: a value the replicas did not write (its
// MAC is wrong: another secret, a changed answer, or one moved from
// another token's key) is not used; the endpoint decides.
func TestSharedCacheForgedValues(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, reply(`{"active":false}`))
	shared := newMapCache(clock)
	a := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret))
	// A replica with the secret shares an active answer for token good.
	s.setAnswer(activeFor(clock.Unix(time.Hour)))
	good := randomToken(t)
	mustOK(t, newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret)), good)
	goodKey, goodValue := shared.only(t)
	s.setAnswer(reply(`{"active":false}`))

	forge := func(key string, v []byte) {
		shared.mu.Lock()
		shared.m[key] = sharedValue{v, clock.Now().Add(time.Hour)}
		shared.mu.Unlock()
	}
	// Moved to another token's key.
	other := randomToken(t)
	_, _ = a.Authenticate(context.Background(), other)
	shared.mu.Lock()
	otherKey := shared.last
	shared.mu.Unlock()
	forge(otherKey, goodValue.v)
	_, err := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret)).Authenticate(context.Background(), other)
	wantDenial(t, err, runtime.ReasonTokenRevoked)

	// Changed answer under the right key.
	changed := bytes.Replace(goodValue.v, []byte(`"alice"`), []byte(`"admin"`), 1)
	forge(goodKey, changed)
	c := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret))
	_, err = c.Authenticate(context.Background(), good)
	wantDenial(t, err, runtime.ReasonTokenRevoked)
	if st := c.SharedCacheStats(); st.Rejected != 1 || st.Hits != 0 {
		t.Errorf("stats = %+v", st)
	}

	// Another secret.
	forge(goodKey, goodValue.v)
	d := newAuth(t, s, introspection.WithSharedCache(shared, bytes.Repeat([]byte("x"), 32)))
	_, err = d.Authenticate(context.Background(), good)
	wantDenial(t, err, runtime.ReasonTokenRevoked)
}

// TestSharedCacheFailing: a shared cache that fails never fails a call.
func TestSharedCacheFailing(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, activeFor(clock.Unix(time.Hour)))
	shared := newMapCache(clock)
	shared.fail = errors.New("connection refused")
	a := newAuth(t, s, introspection.WithSharedCache(shared, sharedSecret))
	mustOK(t, a, randomToken(t))
	wantRequests(t, s, 1)
	if st := a.SharedCacheStats(); st.Errors != 2 {
		t.Errorf("stats = %+v; want a failed Get and a failed Set", st)
	}
}

func TestSharedCacheSetup(t *testing.T) {
	clock := newClock()
	s := newServer(t, clock, activeFor(clock.Unix(time.Hour)))
	for name, opts := range map[string][]introspection.Option{
		"nil cache":    {introspection.WithSharedCache(nil, sharedSecret)},
		"short secret": {introspection.WithSharedCache(newMapCache(clock), sharedSecret[:31])},
		"no cache":     {introspection.WithSharedCache(newMapCache(clock), sharedSecret), introspection.CacheTTL(0)},
		"timeout":      {introspection.SharedCacheTimeout(0)},
	} {
		_, err := introspection.New(append([]introspection.Option{
			introspection.Endpoint(s.endpoint()), introspection.ClientSecret(clientID, clientSecret),
		}, opts...)...)
		if !errors.Is(err, introspection.ErrInvalidOption) {
			t.Errorf("%s: %v; want ErrInvalidOption", name, err)
		}
	}
}
