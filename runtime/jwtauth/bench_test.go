// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// BenchmarkVerify compares, per algorithm, the bare signature check (the
// standard library verifying the token's signature over its signing input,
// nothing else) with the cold path of the authenticator (parse, claims,
// key lookup and signature, cache off) and its hot path (a token verified
// before). lib_ is go-jose alone parsing the compact JWS and verifying its
// signature with the key at hand: the least a cold path that leaves JOSE to
// the library can cost. scripts/bench.sh prints each row over bare.
func BenchmarkVerify(b *testing.B) {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	for _, alg := range algs {
		token := iss.Mint(authtest.Algorithm(string(alg)), authtest.Scopes("a", "b"), authtest.Claim("tenant", "acme"))
		b.Run("bare_"+string(alg), func(b *testing.B) {
			verify := bareVerifier(b, iss, alg, token)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !verify() {
					b.Fatal("bad signature")
				}
			}
		})
		b.Run("lib_"+string(alg), func(b *testing.B) {
			pub := iss.PublicKey(strings.ToLower(string(alg)) + "-1")
			allow := []jose.SignatureAlgorithm{alg}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				jws, err := jose.ParseSignedCompact(token, allow)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(pub); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, c := range []struct {
			name string
			size int
		}{{"cold_", 0}, {"hot_", jwtauth.DefaultCacheSize}} {
			b.Run(c.name+string(alg), func(b *testing.B) {
				a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())), jwtauth.CacheSize(c.size))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if _, err := a.Authenticate(ctx, token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := a.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// bareVerifier returns the standard library's check of token's signature.
func bareVerifier(b *testing.B, iss *authtest.Issuer, alg jose.SignatureAlgorithm, token string) func() bool {
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(token[:dot])
	pub := iss.PublicKey(strings.ToLower(string(alg)) + "-1")
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return func() bool {
			h := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return func() bool {
			h := sha256.Sum256(input)
			return ecdsa.Verify(k, h[:], r, s)
		}
	case ed25519.PublicKey:
		return func() bool { return ed25519.Verify(k, input, sig) }
	}
	b.Fatalf("no key for %s", alg)
	return nil
}

// BenchmarkKeySet: the cold path with 1 and 100 keys in the set.
func BenchmarkKeySet(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
			if err != nil {
				b.Fatal(err)
			}
			defer iss.Close()
			for i := 3; i < n; i++ { // the issuer starts with 3 keys
				if _, err := iss.AddKey("EdDSA"); err != nil {
					b.Fatal(err)
				}
			}
			keys := jwtauth.StaticJWKS(iss.JWKS())
			if n == 1 {
				keys = jwtauth.StaticKey("eddsa-1", "EdDSA", iss.PublicKey("eddsa-1")) // eddsa-1 only
			}
			a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), keys), jwtauth.CacheSize(0))
			if err != nil {
				b.Fatal(err)
			}
			token := iss.Mint(authtest.KeyID("eddsa-1"), authtest.Algorithm("EdDSA"))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := a.Authenticate(context.Background(), token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCacheChurn: a cache at capacity that keeps evicting, with a
// working set twice its size (half the calls miss), and the memory one
// cached entry takes.
func BenchmarkCacheChurn(b *testing.B) {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	const capacity = 512
	tokens := make([]string, 2*capacity)
	for i := range tokens {
		tokens[i] = iss.Mint(authtest.Algorithm("EdDSA"), authtest.Claim("n", i), authtest.Scopes("library.read"), authtest.ExpiresIn(time.Hour))
	}
	b.Run("capacity=512_working_set=1024", func(b *testing.B) {
		a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())), jwtauth.CacheSize(capacity))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := a.Authenticate(context.Background(), tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bytes_per_entry", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())), jwtauth.CacheSize(len(tokens)))
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for _, t := range tokens {
				if _, err := a.Authenticate(context.Background(), t); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(jwtauth.CacheLen(a)), "B/entry")
			b.ReportMetric(float64(len(tokens[0])), "token-bytes")
			runtime.KeepAlive(a)
		}
	})
}

// BenchmarkIssuers: an authenticator trusting 1 or 20 issuers, each with
// keys of its own; a token of the last one given, cold (cache off: routed
// by its iss, then verified) and hot (a token verified before: no routing
// at all). The cost should not depend on the number of issuers: routing is
// one map lookup on the iss the claims decode gives anyway.
func BenchmarkIssuers(b *testing.B) {
	var issuers []*authtest.Issuer
	for i := range 20 {
		iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"), authtest.KeyIDPrefix(fmt.Sprintf("i%d-", i)), authtest.IssuerPath(fmt.Sprintf("/tenant%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer iss.Close()
		issuers = append(issuers, iss)
	}
	for _, n := range []int{1, 20} {
		for _, c := range []struct {
			name string
			size int
		}{{"cold", 0}, {"hot", jwtauth.DefaultCacheSize}} {
			b.Run(fmt.Sprintf("%s/issuers=%d", c.name, n), func(b *testing.B) {
				opts := []jwtauth.Option{jwtauth.CacheSize(c.size)}
				for _, iss := range issuers[:n] {
					opts = append(opts, jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())))
				}
				a, err := jwtauth.New(opts...)
				if err != nil {
					b.Fatal(err)
				}
				token := issuers[n-1].Mint(authtest.Algorithm("ES256"), authtest.Scopes("a", "b"))
				ctx := context.Background()
				if _, err := a.Authenticate(ctx, token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := a.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkBurst: a burst of one new token, 100 concurrent first calls of
// a token the authenticator has not seen, released together, per
// iteration; the cache on, the burst's verification shared (flight) or, for
// comparison, every call that misses the cache verifying alone (no_flight,
// an internal switch). It reports the verifications per burst: 1 with the
// flight; without it, every call that misses the cache before the first
// one to verify has stored the token.
func BenchmarkBurst(b *testing.B) {
	iss, err := authtest.StartIssuer(authtest.DefaultAudience("library"))
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	const n = 100
	for _, c := range []struct {
		name   string
		flight bool
	}{{"flight", true}, {"no_flight", false}} {
		b.Run(c.name, func(b *testing.B) {
			a, err := jwtauth.New(jwtauth.Issuer(iss.URL(), jwtauth.Audience("library"), jwtauth.StaticJWKS(iss.JWKS())))
			if err != nil {
				b.Fatal(err)
			}
			jwtauth.SetFlights(a, c.flight)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				token := iss.Mint(authtest.Claim("n", i), authtest.Scopes("library.read"))
				var ready, done sync.WaitGroup
				start := make(chan struct{})
				for range n {
					ready.Add(1)
					done.Go(func() {
						ready.Done()
						<-start
						if _, err := a.Authenticate(ctx, token); err != nil {
							b.Error(err)
						}
					})
				}
				ready.Wait()
				b.StartTimer()
				close(start)
				done.Wait()
			}
			b.StopTimer()
			st := a.CacheStats()
			b.ReportMetric(float64(jwtauth.Verifications(a))/float64(b.N), "verifications/burst")
			b.ReportMetric(float64(st.Coalesced)/float64(b.N), "coalesced/burst")
			b.ReportMetric(float64(st.Hits)/float64(b.N), "hits/burst")
		})
	}
}
