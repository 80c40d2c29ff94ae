// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// A burst of one new token: the calls that present a byte-identical token
// the cache does not hold, at the same time, share one verification. The
// first call (the leader) verifies the token on its own goroutine; the
// others wait for its result, each until its own context ends. What a
// flight shares is only what does not depend on the call: the token's
// signature, claims and key, or the failure to verify them (a bad
// signature, an expired token, the issuer's keys unavailable). What depends
// on the call is decided per call, on the shared result, as a cache hit
// is: expiry at the call's time, the key still usable, the certificate
// binding on the call's own connection (see admit).
//
// The leader runs verify with its own context, so that its own deadline is
// honoured as without a flight. verify uses the context only to wait for
// the issuer's keys (the key fetch itself runs detached and goes on); when
// the leader's context ends that wait, its context error is its own
// answer, never the waiters': they start again, and one of them leads,
// joining the same key fetch. A flight holds no goroutine of its own.
//
// A flight lives as long as its verification: it is removed when it lands,
// its failure is given to the calls that waited for it and then forgotten
// (only successes are cached), and the maps that hold flights are dropped
// when they empty after holding many, so that a flood of distinct junk
// tokens leaves nothing behind once its calls have returned.

// smallFlights is how many flights a shard's map may have held and still
// be kept when it empties: maps do not shrink, so one that held more is
// dropped then.
const smallFlights = 8

// flight is one verification that the calls presenting a token share.
type flight struct {
	done  chan struct{} // made by the first waiter, under the map's lock; closed when the flight lands
	entry *cacheEntry   // the verified token, when err is nil
	err   error         // a failure that does not depend on the call (a *runtime.Error)
	again bool          // no answer for the waiters: they start again (the leader's context ended its verification)
}

// flightMap is one cache shard's flights, by token.
type flightMap struct {
	mu   sync.Mutex
	m    map[string]*flight // nil when empty, or small
	peak int                // the most flights m has held
}

// join returns token's flight and false when one is in the air; else it
// starts one, which the caller leads (it must land it), and returns true.
func (fm *flightMap) join(token string) (*flight, bool) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if f := fm.m[token]; f != nil {
		if f.done == nil {
			f.done = make(chan struct{})
		}
		return f, false
	}
	if fm.m == nil {
		fm.m = make(map[string]*flight)
	}
	f := &flight{}
	fm.m[token] = f
	fm.peak = max(fm.peak, len(fm.m))
	return f, true
}

// land removes token's flight f and wakes its waiters. f's result is set
// before: the waiters read it once done is closed.
func (fm *flightMap) land(token string, f *flight) {
	fm.mu.Lock()
	delete(fm.m, token)
	if len(fm.m) == 0 && fm.peak > smallFlights {
		fm.m, fm.peak = nil, 0
	}
	done := f.done
	fm.mu.Unlock()
	if done != nil {
		close(done)
	}
}

// shared authenticates a call whose token s, its cache shard, did not
// answer: it leads the token's flight or waits for it.
func (a *Authenticator) shared(ctx context.Context, token string, s *cacheShard) (*runtime.Principal, error) {
	counted := false
	for {
		f, leader := s.flights.join(token)
		if leader {
			e, err := a.lead(ctx, token, s, f)
			if err != nil {
				return nil, err
			}
			return a.admit(ctx, token, e)
		}
		if !counted {
			counted = true
			s.coalesced.Add(1)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err() // as verify returns it when ctx ends its wait for keys
		}
		switch {
		case f.again:
			continue
		case f.err != nil:
			return nil, ownCopy(f.err)
		}
		return a.admit(ctx, token, f.entry)
	}
}

// lead verifies token for flight f of shard s, caches a success, and lands
// f with the result.
func (a *Authenticator) lead(ctx context.Context, token string, s *cacheShard, f *flight) (e *cacheEntry, err error) {
	f.again = true // until there is a result: a panic leaves the waiters to start again
	defer s.flights.land(token, f)
	s.mu.RLock()
	c := s.m[token]
	s.mu.RUnlock()
	if c != nil && a.entryUsable(c, a.cfg.now()) {
		// Stored by a flight that landed after this call missed the cache,
		// or one a cache hit refused only for this call's connection: it
		// needs no second verification.
		e = c
	} else if e, err = a.verifyCounted(ctx, token); err == nil {
		a.cache.put(token, e, a.cfg.now())
	}
	f.entry, f.err = e, err
	f.again = err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	return e, err
}

// alone verifies token for this call only: with the cache off (where every
// call verifies its own token), or the flights off (tests). A success is
// cached when the cache is on.
func (a *Authenticator) alone(ctx context.Context, token string) (*runtime.Principal, error) {
	e, err := a.verifyCounted(ctx, token)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		a.cache.put(token, e, a.cfg.now())
	}
	if err := bindingFails(ctx, e); err != nil {
		return nil, err
	}
	return e.principal, nil
}

// verifyCounted is verify, counted.
func (a *Authenticator) verifyCounted(ctx context.Context, token string) (*cacheEntry, error) {
	a.verifications.Add(1)
	_, e, err := a.verify(ctx, token)
	return e, err
}

// admit decides whether e, a verification of token that a flight just gave,
// answers this call, by what a cache hit checks: the token has not expired
// by now, the key that verified it is still usable, and its certificate
// binding, if any, holds on this call's connection. When the key set
// changed in between, the call verifies alone with the keys of now.
func (a *Authenticator) admit(ctx context.Context, token string, e *cacheEntry) (*runtime.Principal, error) {
	now := a.cfg.now()
	if !now.Before(e.expiry.Add(a.cfg.leeway)) {
		return nil, deny(runtime.ReasonTokenExpired, "the token has expired")
	}
	if !a.keyUsable(e, now) {
		return a.alone(ctx, token)
	}
	if err := bindingFails(ctx, e); err != nil {
		return nil, err
	}
	return e.principal, nil
}

// entryUsable reports whether e may stand for a verification at now: the
// token has not expired and its key is still usable.
func (a *Authenticator) entryUsable(e *cacheEntry, now time.Time) bool {
	return now.Before(e.expiry.Add(a.cfg.leeway)) && a.keyUsable(e, now)
}

// keyUsable reports whether the key that verified e is still the one its
// kid names in keys that may be used at now.
func (a *Authenticator) keyUsable(e *cacheEntry, now time.Time) bool {
	km := e.issuer.keys.current.Load()
	return km != nil && (e.issuer.cfg.staticKeys != nil || now.Before(km.staleAt)) && (km == e.keys || km.keyFor(e.kid) == e.key)
}

// bindingFails checks e's certificate binding, if it has one, on the call's
// connection. verify checks only the cnf claim's form: the binding belongs
// to the call, and verify's result is shared by the calls of a burst.
func bindingFails(ctx context.Context, e *cacheEntry) error {
	if e.cnf == "" {
		return nil
	}
	if err := runtime.CheckCertificateBinding(ctx, e.cnf); err != nil {
		return err
	}
	return nil
}

// ownCopy gives a waiter its own copy of a flight's denial, which it may
// annotate.
func ownCopy(err error) error {
	var re *runtime.Error
	if !errors.As(err, &re) {
		return err
	}
	c := *re
	c.Metadata = maps.Clone(re.Metadata)
	return &c
}
