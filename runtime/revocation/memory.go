// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package revocation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Defaults of the options.
const (
	// DefaultGrace is how long a token's entry outlives the token's exp:
	// a verifier accepts a token for its leeway past exp (jwtauth's
	// default is 30s), and replicas' clocks differ.
	DefaultGrace = 5 * time.Minute
	// DefaultSubjectRetention is how long a subject's entry is kept after
	// its time: it should be at least the longest lifetime of the
	// issuer's tokens, since a token issued before the time and living
	// longer than this is accepted again once the entry is dropped.
	DefaultSubjectRetention = 24 * time.Hour
	// DefaultMaxEntries bounds the entries of a store (tokens and
	// subjects together): about 150 MB at about 150 bytes each.
	DefaultMaxEntries = 1_000_000
)

// Errors.
var (
	// ErrInvalidOption is wrapped by every error [NewMemory] returns.
	ErrInvalidOption = errors.New("revocation: invalid option")
	// ErrFull is returned by a revocation that would take a store past
	// its [MaxEntries]: the revocation is not recorded; those already
	// recorded are still enforced. Nothing is evicted to make room.
	ErrFull = errors.New("revocation: store full")
	// ErrInvalidRevocation is returned for a revocation without an
	// issuer, a jti or a subject.
	ErrInvalidRevocation = errors.New("revocation: invalid revocation")
)

// Option configures a [Memory].
type Option func(*config) error

type config struct {
	grace      time.Duration
	retention  time.Duration
	maxEntries int
	now        func() time.Time
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// Grace sets how long a token's entry is kept after the token's exp
// (default [DefaultGrace]). It must cover the verifier's leeway (jwtauth's
// Leeway) and the skew between replicas' clocks.
func Grace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errorf("Grace: %s is negative", d)
		}
		c.grace = d
		return nil
	}
}

// SubjectRetention sets how long a subject's entry is kept after its time
// (default [DefaultSubjectRetention]): at least the longest lifetime of
// the issuer's tokens plus the verifier's leeway.
func SubjectRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errorf("SubjectRetention: %s is not positive", d)
		}
		c.retention = d
		return nil
	}
}

// MaxEntries bounds how many entries (tokens and subjects) the store
// holds (default [DefaultMaxEntries]). A revocation beyond it fails with
// [ErrFull].
func MaxEntries(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errorf("MaxEntries: %d is under 1", n)
		}
		c.maxEntries = n
		return nil
	}
}

// Clock sets the time source, for tests.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errorf("Clock: nil")
		}
		c.now = now
		return nil
	}
}

// tokenKey and subjectKey key the maps by issuer and ID without building
// a string per lookup.
type tokenKey struct{ iss, jti string }

type subjectKey struct{ iss, sub string }

type subjectEntry struct {
	before int64 // unix nanoseconds: tokens issued before are revoked
	drop   int64 // unix seconds
}

// bucketSeconds is the width of the expiry buckets: an entry is dropped
// within this long after its time.
const bucketSeconds = 60

// bucket lists the entries whose drop time falls in one bucketSeconds
// window. A key may also be listed in an earlier bucket, from before its
// drop time was extended; the sweep checks the map.
type bucket struct {
	tokens   []tokenKey
	subjects []subjectKey
}

// maxInterned bounds the issuer strings shared between entries.
const maxInterned = 1024

// Memory is an in-process [runtime.RevocationStore]. It is safe for
// concurrent use; share one between the enforcers of a process. Revoked
// takes a read lock and one or two map lookups, and none when the store
// is empty; it never allocates.
type Memory struct {
	cfg config

	n atomic.Int64 // entries, so that an empty store answers without a lock

	mu        sync.RWMutex
	tokens    map[tokenKey]int64 // → drop time, unix seconds
	subjects  map[subjectKey]subjectEntry
	buckets   map[int64]*bucket // drop time / bucketSeconds → entries
	issuers   map[string]string // interned issuers
	nextSweep int64             // unix seconds
}

var _ runtime.RevocationStore = (*Memory)(nil)

// NewMemory returns an empty store configured by opts. Errors wrap
// [ErrInvalidOption].
func NewMemory(opts ...Option) (*Memory, error) {
	cfg := config{grace: DefaultGrace, retention: DefaultSubjectRetention, maxEntries: DefaultMaxEntries, now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, errorf("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Memory{
		cfg:      cfg,
		tokens:   make(map[tokenKey]int64),
		subjects: make(map[subjectKey]subjectEntry),
		buckets:  make(map[int64]*bucket),
		issuers:  make(map[string]string),
	}, nil
}

// Revoked reports whether the token is revoked (see
// [runtime.RevocationStore]). It never fails.
func (m *Memory) Revoked(iss, sub, jti string, issuedAt time.Time) (bool, error) {
	if m.n.Load() == 0 {
		return false, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if jti != "" {
		if _, ok := m.tokens[tokenKey{iss, jti}]; ok {
			return true, nil
		}
	}
	if len(m.subjects) > 0 {
		if e, ok := m.subjects[subjectKey{iss, sub}]; ok && (issuedAt.IsZero() || issuedAt.Before(time.Unix(0, e.before))) {
			return true, nil
		}
	}
	return false, nil
}

// RevokeToken revokes the token of iss with ID jti until its exp, until,
// plus the grace period. A token already past that is not recorded. It
// fails with [ErrFull] when the store is full.
func (m *Memory) RevokeToken(_ context.Context, iss, jti string, until time.Time) error {
	if iss == "" || jti == "" {
		return fmt.Errorf("%w: RevokeToken needs an issuer and a jti", ErrInvalidRevocation)
	}
	return m.PutToken(iss, jti, until.Add(m.cfg.grace))
}

// RevokeSubject revokes every token of iss and sub issued before before.
// The entry is kept until before plus the subject retention. Revoking a
// subject again keeps the later time. It fails with [ErrFull] when the
// store is full.
func (m *Memory) RevokeSubject(_ context.Context, iss, sub string, before time.Time) error {
	if iss == "" || sub == "" {
		return fmt.Errorf("%w: RevokeSubject needs an issuer and a subject", ErrInvalidRevocation)
	}
	return m.PutSubject(iss, sub, before, before.Add(m.cfg.retention))
}

// PutToken records a token's revocation with the time its entry is
// dropped, drop, as it is: for stores that mirror another one into a
// Memory (runtime/redisstore), where the writer chose drop. A token
// already recorded keeps the later drop time. An entry already due is not
// recorded.
func (m *Memory) PutToken(iss, jti string, drop time.Time) error {
	d := ceilUnix(drop)
	now := m.cfg.now().Unix()
	if d <= now {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweepLocked(now)
	k := tokenKey{iss, jti}
	old, ok := m.tokens[k]
	if ok && old >= d {
		return nil
	}
	if !ok {
		if m.fullLocked(now) {
			return ErrFull
		}
		k = tokenKey{m.internLocked(iss), strings.Clone(jti)}
		m.n.Add(1)
	}
	m.tokens[k] = d
	b := m.bucketLocked(d)
	b.tokens = append(b.tokens, k)
	return nil
}

// PutSubject records a subject's revocation of the tokens issued before
// before, with the time its entry is dropped, drop, as it is (see
// [Memory.PutToken]). A subject already recorded keeps the later of each
// time.
func (m *Memory) PutSubject(iss, sub string, before, drop time.Time) error {
	d := ceilUnix(drop)
	now := m.cfg.now().Unix()
	if d <= now {
		return nil
	}
	b := before.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweepLocked(now)
	k := subjectKey{iss, sub}
	old, ok := m.subjects[k]
	if ok && old.before >= b && old.drop >= d {
		return nil
	}
	if !ok {
		if m.fullLocked(now) {
			return ErrFull
		}
		k = subjectKey{m.internLocked(iss), strings.Clone(sub)}
		m.n.Add(1)
	}
	e := subjectEntry{before: b, drop: d}
	if ok {
		e = subjectEntry{before: max(b, old.before), drop: max(d, old.drop)}
	}
	m.subjects[k] = e
	if e.drop != old.drop {
		bk := m.bucketLocked(e.drop)
		bk.subjects = append(bk.subjects, k)
	}
	return nil
}

// ceilUnix is t in unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func (m *Memory) fullLocked(now int64) bool {
	if len(m.tokens)+len(m.subjects) < m.cfg.maxEntries {
		return false
	}
	m.sweepLocked(now, false)
	return len(m.tokens)+len(m.subjects) >= m.cfg.maxEntries
}

func (m *Memory) internLocked(iss string) string {
	if s, ok := m.issuers[iss]; ok {
		return s
	}
	s := strings.Clone(iss)
	if len(m.issuers) < maxInterned {
		m.issuers[s] = s
	}
	return s
}

func (m *Memory) bucketLocked(drop int64) *bucket {
	id := drop / bucketSeconds
	b := m.buckets[id]
	if b == nil {
		b = &bucket{}
		m.buckets[id] = b
	}
	return b
}

// Sweep drops the entries that are due. Writes sweep as they go, at most
// once a bucket width; call Sweep to free memory in a store that is no
// longer written to.
func (m *Memory) Sweep() {
	now := m.cfg.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now, true)
}

func (m *Memory) maybeSweepLocked(now int64) {
	if now >= m.nextSweep {
		m.sweepLocked(now, true)
	}
}

// sweepLocked drops the entries of every bucket that has ended by now.
// With yield, it releases the lock after a large bucket so that readers
// are never held up for long.
func (m *Memory) sweepLocked(now int64, yield bool) {
	m.nextSweep = now + bucketSeconds
	var due []int64
	for id := range m.buckets {
		if (id+1)*bucketSeconds <= now {
			due = append(due, id)
		}
	}
	for _, id := range due {
		b := m.buckets[id]
		if b == nil {
			continue
		}
		delete(m.buckets, id)
		for _, k := range b.tokens {
			if d, ok := m.tokens[k]; ok && d <= now {
				delete(m.tokens, k)
				m.n.Add(-1)
			}
		}
		for _, k := range b.subjects {
			if e, ok := m.subjects[k]; ok && e.drop <= now {
				delete(m.subjects, k)
				m.n.Add(-1)
			}
		}
		if yield && len(b.tokens)+len(b.subjects) > 1024 {
			m.mu.Unlock() // let readers in between large buckets
			m.mu.Lock()
		}
	}
}

// Len returns how many tokens and subjects the store holds.
func (m *Memory) Len() (tokens, subjects int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tokens), len(m.subjects)
}

// Live counts the entries whose drop time is after at (Len also counts
// those due but not yet swept). It visits every entry under the read lock.
func (m *Memory) Live(at time.Time) (tokens, subjects int) {
	now := at.Unix()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, d := range m.tokens {
		if d > now {
			tokens++
		}
	}
	for _, e := range m.subjects {
		if e.drop > now {
			subjects++
		}
	}
	return tokens, subjects
}

// Entry is one revocation, as [Memory.Entries] lists it.
type Entry struct {
	// Issuer is the iss of the revoked token or tokens.
	Issuer string
	// JTI is the revoked token's ID; empty for a subject's entry.
	JTI string
	// Subject is the subject whose tokens are revoked; empty for a
	// token's entry.
	Subject string
	// Before is the subject's time: its tokens issued before it are
	// revoked. Zero for a token's entry.
	Before time.Time
	// Drop is when the entry is dropped.
	Drop time.Time
}

// Entries returns a copy of every entry whose drop time is after at, for
// a store that writes back what its mirror holds (runtime/redisstore). It
// holds the read lock while it copies.
func (m *Memory) Entries(at time.Time) []Entry {
	now := at.Unix()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Entry, 0, len(m.tokens)+len(m.subjects))
	for k, d := range m.tokens {
		if d > now {
			out = append(out, Entry{Issuer: k.iss, JTI: k.jti, Drop: time.Unix(d, 0)})
		}
	}
	for k, e := range m.subjects {
		if e.drop > now {
			out = append(out, Entry{Issuer: k.iss, Subject: k.sub, Before: time.Unix(0, e.before), Drop: time.Unix(e.drop, 0)})
		}
	}
	return out
}
