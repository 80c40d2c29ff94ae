// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The key-set policy: which JWKs of a set are trusted, decided once per
// fetched set (or at New for StaticJWKS and StaticKey), never per call. The package doc
// has it as a table.

// minRSABits is the smallest RSA modulus a key may have (RFC 7518 §3.3).
// The largest is go-jose's: jose.MaxRSAModulusBits, 4096 unless the
// program raises it; a larger key cannot be read.
const minRSABits = 2048

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2; ML-DSA's
// "priv"), compared case-insensitively because go-jose matches member
// names that way.
var privateMembers = map[string]bool{"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true, "priv": true}

// jwkMembers are the registered JWK member names this policy or go-jose
// reads. One of them in another case ("KID", "Use") is read by go-jose as
// the registered member and by others as an unknown one: such a key is
// not used.
var jwkMembers = map[string]bool{
	"kty": true, "use": true, "key_ops": true, "alg": true, "kid": true, "x5u": true, "x5c": true, "x5t": true, "x5t#s256": true,
	"crv": true, "x": true, "y": true, "n": true, "e": true, "pub": true,
}

// skippedKey is a key of a set that is not used, and why. A note is
// logged but leaves the key in the set.
type skippedKey struct {
	index int    // position in the set
	kid   string // "" when the key has none (or none that is a string)
	level slog.Level
	why   string // never holds key material
	note  bool
}

// judgedKey is one JWK of a set with the policy's verdict.
type judgedKey struct {
	index   int
	kid     string
	raw     []byte
	keyOps  json.RawMessage
	key     *jose.JSONWebKey // as go-jose read it; nil when it could not
	private bool             // carries private or symmetric key material
	signing bool             // use and key_ops allow verifying signatures
	problem *skippedKey      // nil for a usable key
}

func (j *judgedKey) skip(level slog.Level, format string, args ...any) *judgedKey {
	if j.problem == nil {
		j.problem = &skippedKey{index: j.index, kid: j.kid, level: level, why: fmt.Sprintf(format, args...)}
	}
	return j
}

// buildKeyMap applies the key-set policy to the JWKs raws (each a JSON
// object) for a server that accepts algs. It returns the usable keys,
// what it left out (in the order of the set, one line per kid at most),
// and the thumbprints of keys whose private half the set publishes. It
// takes time linear in the size of the set, whatever the set holds.
func buildKeyMap(raws []json.RawMessage, algs []jose.SignatureAlgorithm) (*keyMap, []skippedKey, map[string]bool) {
	judged := make([]*judgedKey, 0, len(raws))
	leaked := map[string]bool{}
	seen := make(map[string]bool, len(raws))
	first := map[string]*judgedKey{} // the first signature key of each kid ("" for no kid)
	ambiguous := map[string]bool{}   // kids that name more than one signature key
	withPrivate := map[string]bool{} // kids of a signature key with private material
	for i, raw := range raws {
		j := judgeKey(i, raw, algs)
		if j.private && j.key != nil {
			if tp := thumbprint(j.key); tp != "" {
				leaked[tp] = true
			}
		}
		// Entries the same for verification (byte for byte, or the same
		// key with the same kid, alg, use and key_ops) count once.
		if seen[string(raw)] {
			continue
		}
		seen[string(raw)] = true
		if j.signing {
			withPrivate[j.kid] = withPrivate[j.kid] || j.private
			f, ok := first[j.kid]
			switch {
			case !ok:
				first[j.kid] = j
			case sameEntry(f, j):
				continue
			case j.kid != "":
				ambiguous[j.kid] = true
			}
		}
		judged = append(judged, j)
	}

	var skipped []skippedKey
	reported := map[string]bool{}
	km := &keyMap{byKID: map[string]*jose.JSONWebKey{}}
	for _, j := range judged {
		// A kid that names more than one signature key is unusable: all
		// of them, whatever their own verdicts, reported once.
		if j.signing && ambiguous[j.kid] {
			if !reported[j.kid] {
				reported[j.kid] = true
				why := "the kid names more than one key; it is unusable"
				if withPrivate[j.kid] {
					why += " (one of them publishes private key material)"
				}
				skipped = append(skipped, skippedKey{index: j.index, kid: j.kid, level: slog.LevelWarn, why: why})
			}
			continue
		}
		// A public key whose private half the set publishes is
		// compromised, under whatever kid.
		if j.problem == nil && leaked[thumbprint(j.key)] {
			j.skip(slog.LevelWarn, "its private half is published in the same set; never trusted")
		}
		if j.problem != nil {
			skipped = append(skipped, *j.problem)
			continue
		}
		if j.kid == "" {
			km.noKID = append(km.noKID, j.key)
		} else {
			km.byKID[j.kid] = j.key
		}
	}
	if len(km.noKID) > 0 && len(km.noKID)+len(km.byKID) > 1 {
		for _, j := range judged {
			if j.problem == nil && j.kid == "" {
				skipped = append(skipped, skippedKey{index: j.index, level: slog.LevelInfo, note: true,
					why: "the key has no kid and the set has other keys: a token without kid is verified only when the set has exactly one key, so it is never used"})
			}
		}
	}
	return km, skipped, leaked
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of k's public key (the
// same for a private key and its public half), or "" when it has none.
func thumbprint(k *jose.JSONWebKey) string {
	if k == nil {
		return ""
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return string(tp)
}

// judgeKey applies the per-key rules to one JWK.
func judgeKey(index int, raw json.RawMessage, algs []jose.SignatureAlgorithm) *judgedKey {
	j := &judgedKey{index: index, raw: raw, signing: true}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return j.skip(slog.LevelWarn, "the key is not a JSON object")
	}
	if v, ok := members["kid"]; ok {
		if err := json.Unmarshal(v, &j.kid); err != nil {
			j.kid = ""
			return j.skip(slog.LevelWarn, "the key's kid is not a string")
		}
	}

	// Private material, seen both in the JSON as sent and in what go-jose
	// made of it.
	var k jose.JSONWebKey
	parseErr := k.UnmarshalJSON(raw)
	if parseErr == nil {
		j.key = &k
	}
	var kty string
	_ = json.Unmarshal(members["kty"], &kty) // a kty that is not a string: go-jose refuses the key below
	for name := range members {
		if privateMembers[strings.ToLower(name)] {
			j.private = true
		}
	}
	if strings.EqualFold(kty, "oct") || (j.key != nil && !j.key.IsPublic()) {
		j.private = true
	}

	// Is it meant for verifying signatures at all? (Decides too whether
	// the key counts when a kid names several.)
	if v, ok := members["use"]; ok {
		var use string
		switch {
		case json.Unmarshal(v, &use) != nil:
			j.skip(slog.LevelWarn, "the key's use is not a string")
		case use != "sig":
			j.signing = false
		}
	}
	if v, ok := members["key_ops"]; ok {
		j.keyOps = v
		var ops []string
		switch {
		case json.Unmarshal(v, &ops) != nil || ops == nil:
			j.skip(slog.LevelWarn, "the key's key_ops is not an array of strings")
		case !slices.Contains(ops, "verify"):
			j.signing = false
		}
	}

	if j.private {
		// First, whatever else is wrong: the issuer must hear of it.
		j.problem = nil
		return j.skip(slog.LevelWarn, "the key publishes private or symmetric key material; never trusted")
	}
	if j.problem != nil {
		return j
	}
	if !j.signing {
		return j.skip(slog.LevelInfo, "the key is not a signature key (use not sig, or key_ops without verify)")
	}
	for name := range members {
		if l := strings.ToLower(name); l != name && jwkMembers[l] {
			return j.skip(slog.LevelWarn, "the key has member %q, a registered name in another case", name)
		}
	}
	if parseErr != nil {
		return j.skip(slog.LevelWarn, "the key cannot be read: %v", parseErr)
	}
	if err := usableKey(j.key); err != nil {
		return j.skip(slog.LevelWarn, "%v", err)
	}
	if alg := j.key.Algorithm; alg != "" {
		if !keyFitsAlg(j.key, alg) {
			return j.skip(slog.LevelWarn, "the key's alg %q does not fit its key type or curve", alg)
		}
		if !slices.Contains(algs, jose.SignatureAlgorithm(alg)) {
			return j.skip(slog.LevelInfo, "the key's alg %q is not one this server accepts", alg)
		}
	}
	return j
}

// sameEntry reports whether a and b are one key for verification: the
// same bytes, or the same key material under the same kid, alg, use and
// key_ops.
func sameEntry(a, b *judgedKey) bool {
	if bytes.Equal(a.raw, b.raw) {
		return true
	}
	return a.key != nil && b.key != nil && a.kid == b.kid && a.private == b.private &&
		sameKey(a.key, b.key) && bytes.Equal(a.keyOps, b.keyOps)
}

// usableKey checks the key type and size: RSA of at least minRSABits,
// ECDSA on P-256, P-384 or P-521, Ed25519.
func usableKey(k *jose.JSONWebKey) error {
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		if n := pk.N.BitLen(); n < minRSABits {
			return fmt.Errorf("the RSA key of %d bits is under %d", n, minRSABits)
		}
		if rocaFingerprint(pk.N) {
			return fmt.Errorf("the RSA key is one of the weak keys of CVE-2017-15361 (ROCA)")
		}
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("the EC key's curve is not P-256, P-384 or P-521")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("the key type %T is not a public signature key this server verifies with", k.Key)
	}
	return nil
}

// rocaFingerprint reports whether the modulus n has the fingerprint of
// the RSA keys made by Infineon's generator (CVE-2017-15361, "ROCA",
// Nemec et al. 2017), whose factors can be found: its primes are 65537^a
// mod M plus a multiple of M, for M the product of the first primes, so
// that n mod each of these primes is a power of 65537. A modulus made
// otherwise has this fingerprint with a probability under 2^-150.
func rocaFingerprint(n *big.Int) bool {
	var r, p big.Int
	for _, prime := range [...]int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167} {
		residue := r.Mod(n, p.SetInt64(prime)).Int64()
		power, found := int64(1), false
		for range prime {
			if found = power == residue; found {
				break
			}
			power = power * 65537 % prime
		}
		if !found {
			return false
		}
	}
	return true
}

// keyFitsAlg reports whether key can verify alg: the key's own alg, if
// any, is alg, the family matches and, for ECDSA, the curve.
func keyFitsAlg(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.ES256:
			return pk.Curve == elliptic.P256()
		case jose.ES384:
			return pk.Curve == elliptic.P384()
		case jose.ES512:
			return pk.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return jose.SignatureAlgorithm(alg) == jose.EdDSA
	}
	return false
}

// withoutLeaked returns km without the keys whose thumbprint is in
// leaked, or nil when it holds none of them.
func (km *keyMap) withoutLeaked(leaked map[string]bool) *keyMap {
	if km == nil || len(leaked) == 0 {
		return nil
	}
	out := &keyMap{byKID: map[string]*jose.JSONWebKey{}, refreshAt: km.refreshAt, staleAt: km.staleAt}
	changed := false
	for kid, k := range km.byKID {
		if leaked[thumbprint(k)] {
			changed = true
			continue
		}
		out.byKID[kid] = k
	}
	for _, k := range km.noKID {
		if leaked[thumbprint(k)] {
			changed = true
			continue
		}
		out.noKID = append(out.noKID, k)
	}
	if !changed {
		return nil
	}
	if len(out.byKID)+len(out.noKID) == 0 {
		out.refreshAt, out.staleAt = time.Time{}, time.Time{} // nothing usable: stale at once
	}
	return out
}
