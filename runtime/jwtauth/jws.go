// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"slices"
	"strings"
	"unsafe"

	"github.com/go-jose/go-jose/v4"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// The compact JWS (RFC 7515 §7.1) of a JWT, parsed strictly: each part
// decoded once, the header once, the claims once (the JSON decoder is in
// json.go), and the signature verified by the standard library alone (RFC
// 7518 §3). It accepts no
// token that go-jose's jwt.ParseSigned and Claims would refuse
// (FuzzDifferential checks this); it refuses a few that go-jose would
// accept, listed there.

// jwsToken is a compact JWS that parseJWS accepted: the header members
// this package reads, the claims, and what the signature covers.
type jwsToken struct {
	header jwsHeader
	claims map[string]any
	signature
}

// signature is a JWS signature and what it covers.
type signature struct {
	alg   string
	input string // the signing input: header and payload as sent, a part of the token
	sig   []byte
}

// jwsHeader holds the protected header's members that matter here. A
// member whose value is null counts as absent, as go-jose reads it, but
// for crit, b64 and typ: present at all.
type jwsHeader struct {
	alg, kid  string
	typ       string
	typSet    bool // typ present, whatever its value
	typBad    bool // typ neither a string nor null
	crit, b64 bool // present, whatever their values
	jwk       any  // an embedded key (never used, but it must be a public JWK, as go-jose requires)
	jwkRaw    string
	x5c       any // a certificate chain (never used, but it must parse, as go-jose requires)
}

func malformedJWS() *runtime.Error {
	return deny(runtime.ReasonCredentialsMalformed, "the token is not a well-formed JWS").WithDetail("the compact JWS did not parse (its content is not logged)")
}

// parseJWS parses token as a compact JWS (parseCompact) whose payload is a
// JWT's claims: a JSON object.
func parseJWS(token string) (jwsToken, *runtime.Error) {
	t, payload, derr := parseCompact(token)
	if derr != nil {
		return t, derr
	}
	var ok bool
	if t.claims, ok = decodeObject(payload); !ok {
		return t, deny(runtime.ReasonCredentialsMalformed, "the token's claims are not a valid JSON object").WithDetail("the claims did not decode (their content is not logged)")
	}
	return t, nil
}

// parseCompact checks token's shape and decodes it: three canonical
// base64url parts, and a header that is a JSON object with an alg go-jose
// knows, a kid and a nonce that are strings, an embedded jwk (ignored)
// that is a public key and an x5c (ignored) that is a certificate chain,
// and no crit or b64 member. It returns the payload, decoded. JSON is
// read strictly, as go-jose's JSON reads it: member names compared
// case-sensitively, duplicates refused at every depth, numbers that
// overflow a float64 refused, invalid UTF-8 and lone surrogates replaced
// by U+FFFD.
func parseCompact(token string) (jwsToken, string, *runtime.Error) {
	var t jwsToken
	if strings.Count(token, ".") != 2 {
		return t, "", deny(runtime.ReasonCredentialsMalformed, "the token is not a JWT (three dot-separated parts)")
	}
	d1 := strings.IndexByte(token, '.')
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	// One buffer for the three parts. It is never written again once
	// decoded: header and claims are strings that share it.
	buf := make([]byte, d1*6/8+(d2-d1-1)*6/8+(len(token)-d2-1)*6/8)
	var n [3]int
	for i, part := range [3]string{token[:d1], token[d1+1 : d2], token[d2+1:]} {
		var ok bool
		if n[i], ok = decodeBase64URL(buf[n[0]+n[1]:], part); !ok {
			return t, "", deny(runtime.ReasonCredentialsMalformed, "the token is not canonical base64url")
		}
	}
	var text string
	if n[0]+n[1] > 0 {
		text = unsafe.String(&buf[0], n[0]+n[1]) //nolint:gosec // G103: buf is new, decoded once above and never written again: the string owns it
	}
	t.input, t.sig = token[:d2], buf[n[0]+n[1]:n[0]+n[1]+n[2]]
	var ok bool
	if t.header, ok = parseHeader(text[:n[0]]); !ok {
		return t, "", malformedJWS()
	}
	if derr := t.header.check(); derr != nil {
		return t, "", derr
	}
	t.alg = t.header.alg
	return t, text[n[0]:], nil
}

// base64URL maps each character of the base64url alphabet (RFC 4648 §5)
// to its value, and every other byte to 0xff.
var base64URL = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = byte(i)
	}
	return t
}()

// decodeBase64URL decodes s into dst, which holds len(s)*6/8 bytes, if s
// is canonical base64url, the one encoding of what it decodes to: only
// characters of the alphabet (no padding, white space or line breaks), no
// lone character at the end (len%4 == 1), the unused low bits of the last
// character zero. go-jose decoded leniently and verified the signature
// over header and payload encoded again, so without this check many
// strings would pass as one signed token.
func decodeBase64URL(dst []byte, s string) (int, bool) {
	n := 0
	for ; len(s) >= 4; s = s[4:] {
		a, b, c, d := base64URL[s[0]], base64URL[s[1]], base64URL[s[2]], base64URL[s[3]]
		if (a|b|c|d)&0xc0 != 0 {
			return 0, false
		}
		dst[n], dst[n+1], dst[n+2] = a<<2|b>>4, b<<4|c>>2, c<<6|d
		n += 3
	}
	switch len(s) {
	case 1:
		return 0, false
	case 2: // 12 bits for 8
		a, b := base64URL[s[0]], base64URL[s[1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3: // 18 bits for 16
		a, b, c := base64URL[s[0]], base64URL[s[1]], base64URL[s[2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		dst[n], dst[n+1] = a<<2|b>>4, b<<4|c>>2
		n += 2
	}
	return n, true
}

// bytesOf is s as a byte slice without a copy, for functions that only
// read their input (hashing, verifying).
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s)) //nolint:gosec // G103: read only: every caller passes it to a function that does not write or keep it
}

// parseHeader reads the protected header: a JSON object with no member
// twice; alg, kid and nonce strings (or null); any other member any JSON
// value, read and checked as the claims are.
func parseHeader(s string) (h jwsHeader, ok bool) {
	d := decoder{s: s}
	// The names seen, to refuse one given twice: in an array while they are
	// few, as in any header a token has, then in a map, so that a header
	// of many members is not read in time quadratic in their number.
	var seen [8]string
	names := seen[:0]
	var many map[string]struct{}
	ok = d.objectStart() && d.members(func(name string) bool {
		switch _, dup := many[name]; {
		case dup || many == nil && slices.Contains(names, name):
			return false
		case many != nil:
			many[name] = struct{}{}
		case len(names) < len(seen):
			names = append(names, name)
		default:
			many = make(map[string]struct{}, 2*len(seen))
			for _, n := range names {
				many[n] = struct{}{}
			}
			many[name] = struct{}{}
		}
		start := d.i
		str, isStr, v, ok := d.stringOr()
		switch name {
		case "alg":
			h.alg = str
		case "kid":
			h.kid = str
		case "nonce":
		case "typ":
			h.typSet, h.typ, h.typBad = true, str, !isStr && v != nil
			return ok
		case "crit":
			h.crit = true
			return ok
		case "b64":
			h.b64 = true
			return ok
		case "jwk":
			if v != nil {
				h.jwk, h.jwkRaw = v, d.s[start:d.i]
			}
			return ok && !isStr
		case "x5c":
			h.x5c = v
			return ok && !isStr
		default:
			return ok
		}
		return ok && (isStr || v == nil) // alg, kid, nonce
	}) && d.end()
	return h, ok
}

// check applies to a header parseHeader read what go-jose checks in it
// and this package adds: an alg go-jose knows (none is not one), a jwk that
// is a public key, an x5c that is a chain of certificates, and neither crit
// nor b64 (RFC 7515 §4.1.11: this server implements no extension; RFC
// 7797's unencoded payload changes what the signature covers).
func (h *jwsHeader) check() *runtime.Error {
	if !slices.Contains(allAlgorithms, jose.SignatureAlgorithm(h.alg)) {
		return malformedJWS()
	}
	if h.jwk != nil {
		m, _ := h.jwk.(map[string]any)
		var k jose.JSONWebKey
		if m == nil || k.UnmarshalJSON([]byte(h.jwkRaw)) != nil || !k.Valid() || !k.IsPublic() {
			return malformedJWS()
		}
		for _, p := range [...]string{"k", "d", "p", "q", "dp", "dq", "qi", "priv"} { // go-jose refuses these even beside a public key
			if m[p] != nil {
				return malformedJWS()
			}
		}
	}
	if h.x5c != nil {
		chain, _ := h.x5c.([]any)
		if chain == nil {
			return malformedJWS()
		}
		for _, c := range chain {
			s, _ := c.(string)
			der, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return malformedJWS()
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				return malformedJWS()
			}
		}
	}
	if h.crit {
		return deny(runtime.ReasonCredentialsMalformed, "the token's header lists critical extensions (crit); this server implements none")
	}
	if h.b64 {
		return deny(runtime.ReasonCredentialsMalformed, "the token's header has a b64 member; this server does not implement unencoded payloads")
	}
	return nil
}

// pssOptions is RFC 7518 §3.5's PSS: a salt as long as the hash. Only read.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// verify reports whether s.sig is a signature of s.input by key with
// s.alg, which keyFitsAlg has matched with the key:
// RSASSA-PKCS1-v1_5 (RS*), RSASSA-PSS with a salt as long as the hash
// (PS*), ECDSA with R‖S, each exactly as long as the curve's order (ES*),
// Ed25519 (EdDSA). HMAC and none are never verified. The digest is made in
// a frame of its own, so that the signature check runs on a shallow stack.
func (s *signature) verify(key crypto.PublicKey) bool {
	alg, sig := s.alg, s.sig
	switch k := key.(type) {
	case *rsa.PublicKey:
		h, digest := digestOf(alg, s.input)
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, h, digest, sig, pssOptions) == nil
		}
	case *ecdsa.PublicKey:
		return alg[:2] == "ES" && verifyECDSA(k, alg, s.input, sig)
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA) && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, bytesOf(s.input), sig)
	}
	return false
}

// verifyECDSA verifies the JWS signature sig, R‖S, of input with alg.
func verifyECDSA(k *ecdsa.PublicKey, alg, input string, sig []byte) bool {
	size := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	_, digest := digestOf(alg, input)
	return ecdsa.VerifyASN1(k, digest, asn1Signature(make([]byte, 0, 2*(2+1+66)+3), sig[:size], sig[size:]))
}

// digestOf is the hash of alg (RS*, PS* or ES*) and its digest of input.
func digestOf(alg, input string) (crypto.Hash, []byte) {
	msg := bytesOf(input)
	switch alg[len(alg)-3:] {
	case "256":
		d := sha256.Sum256(msg)
		return crypto.SHA256, d[:]
	case "384":
		d := sha512.Sum384(msg)
		return crypto.SHA384, d[:]
	case "512":
		d := sha512.Sum512(msg)
		return crypto.SHA512, d[:]
	}
	return 0, nil
}

// asn1Signature appends to b the DER ECDSA-Sig-Value (a SEQUENCE of two
// INTEGERs) of the unsigned big-endian r and s, as crypto/ecdsa's
// VerifyASN1 reads it.
func asn1Signature(b, r, s []byte) []byte {
	r, s = bytes.TrimLeft(r, "\x00"), bytes.TrimLeft(s, "\x00")
	pad := func(v []byte) int { // a zero byte in front keeps the INTEGER positive
		if len(v) == 0 || v[0] >= 0x80 {
			return 1
		}
		return 0
	}
	// R and S are at most 66 bytes (P-521's), so that every length below
	// fits a byte, the SEQUENCE's in the long form 0x81 from 0x80 up.
	integer := func(b, v []byte) []byte {
		b = append(b, 0x02, byte(len(v)+pad(v))) //nolint:gosec // G115: at most 67
		if pad(v) == 1 {
			b = append(b, 0)
		}
		return append(b, v...)
	}
	n := 2 + len(r) + pad(r) + 2 + len(s) + pad(s)
	b = append(b, 0x30)
	if n >= 0x80 {
		b = append(b, 0x81)
	}
	return integer(integer(append(b, byte(n)), r), s) //nolint:gosec // G115: at most 2*(2+67)
}
