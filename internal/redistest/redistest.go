// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package redistest runs tests against a real Redis server, shared with
// other tests and people: each test works under a key prefix of its own
// and deletes its keys when it ends, and never stops, reconfigures or
// flushes the server. Outages are made with a loopback TCP [Proxy]
// between the code under test and Redis.
//
// Where the server is: GRPCAUTH_REDIS_ADDR (host:port). When it is not
// set, the tests are skipped with a message saying how to run them,
// except under CI (CI=true, as .ci/run sets it), where the address
// defaults to 127.0.0.1:6379 and an unreachable server fails them.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr is the environment variable that holds the Redis address.
const EnvAddr = "GRPCAUTH_REDIS_ADDR"

// SkipMessage is what a skipped test says.
const SkipMessage = "Redis tests skipped: " + EnvAddr + " is not set; run them with a Redis 7 server " +
	"(nothing kept on disk is needed) and " + EnvAddr + "=127.0.0.1:6379 (CI runs them)"

// Addr returns the Redis server's address. It skips the test when none is
// configured (outside CI) and fails it when the server does not answer.
func Addr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		if os.Getenv("CI") != "true" {
			tb.Skip(SkipMessage)
		}
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s does not answer: %v (set %s to a running Redis 7; under CI=true the Redis tests must run)", addr, err, EnvAddr)
	}
	return addr
}

// Client returns a client of the server at addr with short timeouts,
// closed when the test ends.
func Client(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(Options(addr))
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Options are the client options the tests use: short timeouts, so that
// an outage is noticed quickly, and no retries.
func Options(addr string) *redis.Options {
	return &redis.Options{
		Addr:         addr,
		DialTimeout:  300 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		PoolTimeout:  500 * time.Millisecond,
		MaxRetries:   -1,
	}
}

// Prefix returns a key prefix no other test uses, with a hash tag, and
// deletes every key under it when the test ends.
func Prefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "grpcauthtest:{" + hex.EncodeToString(b) + "}:"
	tb.Cleanup(func() { DeleteKeys(tb, c, p) })
	return p
}

// Keys returns every key under prefix.
func Keys(tb testing.TB, c *redis.Client, prefix string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("redistest: scan %s*: %v", prefix, err)
	}
	return keys
}

// DeleteKeys deletes every key under prefix: for a test, what a restart of
// a Redis that keeps nothing on disk does to its keys.
func DeleteKeys(tb testing.TB, c *redis.Client, prefix string) {
	tb.Helper()
	keys := Keys(tb, c, prefix)
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("redistest: delete: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// Dump returns everything stored under prefix as text, one string per
// key, member, field or value, for tests that look for what must never be
// stored.
func Dump(tb testing.TB, c *redis.Client, prefix string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for _, k := range Keys(tb, c, prefix) {
		out = append(out, k)
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			tb.Fatal(err)
		}
		switch typ {
		case "string":
			v, _ := c.Get(ctx, k).Result()
			out = append(out, v)
		case "zset":
			zs, _ := c.ZRangeWithScores(ctx, k, 0, -1).Result()
			for _, z := range zs {
				out = append(out, z.Member.(string))
			}
		case "hash":
			h, _ := c.HGetAll(ctx, k).Result()
			for f, v := range h {
				out = append(out, f, v)
			}
		default:
			tb.Fatalf("redistest: key %s of type %s", k, typ)
		}
	}
	return out
}

// Proxy is a loopback TCP proxy to a Redis server that a test can cut,
// stall and restore: the way to make Redis unreachable, or to drop every
// client's connection as a restart does, without touching the server.
type Proxy struct {
	target string
	lis    net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	cut     bool // refuse new connections
	stalled bool // forward nothing
}

// NewProxy starts a proxy to target; it stops when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: target, lis: lis, conns: map[net.Conn]struct{}{}}
	go p.accept()
	tb.Cleanup(func() {
		_ = lis.Close()
		p.DropConnections()
	})
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		if !cut {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		p.drop(client)
		return
	}
	p.mu.Lock()
	if _, ok := p.conns[client]; !ok { // dropped meanwhile
		p.mu.Unlock()
		_ = server.Close()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	copyConn := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.isStalled() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go copyConn(server, client)
	go copyConn(client, server)
	<-done
	p.drop(client)
	p.drop(server)
}

func (p *Proxy) isStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// DropConnections closes every connection through the proxy, as a Redis
// restart does to its clients, and keeps accepting new ones.
func (p *Proxy) DropConnections() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

// Cut makes Redis unreachable: it closes every connection and closes new
// ones at once, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.DropConnections()
}

// Stall makes Redis silently unreachable, as a network partition does:
// connections stay open and new ones are accepted, but nothing is
// forwarded, until Restore.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Restore ends a Cut or a Stall. The connections a Stall held (whose
// traffic was lost) are closed, as they would be once a long partition
// ends.
func (p *Proxy) Restore() {
	p.mu.Lock()
	wasStalled := p.stalled
	p.cut, p.stalled = false, false
	p.mu.Unlock()
	if wasStalled {
		p.DropConnections()
	}
}

// ErrTimeout is returned by Eventually.
var ErrTimeout = errors.New("redistest: condition not met in time")

// Eventually polls cond every millisecond until it holds or within
// passes, and returns how long it took.
func Eventually(within time.Duration, cond func() bool) (time.Duration, error) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), nil
		}
		if time.Since(start) > within {
			return time.Since(start), ErrTimeout
		}
		time.Sleep(time.Millisecond)
	}
}
