// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the system clock as it read at its last tick, for the
// stream guards on the system clock: a guard checks its instants at every
// receive and send, and most checks are minutes away from either, which a
// reading up to a tick old tells as well as the clock itself, for an
// atomic load where a read of the clock costs about a hundred
// instructions. A guard trusts a reading only while it is more than
// coarseSlack before the instant it checks, and reads the clock itself
// from then on, so an instant is kept as exactly as by the clock, as long
// as a tick runs less than a second late (a process starved of CPU for a
// second, which delays the timers of the guards that derived their
// context as much).
//
// It ticks only while it is read: the first read when it is not ticking
// starts it (and is answered 0: read the clock), and a tick that finds it
// was not read since the last one stops it. Nothing of it runs in a
// process without guarded streams, nor for long after the last one.
type coarseClock struct {
	// now is the Unix nanoseconds at the last tick, its lowest bit set
	// once it has been read since (a nanosecond, which nothing of a
	// guard tells apart); 0: not ticking.
	now atomic.Int64

	mu    sync.Mutex // serialises start and tick
	timer *time.Timer
}

const (
	// coarseTick is how often the coarse clock ticks while it is read.
	coarseTick = 250 * time.Millisecond
	// coarseSlack is how far before an instant a guard stops trusting
	// the coarse clock: a reading is at most coarseTick old while the
	// ticks are on time, and a second more is left for a late one.
	coarseSlack = int64(coarseTick + time.Second)
)

// coarse is the process's coarse clock: one for every enforcer, since
// they share the system clock.
var coarse coarseClock

// load returns the last tick's reading, or 0 when the clock is not ticking
// (the caller reads the clock itself), which starts it. Small enough to
// be inlined: a guard loads it at every message.
func (c *coarseClock) load() int64 {
	if n := c.now.Load(); n&1 != 0 {
		return n
	}
	return c.loadSlow()
}

// loadSlow is load's first read since a tick: it marks the reading read,
// a store once a tick where every other read only loads the line they
// share, or starts the clock. (A tick that replaced the reading meanwhile
// leaves its own unmarked: the next read marks it.)
func (c *coarseClock) loadSlow() int64 {
	n := c.now.Load()
	if n == 0 {
		c.start()
		return 0
	}
	c.now.CompareAndSwap(n, n|1)
	return n | 1
}

// trusts reports whether n, a reading of the coarse clock (load), tells
// that the system clock is still more than coarseSlack before at (Unix
// nanoseconds): false when it cannot tell (n is 0), and the caller reads
// the clock.
func trusts(n, at int64) bool {
	return n != 0 && n+coarseSlack < at // set keeps n+coarseSlack from overflowing
}

// start makes the clock tick, unless it does.
func (c *coarseClock) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.Load() != 0 {
		return
	}
	c.set(1) // marked read: the first tick does not stop it
	if c.timer == nil {
		c.timer = time.AfterFunc(coarseTick, c.tick)
	} else {
		c.timer.Reset(coarseTick)
	}
}

// tick reads the clock again, or stops the coarse clock when nothing read
// it since the last tick. It runs in the timer's goroutine, one at a time
// (the timer is set again only at its end).
func (c *coarseClock) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.Load()&1 == 0 {
		c.now.Store(0)
		return
	}
	c.set(0)
	c.timer.Reset(coarseTick)
}

// set stores the clock's reading with read as its lowest bit, kept where
// an instant's comparison with it, slack and all, cannot overflow, and
// from being 0.
func (c *coarseClock) set(read int64) {
	c.now.Store(min(max(unixNano(time.Now()), 2), math.MaxInt64-coarseSlack)&^1 | read)
}
