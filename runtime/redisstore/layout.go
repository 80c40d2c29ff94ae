// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The data in Redis, under the prefix P:
//
//	P tokens          sorted set: member id(iss, jti), score = drop time (unix ms)
//	P subjects        hash: field id(iss, sub) → "<before, unix µs> <drop time, unix ms>"
//	P subjects:drop   sorted set: member id(iss, sub), score = drop time (unix ms)
//	P events          pub/sub channel, one message per write:
//	                    "t <drop ms> <id>"              a token's revocation
//	                    "s <before µs> <drop ms> <id>"  a subject's revocation
//	                    "r"                             "resynchronise": entries were written back
//
// id(a, b) is "<len(a)>:<a><b>": unambiguous whatever a and b hold. The
// drop time is the writer's: a token's exp plus the grace period, a
// subject's time plus the retention. Entries due are removed by every
// write and every resync (the sorted sets index them by drop time), and
// each key expires with its last entry, so Redis holds nothing past its
// use. Revoking again keeps the later times (ZADD GT; the subject's
// script keeps the maximum of each).
type layout struct {
	tokens, subjects, subjectsDrop, channel string
}

func newLayout(prefix string) layout {
	return layout{
		tokens:       prefix + "tokens",
		subjects:     prefix + "subjects",
		subjectsDrop: prefix + "subjects:drop",
		channel:      prefix + "events",
	}
}

func id(a, b string) string {
	return strconv.Itoa(len(a)) + ":" + a + b
}

var errMalformed = errors.New("malformed entry")

func parseID(s string) (a, b string, err error) {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return "", "", errMalformed
	}
	n, err := strconv.Atoi(s[:colon])
	if err != nil || n < 0 || n > len(s)-colon-1 {
		return "", "", errMalformed
	}
	rest := s[colon+1:]
	return rest[:n], rest[n:], nil
}

// parseSubjectValue reads "<before µs> <drop ms>".
func parseSubjectValue(v string) (before, drop time.Time, err error) {
	b, d, ok := strings.Cut(v, " ")
	if !ok {
		return before, drop, errMalformed
	}
	bu, err1 := strconv.ParseInt(b, 10, 64)
	dm, err2 := strconv.ParseInt(d, 10, 64)
	if err1 != nil || err2 != nil {
		return before, drop, errMalformed
	}
	return time.UnixMicro(bu), time.UnixMilli(dm), nil
}

// ceilMicro and ceilMilli round up: an entry is never shortened.
func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%1e6 != 0 {
		ms++
	}
	return ms
}

// revokeTokenScript records a token: KEYS tokens; ARGV drop ms, id, now ms,
// channel. It removes the entries due, sets the key to expire with its
// last entry and publishes the entry as it now stands.
var revokeTokenScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
if score then redis.call('PUBLISH', ARGV[4], 't ' .. score .. ' ' .. ARGV[2]) end
return 1
`)

// revokeSubjectScript records a subject: KEYS subjects, subjects:drop;
// ARGV id, before µs, drop ms, now ms, channel ("" publishes nothing). It
// keeps the later of each time.
var revokeSubjectScript = redis.NewScript(`
local b, d = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local sp = string.find(old, ' ', 1, true)
  if sp then
    local ob, od = tonumber(string.sub(old, 1, sp - 1)), tonumber(string.sub(old, sp + 1))
    if ob and ob > b then b = ob end
    if od and od > d then d = od end
  end
end
local v = string.format('%d %d', b, d)
redis.call('HSET', KEYS[1], ARGV[1], v)
redis.call('ZADD', KEYS[2], d, ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
for _, f in ipairs(due) do redis.call('HDEL', KEYS[1], f) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('PEXPIREAT', KEYS[2], last[2])
end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('PUBLISH', ARGV[5], 's ' .. v .. ' ' .. ARGV[1])
end
return v
`)

// trimScript removes the entries due and sets each key to expire with its
// last entry: KEYS tokens, subjects, subjects:drop; ARGV now ms. It
// returns how many tokens and subjects remain.
var trimScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
for _, f in ipairs(due) do redis.call('HDEL', KEYS[2], f) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
local t = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if t[2] then redis.call('PEXPIREAT', KEYS[1], t[2]) end
local s = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
if s[2] then
  redis.call('PEXPIREAT', KEYS[2], s[2])
  redis.call('PEXPIREAT', KEYS[3], s[2])
end
return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}
`)
