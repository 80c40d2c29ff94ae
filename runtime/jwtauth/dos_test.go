// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// junkToken is a token of header and claims (JSON, encoded) and a junk
// signature: it never reaches a key lookup.
func junkToken(header, claims string) string {
	return b64([]byte(header)) + "." + b64([]byte(claims)) + "." + b64([]byte("sig"))
}

// repeatTo is {"x":[el,el,...,0]} of about n bytes.
func repeatTo(el string, n int) string {
	var b strings.Builder
	b.WriteString(`{"x":[`)
	for b.Len() < n {
		b.WriteString(el)
	}
	b.WriteString(`0]}`)
	return b.String()
}

// bytesPerCall is the memory one Authenticate of token allocates, in bytes.
func bytesPerCall(t *testing.T, a *jwtauth.Authenticator, token string) uint64 {
	t.Helper()
	const n = 20
	_, _ = a.Authenticate(t.Context(), token) // warm
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for range n {
		if _, err := a.Authenticate(t.Context(), token); err == nil {
			t.Fatal("a junk token was accepted")
		}
	}
	goruntime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / n
}

// TestJunkTokenAllocationBounded: a junk token at the size cap, refused
// before any key lookup, allocates memory in proportion to its size
// whatever its JSON holds: strings with an escape, a lone surrogate or
// invalid UTF-8, in values or in member names, in the claims or in the
// header. (The JSON decoder once gave each such string a buffer as long as
// all the input left after it: an 8 KiB token of short escaped strings
// allocated about 4 MB, 500 times its size.)
func TestJunkTokenAllocationBounded(t *testing.T) {
	a := newAuth(t, newIssuer(t))
	const size = 6000 // decoded JSON: the token is about 8 KiB, at the default cap
	const maxRatio = 32
	hdr := `{"alg":"ES256","typ":"at+jwt"}`
	names := func(name string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, `"%s%d":0,`, name, i)
		}
		b.WriteString(`"z":0}`)
		return b.String()
	}
	cases := map[string]string{
		"escaped strings":        junkToken(hdr, repeatTo(`"\n",`, size)),
		"escaped unicode":        junkToken(hdr, repeatTo(`"\u00e9",`, size)),
		"lone surrogates":        junkToken(hdr, repeatTo(`"\ud800",`, size)),
		"invalid UTF-8":          junkToken(hdr, repeatTo("\"\xff\",", size)),
		"escaped member names":   junkToken(hdr, names(`\n`)),
		"escaped header strings": junkToken(strings.Replace(repeatTo(`"\n",`, size), `{`, `{"alg":"ES256",`, 1), `{}`),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if len(tok) > jwtauth.DefaultMaxTokenSize {
				t.Fatalf("test setup: token of %d bytes is over the cap", len(tok))
			}
			if got := bytesPerCall(t, a, tok); got > maxRatio*uint64(len(tok)) {
				t.Errorf("a %d-byte junk token allocates %d bytes (%dx its size); want at most %dx", len(tok), got, got/uint64(len(tok)), maxRatio)
			}
		})
	}
}

// fastest is the time of the fastest of several runs of rounds
// Authenticate calls of token, each refused, per call.
func fastest(t *testing.T, a *jwtauth.Authenticator, token string, rounds int) time.Duration {
	t.Helper()
	_, _ = a.Authenticate(t.Context(), token) // warm: a key fetch, the first time
	best := time.Duration(1 << 62)
	for range 7 {
		start := time.Now()
		for range rounds {
			if _, err := a.Authenticate(t.Context(), token); err == nil {
				t.Fatal("a junk token was accepted")
			}
		}
		best = min(best, time.Since(start)/time.Duration(rounds))
	}
	return best
}

// TestHeaderMembersLinearTime: a junk token whose header has many
// distinct members is refused in time linear in its size: the header's
// member names are checked for duplicates without comparing each with
// every other (a token eight times longer takes about eight times as
// long, not 64). Timed as the fastest of several runs of each size.
func TestHeaderMembersLinearTime(t *testing.T) {
	a := newAuth(t, newIssuer(t), jwtauth.MaxTokenSize(1<<17))
	header := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"alg":"ES256"`)
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, `,"%x":0`, i)
		}
		b.WriteString("}")
		return junkToken(b.String(), `{}`)
	}
	small, large := header(6000), header(8*6000)
	ts, tl := fastest(t, a, small, 40), fastest(t, a, large, 5)
	if ratio := float64(tl) / float64(ts); ratio > 24 {
		t.Errorf("a header of %d bytes takes %v, one of %d bytes %v: %.0fx for 8x the size; want about 8x", len(small), ts, len(large), tl, ratio)
	}
}

// TestHeaderDuplicateMembersAmongMany: a member named twice in a header
// of many members is refused wherever the two are: the names are kept in
// an array while they are few and in a map past that, and a duplicate is
// found in both, across the switch.
func TestHeaderDuplicateMembersAmongMany(t *testing.T) {
	a := newAuth(t, newIssuer(t))
	members := func(names ...string) string {
		var b strings.Builder
		b.WriteString(`{"alg":"ES256","typ":"at+jwt"`)
		for _, n := range names {
			fmt.Fprintf(&b, `,%q:0`, n)
		}
		b.WriteString("}")
		return junkToken(b.String(), `{"iss":"https://untrusted.example"}`)
	}
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("m%d", i))
	}
	mustDeny(t, a, members(many...), runtime.ReasonIssuerUntrusted) // read: the header is well formed
	for _, dup := range []struct {
		name string
		at   int
	}{{"alg", 3}, {"alg", 7}, {"alg", 15}, {"typ", 6}, {"typ", 19}, {"m0", 5}, {"m0", 6}, {"m2", 12}, {"m9", 10}, {"m12", 19}} {
		names := append(append(append([]string(nil), many[:dup.at]...), dup.name), many[dup.at:]...)
		t.Run(fmt.Sprintf("%s_at_%d", dup.name, dup.at), func(t *testing.T) {
			mustDeny(t, a, members(names...), runtime.ReasonCredentialsMalformed)
		})
	}
}

// TestScopeClaimLinearTime: the scopes of a token are read in time linear
// in their number. They are read before the signature is checked, so any
// caller chooses them (with a trusted iss, the audience and times right,
// and a junk signature): a scope claim of many distinct scopes once took
// time quadratic in their number, each compared with all before it.
func TestScopeClaimLinearTime(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss, jwtauth.MaxTokenSize(1<<17))
	token := func(n int) string {
		scopes := make([]string, n)
		for i := range scopes {
			scopes[i] = fmt.Sprintf("%x", i)
		}
		c := claimsFor(iss.URL(), time.Now())
		c["scope"] = strings.Join(scopes, " ")
		return b64([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"unknown"}`)) + "." + b64JSON(t, c) + "." + b64([]byte("sig"))
	}
	small, large := token(1200), token(8*1200)
	ts, tl := fastest(t, a, small, 40), fastest(t, a, large, 5)
	if ratio := float64(tl) / float64(ts); ratio > 24 {
		t.Errorf("a scope claim of %d scopes takes %v, one of %d %v: %.0fx for 8x as many; want about 8x", 1200, ts, 8*1200, tl, ratio)
	}
}

// TestManyScopesDedupedInOrder: a token's scopes are its distinct scopes
// in the order they first appear, past the few that are compared one by
// one as well as before.
func TestManyScopesDedupedInOrder(t *testing.T) {
	iss := newIssuer(t)
	a := newAuth(t, iss)
	var want []string
	for i := range 40 {
		want = append(want, fmt.Sprintf("s%d", i))
	}
	sent := append(append([]string(nil), want[:20]...), "s3", "s19", "s0")
	sent = append(append(sent, want[20:]...), "s39", "s20", "s1", "s16", "s17")
	got := mustAccept(t, a, iss.Mint(authtest.Scopes(sent...))).Scopes
	if !slices.Equal(got, want) {
		t.Errorf("scopes %q; want %q", got, want)
	}
}
