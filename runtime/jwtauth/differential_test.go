// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// The differential tests compare verify with verifyReference, the path
// through go-jose it replaced (reference_test.go), on the same
// authenticator: every asymmetric algorithm allowed, keys of every type,
// typ at+jwt, JWT or none, a fixed clock. The property: whatever verify
// accepts, the reference accepts too, with the same claims
// (reflect.DeepEqual) and the same alg, kid and typ. verify may refuse
// what the reference accepts; the classes it does (TestDifferential
// shows each):
//
//   - an embedded jwk header (never used) whose members go-jose does not
//     read hold a duplicate member name or a number that overflows a
//     float64: verify reads the whole header as JSON, go-jose skips them.
//
// Everything else, the JSON above all, is read as go-jose reads it.

const (
	diffIssuer   = "https://issuer.example"
	diffAudience = "library"
)

// diffNow is the clock of the differential tests: the tokens of the fuzz
// corpus stay valid.
var diffNow = time.Unix(1_900_000_000, 0)

// diffClaims are valid claims at diffNow.
const diffClaims = `{"iss":"https://issuer.example","sub":"alice","aud":"library","iat":1899999000,"exp":1900003600,"scope":"a b"}`

// diffKeys are the private keys of testdata/differential/keys.json.
var diffKeys = sync.OnceValue(func() []jose.JSONWebKey {
	data, err := os.ReadFile(filepath.Join("testdata", "differential", "keys.json"))
	if err != nil {
		panic(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		panic(err)
	}
	return set.Keys
})

// diffKey is the private key that signs alg, and its kid.
func diffKey(alg string) (any, string) {
	want := map[string]string{"RS": "rsa", "PS": "rsa", "ES256": "p256", "ES384": "p384", "ES512": "p521", "EdDSA": "ed25519"}
	kid := want[alg]
	if kid == "" && len(alg) >= 2 {
		kid = want[alg[:2]]
	}
	for _, k := range diffKeys() {
		if k.KeyID == kid {
			return k.Key, kid
		}
	}
	return nil, ""
}

var diffAuth = sync.OnceValue(func() *Authenticator {
	var pub []jose.JSONWebKey
	for _, k := range diffKeys() {
		pub = append(pub, k.Public())
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: pub})
	if err != nil {
		panic(err)
	}
	a, err := New(
		Issuer(diffIssuer, Audience(diffAudience), StaticJWKS(jwks), Types("at+jwt", "JWT", ""),
			Algorithms("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")),
		CacheSize(0), Clock(func() time.Time { return diffNow }),
	)
	if err != nil {
		panic(err)
	}
	return a
})

// sign returns the signature of input with alg by the key diffKey names
// (HS256: an HMAC with the P-256 key's public bytes as the secret).
func sign(tb testing.TB, alg, input string) []byte {
	tb.Helper()
	key, _ := diffKey(alg)
	var h crypto.Hash
	switch {
	case strings.HasSuffix(alg, "256"):
		h = crypto.SHA256
	case strings.HasSuffix(alg, "384"):
		h = crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		h = crypto.SHA512
	}
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write([]byte(input))
		digest = d.Sum(nil)
	}
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k, digest); err == nil {
			sig = rawECDSA(k.Curve.Params().N, r, s)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	default:
		tb.Fatalf("no key signs %q", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// rawECDSA is the JWS form of an ECDSA signature: R‖S, each as long as N.
func rawECDSA(n, r, s *big.Int) []byte {
	size := (n.BitLen() + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signed is the compact JWS of the header and claims JSON as given,
// signed with alg.
func signed(tb testing.TB, alg, header, claims string) string {
	tb.Helper()
	input := b64(header) + "." + b64(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(tb, alg, input))
}

// header is the usual header of a token signed with alg.
func header(alg string) string {
	_, kid := diffKey(alg)
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, alg, kid)
}

// resign signs token's header and payload, as sent, again with the key of
// the alg its header names, or returns "" when it cannot: so that a
// mutation of the JSON reaches what follows the signature check.
func resign(tb testing.TB, token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return ""
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	alg, _ := h["alg"].(string)
	if !asymmetric[jose.SignatureAlgorithm(alg)] {
		return ""
	}
	// RSA signing is slow: one input in eight, chosen by its bytes (so
	// that a crasher reproduces), for the others to run faster.
	if (alg[0] == 'R' || alg[0] == 'P') && crc32.ChecksumIEEE([]byte(token))%8 != 0 {
		return ""
	}
	input := parts[0] + "." + parts[1]
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(tb, alg, input))
}

// outcome is one side's verdict on a token.
type outcome struct {
	claims map[string]any
	header referenceHeader
	err    error
}

func (o outcome) reason() runtime.Reason {
	if o.err == nil {
		return ""
	}
	if e, ok := runtime.FromError(o.err); ok {
		return e.Reason
	}
	return runtime.Reason("not a denial: " + o.err.Error())
}

// compare runs token through verify and verifyReference and fails tb when
// verify accepts what the reference refuses, or accepts it with other
// claims or another header.
func compare(tb testing.TB, token string) (ours, ref outcome) {
	tb.Helper()
	a := diffAuth()
	ctx := context.Background()
	p, _, err := a.verify(ctx, token)
	ours.err = err
	if err == nil {
		ours.claims = p.Claims
		t, _ := parseJWS(token)
		ours.header = referenceHeader{alg: t.header.alg, kid: t.header.kid}
		if t.header.typSet {
			ours.header.typ = t.header.typ
		}
	}
	func() {
		defer func() {
			if r := recover(); r != nil { // go-jose's fault, not ours: a refusal
				ref.err = fmt.Errorf("go-jose panicked: %v", r)
			}
		}()
		ref.claims, ref.header, ref.err = a.verifyReference(ctx, token)
	}()
	if ours.err != nil {
		return ours, ref
	}
	switch {
	case ref.err != nil:
		tb.Fatalf("verify accepts a token the reference (go-jose) refuses (%v): %q", ref.err, token)
	case !reflect.DeepEqual(ours.claims, ref.claims):
		tb.Fatalf("verify and the reference read different claims from %q:\n%#v\n%#v", token, ours.claims, ref.claims)
	case ours.header != ref.header:
		tb.Fatalf("verify and the reference read different headers from %q: %+v, %+v", token, ours.header, ref.header)
	}
	return ours, ref
}

// diffSeeds are valid tokens of every algorithm, signed by the test keys.
func diffSeeds(tb testing.TB) []string {
	var out []string
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		out = append(out,
			signed(tb, alg, header(alg), diffClaims),
			signed(tb, alg, strings.Replace(header(alg), `"at+jwt"`, `"JWT"`, 1),
				`{"iss":"https://issuer.example","sub":"bob","aud":["x","library"],"exp":1900003600.5,"nbf":1.8e9,"scp":["a","b"],"n":null,"t":true,"o":{"a":[1,-0,2.5e-3,{}],"é":"\u00e9\ud83d\ude00"}}`))
	}
	return out
}

// hostile is a token of TestDifferential: how verify must answer (""
// accepted) and whether the reference accepts it.
type hostile struct {
	name  string
	token string
	ours  runtime.Reason
	ref   bool
}

const (
	accepted    = runtime.Reason("")
	malformed   = runtime.ReasonCredentialsMalformed
	badSig      = runtime.ReasonTokenInvalidSignature
	badClaims   = runtime.ReasonClaimsInvalid
	untrusted   = runtime.ReasonIssuerUntrusted
	expired     = runtime.ReasonTokenExpired
	wrongHeader = malformed
)

// hostileTokens are hand-made hostile tokens, each signed validly unless
// its name says otherwise, so that what is tested is past the signature.
func hostileTokens(t testing.TB) []hostile {
	es, rs, ps, ed := header("ES256"), header("RS256"), header("PS256"), header("EdDSA")
	claims := func(extra string) string { return strings.TrimSuffix(diffClaims, "}") + "," + extra + "}" }
	withSig := func(alg, header, claims string, sig []byte) string {
		return b64(header) + "." + b64(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	ecSig := func(alg string) (r, s, n *big.Int, size int) {
		sig := sign(t, alg, b64(header(alg))+"."+b64(diffClaims))
		key, _ := diffKey(alg)
		n = key.(*ecdsa.PrivateKey).Curve.Params().N
		size = len(sig) / 2
		return new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]), n, size
	}
	r, s, n, size := ecSig("ES256")
	ecWith := func(r, s *big.Int) string {
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return withSig("ES256", es, diffClaims, sig)
	}
	derSig := func() []byte {
		key, _ := diffKey("ES256")
		d := sha256.Sum256([]byte(b64(es) + "." + b64(diffClaims)))
		sig, err := ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	rsaSig := sign(t, "RS256", b64(rs)+"."+b64(diffClaims))
	rsaKey, _ := diffKey("RS256")
	modulus := rsaKey.(*rsa.PrivateKey).N
	edSig := sign(t, "EdDSA", b64(ed)+"."+b64(diffClaims))
	// S + L: the same signature with a non-canonical S (RFC 8032 §5.1.7).
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	sLE := append([]byte(nil), edSig[32:]...)
	for i, j := 0, len(sLE)-1; i < j; i, j = i+1, j-1 {
		sLE[i], sLE[j] = sLE[j], sLE[i]
	}
	sPlusL := new(big.Int).Add(new(big.Int).SetBytes(sLE), l).FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		sPlusL[i], sPlusL[j] = sPlusL[j], sPlusL[i]
	}
	pss := func(salt int) string {
		key, _ := diffKey("PS256")
		input := b64(ps) + "." + b64(diffClaims)
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK, err := json.Marshal(jose.JSONWebKey{Key: &attacker.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	attackerPrivateJWK, err := json.Marshal(jose.JSONWebKey{Key: attacker})
	if err != nil {
		t.Fatal(err)
	}
	withMember := func(h, member string) string { return strings.TrimSuffix(h, "}") + "," + member + "}" }
	embedded := func(jwk string) string { return withMember(es, `"jwk":`+jwk) }
	// valid holds a '-' or '_' (the case "standard base64" rewrites
	// them): its header and claims encode to neither, so a signature
	// without one (about one ECDSA signature in 15) is signed again.
	valid := signed(t, "ES256", es, diffClaims)
	for i := 0; !strings.ContainsAny(valid, "-_"); i++ {
		if i == 100 {
			t.Fatal("no ES256 token with a '-' or '_' in 100 signatures")
		}
		valid = signed(t, "ES256", es, diffClaims)
	}
	parts := strings.Split(valid, ".")
	hs := b64(`{"alg":"HS256","kid":"p256","typ":"at+jwt"}`) + "." + b64(diffClaims)
	p256, _ := diffKey("ES256")
	pubBytes, err := p256.(*ecdsa.PrivateKey).PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	hsSig := hmacSHA256(pubBytes, hs)
	nested := strings.Repeat("[", 3000) + strings.Repeat("]", 3000)

	return []hostile{
		{"valid ES256", valid, accepted, true},
		{"valid RS256", signed(t, "RS256", rs, diffClaims), accepted, true},
		{"valid PS256", signed(t, "PS256", ps, diffClaims), accepted, true},
		{"valid EdDSA", signed(t, "EdDSA", ed, diffClaims), accepted, true},

		// The algorithm.
		{"alg none, no signature", b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(diffClaims) + ".", malformed, false},
		{"alg none, a signature", b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(diffClaims) + "." + parts[2], malformed, false},
		{"alg rs256 (lower case)", signed(t, "RS256", strings.Replace(rs, "RS256", "rs256", 1), diffClaims), malformed, false},
		{"alg ES256 and a space", signed(t, "ES256", strings.Replace(es, `"ES256"`, `"ES256 "`, 1), diffClaims), malformed, false},
		{"alg missing", signed(t, "ES256", `{"kid":"p256","typ":"at+jwt"}`, diffClaims), malformed, false},
		{"alg null", signed(t, "ES256", `{"alg":null,"kid":"p256","typ":"at+jwt"}`, diffClaims), malformed, false},
		{"alg number", signed(t, "ES256", `{"alg":256,"kid":"p256","typ":"at+jwt"}`, diffClaims), malformed, false},
		{"alg only as ALG", signed(t, "ES256", `{"ALG":"ES256","kid":"p256","typ":"at+jwt"}`, diffClaims), malformed, false},
		{"ALG none beside alg (an unknown member)", signed(t, "ES256", withMember(es, `"ALG":"none"`), diffClaims), accepted, true},
		{"HS256 with the public key as secret", hs + "." + base64.RawURLEncoding.EncodeToString(hsSig), badSig, false},
		{"ES384 naming the P-256 key", signed(t, "ES256", strings.Replace(es, "ES256", "ES384", 1), diffClaims), badSig, false},
		{"RS256 naming the P-256 key", signed(t, "RS256", `{"alg":"RS256","kid":"p256","typ":"at+jwt"}`, diffClaims), badSig, false},

		// The kid.
		{"kid with path characters", signed(t, "ES256", `{"alg":"ES256","kid":"../../p256","typ":"at+jwt"}`, diffClaims), badSig, false},
		{"kid with a NUL", signed(t, "ES256", `{"alg":"ES256","kid":"p256\u0000","typ":"at+jwt"}`, diffClaims), badSig, false},
		{"kid escaped", signed(t, "ES256", `{"alg":"ES256","kid":"p\u0032\u00356","typ":"at+jwt"}`, diffClaims), accepted, true},
		{"kid as Kid", signed(t, "ES256", `{"alg":"ES256","Kid":"p256","typ":"at+jwt"}`, diffClaims), badSig, false},
		{"kid null (several keys)", signed(t, "ES256", `{"alg":"ES256","kid":null,"typ":"at+jwt"}`, diffClaims), badSig, false},
		{"kid number", signed(t, "ES256", `{"alg":"ES256","kid":1,"typ":"at+jwt"}`, diffClaims), malformed, false},
		{"nonce number", signed(t, "ES256", withMember(es, `"nonce":1`), diffClaims), malformed, false},

		// Headers that point at other keys: never used.
		{"jku", signed(t, "ES256", withMember(es, `"jku":"https://attacker.example/jwks"`), diffClaims), accepted, true},
		{"x5u", signed(t, "ES256", withMember(es, `"x5u":"https://attacker.example/cert"`), diffClaims), accepted, true},
		{"jwk of an attacker, signed by the issuer", signed(t, "ES256", embedded(string(attackerJWK)), diffClaims), accepted, true},
		{"jwk of an attacker, signed by it", withSig("ES256", embedded(string(attackerJWK)), diffClaims, attackerSign(t, attacker, b64(embedded(string(attackerJWK)))+"."+b64(diffClaims))), badSig, false},
		{"jwk private", signed(t, "ES256", embedded(string(attackerPrivateJWK)), diffClaims), malformed, false},
		{"jwk a string", signed(t, "ES256", embedded(`"key"`), diffClaims), malformed, false},
		{"jwk null", signed(t, "ES256", embedded(`null`), diffClaims), accepted, true},
		{"x5c not certificates", signed(t, "ES256", withMember(es, `"x5c":["AAAA"]`), diffClaims), malformed, false},
		{"x5c empty", signed(t, "ES256", withMember(es, `"x5c":[]`), diffClaims), accepted, true},
		// The class verify refuses and go-jose accepts.
		{"jwk with a duplicate member where go-jose does not read", signed(t, "ES256", embedded(strings.TrimSuffix(string(attackerJWK), "}")+`,"z":{"a":1,"a":2}}`), diffClaims), malformed, true},
		{"jwk with an overflowing number where go-jose does not read", signed(t, "ES256", embedded(strings.TrimSuffix(string(attackerJWK), "}")+`,"z":[1e400]}`), diffClaims), malformed, true},

		// ECDSA signatures.
		{"ECDSA in DER", withSig("ES256", es, diffClaims, derSig()), badSig, false},
		{"ECDSA high S", ecWith(r, new(big.Int).Sub(n, s)), accepted, true},
		{"ECDSA R zero", ecWith(new(big.Int), s), badSig, false},
		{"ECDSA S zero", ecWith(r, new(big.Int)), badSig, false},
		{"ECDSA R = N", ecWith(n, s), badSig, false},
		{"ECDSA S = N", ecWith(r, n), badSig, false},
		{"ECDSA R + N", ecWith(new(big.Int).Add(r, n).Mod(new(big.Int).Add(r, n), new(big.Int).Lsh(big.NewInt(1), 256)), s), badSig, false},
		{"ECDSA one byte short", withSig("ES256", es, diffClaims, ecSigBytes(ecWith(r, s))[:2*size-1]), badSig, false},
		{"ECDSA a zero byte more", withSig("ES256", es, diffClaims, append([]byte{0}, ecSigBytes(ecWith(r, s))...)), badSig, false},

		// RSA signatures.
		{"RSA signature a byte short", withSig("RS256", rs, diffClaims, rsaSig[1:]), badSig, false},
		{"RSA signature a zero byte more", withSig("RS256", rs, diffClaims, append([]byte{0}, rsaSig...)), badSig, false},
		{"RSA signature plus the modulus", withSig("RS256", rs, diffClaims, new(big.Int).Add(new(big.Int).SetBytes(rsaSig), modulus).Bytes()), badSig, false},
		{"PSS salt 32 (the hash's)", pss(32), accepted, true},
		{"PSS salt 0", pss(0), badSig, false},
		{"PSS salt 20", pss(20), badSig, false},
		{"PSS salt 64", pss(64), badSig, false},

		// Ed25519 signatures.
		{"Ed25519 S + L", withSig("EdDSA", ed, diffClaims, append(append([]byte(nil), edSig[:32]...), sPlusL...)), badSig, false},
		{"Ed25519 63 bytes", withSig("EdDSA", ed, diffClaims, edSig[:63]), badSig, false},

		// Encodings.
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], malformed, false},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(valid), malformed, false},
		{"a line break in a part", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], malformed, false},
		{"a space in a part", parts[0] + "." + parts[1] + "." + parts[2][:5] + " " + parts[2][5:], malformed, false},
		{"four parts", valid + ".", malformed, false},

		// The header's JSON.
		{"header with alg twice", signed(t, "ES256", withMember(es, `"alg":"ES256"`), diffClaims), malformed, false},
		{"header with typ twice", signed(t, "ES256", withMember(es, `"typ":"at+jwt"`), diffClaims), malformed, false},
		{"header with trailing data", signed(t, "ES256", es+"x", diffClaims), malformed, false},
		{"header with trailing space", signed(t, "ES256", es+" \n", diffClaims), accepted, true},
		{"header after a BOM", signed(t, "ES256", "\ufeff"+es, diffClaims), malformed, false},
		{"header an array", signed(t, "ES256", "["+es+"]", diffClaims), malformed, false},
		{"header empty", signed(t, "ES256", `{}`, diffClaims), malformed, false},
		{"header a comment", signed(t, "ES256", `{/**/"alg":"ES256","kid":"p256","typ":"at+jwt"}`, diffClaims), malformed, false},
		{"header crit", signed(t, "ES256", withMember(es, `"crit":["exp"]`), diffClaims), wrongHeader, false},
		{"header crit null", signed(t, "ES256", withMember(es, `"crit":null`), diffClaims), wrongHeader, false},
		{"header b64 false", signed(t, "ES256", withMember(es, `"b64":false`), diffClaims), wrongHeader, false},
		{"typ a number", signed(t, "ES256", `{"alg":"ES256","kid":"p256","typ":1}`, diffClaims), badClaims, false},
		{"typ null", signed(t, "ES256", `{"alg":"ES256","kid":"p256","typ":null}`, diffClaims), badClaims, false},
		{"typ escaped", signed(t, "ES256", `{"alg":"ES256","kid":"p256","typ":"at\u002bjwt"}`, diffClaims), accepted, true},
		{"typ absent", signed(t, "ES256", `{"alg":"ES256","kid":"p256"}`, diffClaims), accepted, true},

		// The claims' JSON.
		{"claims with trailing data", signed(t, "ES256", es, diffClaims+"x"), malformed, false},
		{"claims with a second object", signed(t, "ES256", es, diffClaims+"{}"), malformed, false},
		{"claims with trailing white space", signed(t, "ES256", es, diffClaims+"\r\n\t "), accepted, true},
		{"claims after a BOM", signed(t, "ES256", es, "\ufeff"+diffClaims), malformed, false},
		{"claims with a comment", signed(t, "ES256", es, claims(`"c":1/*x*/`)), malformed, false},
		{"claims null", signed(t, "ES256", es, `null`), malformed, false},
		{"claims an array", signed(t, "ES256", es, `[`+diffClaims+`]`), malformed, false},
		{"claims with sub twice", signed(t, "ES256", es, claims(`"sub":"mallory"`)), malformed, false},
		{"claims with sub twice, once escaped", signed(t, "ES256", es, claims(`"s\u0075b":"mallory"`)), malformed, false},
		{"claims with a duplicate nested member", signed(t, "ES256", es, claims(`"x":[{"a":1,"a":2}]`)), malformed, false},
		{"claims with names that are one once UTF-8 is repaired", signed(t, "ES256", es, claims("\"\xff\":1,\"\xfe\":2")), malformed, false},
		{"a number that overflows", signed(t, "ES256", es, claims(`"n":1e400`)), malformed, false},
		{"a number that underflows", signed(t, "ES256", es, claims(`"n":1e-400`)), accepted, true},
		{"a huge integer", signed(t, "ES256", es, claims(`"n":123456789012345678901234567890`)), accepted, true},
		{"NaN", signed(t, "ES256", es, claims(`"n":NaN`)), malformed, false},
		{"a leading zero", signed(t, "ES256", es, claims(`"n":01`)), malformed, false},
		{"a lone minus", signed(t, "ES256", es, claims(`"n":-`)), malformed, false},
		{"a plus sign", signed(t, "ES256", es, claims(`"n":+1`)), malformed, false},
		{"a trailing comma", signed(t, "ES256", es, claims(`"n":[1,]`)), malformed, false},
		{"single quotes", signed(t, "ES256", es, claims(`'n':1`)), malformed, false},
		{"an escaped quote in a name", signed(t, "ES256", es, claims(`"\"":1`)), accepted, true},
		{"a control character in a string", signed(t, "ES256", es, claims("\"n\":\"a\x01b\"")), malformed, false},
		{"an unknown escape", signed(t, "ES256", es, claims(`"n":"\x41"`)), malformed, false},
		{"an escaped single quote", signed(t, "ES256", es, claims(`"n":"\'"`)), malformed, false},
		{"invalid UTF-8", signed(t, "ES256", es, claims("\"n\":\"a\xffb\xc3\"")), accepted, true},
		{"a surrogate in UTF-8", signed(t, "ES256", es, claims("\"n\":\"\xed\xa0\x80\"")), accepted, true},
		{"a lone surrogate escape", signed(t, "ES256", es, claims(`"n":"\ud800x\udc00"`)), accepted, true},
		{"a surrogate pair escape", signed(t, "ES256", es, claims(`"n":"\ud83d\ude00"`)), accepted, true},
		{"a high surrogate before another escape", signed(t, "ES256", es, claims(`"n":"\ud800\u0041"`)), accepted, true},
		{"nested 3,000 deep", signed(t, "ES256", es, claims(`"n":`+nested)), accepted, true},

		// The registered claims.
		{"exp a string", signed(t, "ES256", es, strings.Replace(diffClaims, `"exp":1900003600`, `"exp":"1900003600"`, 1)), badClaims, false},
		{"iat a string", signed(t, "ES256", es, strings.Replace(diffClaims, `"iat":1899999000`, `"iat":"1899999000"`, 1)), badClaims, false},
		{"exp with a fraction", signed(t, "ES256", es, strings.Replace(diffClaims, `"exp":1900003600`, `"exp":1900003600.999`, 1)), accepted, true},
		{"exp in exponent form", signed(t, "ES256", es, strings.Replace(diffClaims, `"exp":1900003600`, `"exp":1.9000036E9`, 1)), accepted, true},
		{"exp -0", signed(t, "ES256", es, strings.Replace(diffClaims, `"exp":1900003600`, `"exp":-0`, 1)), expired, false},
		{"exp huge", signed(t, "ES256", es, strings.Replace(diffClaims, `"exp":1900003600`, `"exp":1e300`, 1)), badClaims, false},
		{"nbf null", signed(t, "ES256", es, claims(`"nbf":null`)), accepted, true},
		{"aud null", signed(t, "ES256", es, strings.Replace(diffClaims, `"aud":"library"`, `"aud":null`, 1)), badClaims, false},
		{"iss null", signed(t, "ES256", es, strings.Replace(diffClaims, `"iss":"https://issuer.example"`, `"iss":null`, 1)), untrusted, false},
		{"iss as ISS", signed(t, "ES256", es, strings.Replace(diffClaims, `"iss"`, `"ISS"`, 1)), untrusted, false},
		{"iss escaped", signed(t, "ES256", es, strings.Replace(diffClaims, `"https://issuer.example"`, `"https:\/\/issuer.example"`, 1)), accepted, true},
		{"sub in another case only", signed(t, "ES256", es, strings.Replace(diffClaims, `"sub"`, `"Sub"`, 1)), badClaims, false},
	}
}

func attackerSign(t testing.TB, k *ecdsa.PrivateKey, input string) []byte {
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return rawECDSA(k.Curve.Params().N, r, s)
}

// ecSigBytes is the decoded signature of token.
func ecSigBytes(token string) []byte {
	sig, err := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
	if err != nil {
		panic(err)
	}
	return sig
}

func hmacSHA256(key []byte, input string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// TestDifferential: hand-made hostile tokens, each through verify and the
// go-jose reference, with the answer each must give. Where they differ,
// verify is the one that refuses (the class is named in the package
// comment above).
func TestDifferential(t *testing.T) {
	for _, h := range hostileTokens(t) {
		t.Run(h.name, func(t *testing.T) {
			ours, ref := compare(t, h.token)
			if got := ours.reason(); got != h.ours {
				t.Errorf("verify: want %q, got %q (%v)", h.ours, got, ours.err)
			}
			if got := ref.err == nil; got != h.ref {
				t.Errorf("reference (go-jose): want accepted %v, got %v (%v)", h.ref, got, ref.err)
			}
		})
	}
}

// FuzzDifferential: for any input, what verify accepts the go-jose
// reference accepts too, with the same claims and header (see compare).
// Each input is tried as it is and signed again (resign), so that a
// mutated header or payload reaches the checks after the signature; an
// input without a dot is JSON, tried as the claims and as the header of a
// token signed for it. The seed corpus is valid tokens of every algorithm and the hostile tokens
// of TestDifferential; crashers found are kept in
// testdata/fuzz/FuzzDifferential.
func FuzzDifferential(f *testing.F) {
	for _, s := range diffSeeds(f) {
		f.Add(s)
	}
	for _, h := range hostileTokens(f) {
		f.Add(h.token)
	}
	// Inputs without a dot are JSON: the claims of an ES256 token, and the
	// header of a token of the usual claims.
	for _, s := range []string{diffClaims, header("ES256"), header("EdDSA"), `{"iss":"https://issuer.example","sub":"\u00e9\ud800","aud":["library"],"exp":1.9000036e9,"o":{"a":[null,true,false,-0.5E-3,{}]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if !strings.Contains(token, ".") {
			for _, tok := range []string{b64(header("ES256")) + "." + b64(token) + ".", b64(token) + "." + b64(diffClaims) + "."} {
				if re := resign(t, tok); re != "" {
					compare(t, re)
				}
			}
			return
		}
		compare(t, token)
		if re := resign(t, token); re != "" {
			compare(t, re)
		}
	})
}

// TestEveryAlgorithm: a token of each algorithm is accepted by verify and
// the reference alike, and every token that differs from it by one
// character, or by one bit of a decoded part, is refused by verify (SECURITY-CASES 10, for each
// algorithm and key type: RSA PKCS#1 v1.5 and PSS, P-256, P-384 and
// P-521, Ed25519).
func TestEveryAlgorithm(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i, tok := range diffSeeds(t) {
		alg := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}[i/2]
		t.Run(fmt.Sprintf("%s/%d", alg, i%2), func(t *testing.T) {
			if ours, ref := compare(t, tok); ours.err != nil || ref.err != nil {
				t.Fatalf("want a valid %s token accepted by both, got %v and %v", alg, ours.err, ref.err)
			}
			seen := map[string]bool{tok: true}
			var variants []string
			add := func(v string) {
				if !seen[v] {
					seen[v] = true
					variants = append(variants, v)
				}
			}
			for j := range len(tok) {
				if tok[j] == '.' {
					continue
				}
				for _, d := range []int{1, 31} {
					add(tok[:j] + string(alphabet[(strings.IndexByte(alphabet, tok[j])+d)%64]) + tok[j+1:])
				}
			}
			parts := strings.Split(tok, ".")
			for p := range parts {
				raw, err := base64.RawURLEncoding.DecodeString(parts[p])
				if err != nil {
					t.Fatal(err)
				}
				for j := range raw {
					mod := append([]byte(nil), raw...)
					mod[j] ^= 0x01
					q := append([]string(nil), parts...)
					q[p] = base64.RawURLEncoding.EncodeToString(mod)
					add(strings.Join(q, "."))
				}
			}
			for _, v := range variants {
				if _, _, err := diffAuth().verify(context.Background(), v); err == nil {
					t.Fatalf("a token modified from a valid %s one was accepted: %q", alg, v)
				}
			}
		})
	}
}
