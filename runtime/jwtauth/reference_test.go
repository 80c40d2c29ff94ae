// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// The verification this package did before jws.go, with go-jose's
// jwt.ParseSigned and Claims, kept as the reference that verify is
// compared with (FuzzDifferential, TestDifferential). The checks of the
// claims that need no JOSE (registeredClaims, checkClaims, checkRequired,
// scopesOf) are shared: they read the decoded claims, which the
// comparison requires to be equal.

// referenceHeader is what the reference read of a header.
type referenceHeader struct {
	alg, kid string
	typ      any // as go-jose's ExtraHeaders has it: absent (and null) is nil
}

// verifyReference is verify as it was, returning the claims and header.
func (a *Authenticator) verifyReference(ctx context.Context, token string) (map[string]any, referenceHeader, error) {
	var rh referenceHeader
	if strings.Count(token, ".") != 2 {
		return nil, rh, deny(runtime.ReasonCredentialsMalformed, "the token is not a JWT (three dot-separated parts)")
	}
	if !referenceCanonical(token) {
		return nil, rh, deny(runtime.ReasonCredentialsMalformed, "the token is not canonical base64url")
	}
	tok, err := jwt.ParseSigned(token, allAlgorithms)
	if err != nil {
		return nil, rh, deny(runtime.ReasonCredentialsMalformed, "the token is not a well-formed JWS")
	}
	if len(tok.Headers) != 1 {
		return nil, rh, deny(runtime.ReasonCredentialsMalformed, "the token must carry exactly one signature")
	}
	hdr := tok.Headers[0]
	rh = referenceHeader{alg: hdr.Algorithm, kid: hdr.KeyID, typ: hdr.ExtraHeaders[jose.HeaderType]}
	header, derr := referenceCheckHeader(token)
	if derr != nil {
		return nil, rh, derr
	}
	var all map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&all); err != nil || all == nil {
		return nil, rh, deny(runtime.ReasonCredentialsMalformed, "the token's claims are not a valid JSON object")
	}
	std, cerr := registeredClaims(all)
	if cerr != nil {
		return nil, rh, cerr
	}
	is := a.issuers[std.iss]
	if is == nil {
		return nil, rh, deny(runtime.ReasonIssuerUntrusted, "the token's issuer is not trusted")
	}
	ic := is.cfg
	if derr := referenceCheckType(ic, header); derr != nil {
		return nil, rh, derr
	}
	if !slices.Contains(ic.algorithms, jose.SignatureAlgorithm(hdr.Algorithm)) {
		return nil, rh, deny(runtime.ReasonTokenInvalidSignature, "the token's signature algorithm is not accepted")
	}
	if err := ic.checkClaims(&std, all); err != nil {
		return nil, rh, err
	}
	if err := ic.checkRequired(all); err != nil {
		return nil, rh, err
	}
	if _, derr := ic.scopesOf(all); derr != nil {
		return nil, rh, derr
	}
	key, err := is.keys.lookup(ctx, hdr.KeyID)
	if err != nil {
		var be *backendError
		if errors.As(err, &be) {
			return nil, rh, deny(runtime.ReasonAuthBackendUnavailable, "the issuer's signing keys are unavailable; try again later")
		}
		return nil, rh, deny(runtime.ReasonTokenInvalidSignature, "the token's signing key is not known")
	}
	if !keyFitsAlg(key, hdr.Algorithm) {
		return nil, rh, deny(runtime.ReasonTokenInvalidSignature, "the token's algorithm does not match its key")
	}
	if err := tok.Claims(key.Key); err != nil || !referencePSSSaltOK(token, hdr.Algorithm, key) {
		return nil, rh, deny(runtime.ReasonTokenInvalidSignature, "the token's signature is not valid")
	}
	if cnf, ok := all["cnf"]; ok {
		if derr := checkConfirmation(ctx, cnf); derr != nil {
			return nil, rh, derr
		}
	}
	return all, rh, nil
}

// referenceCheckHeader is checkHeader as it was: the header decoded again,
// with encoding/json, for crit and b64.
func referenceCheckHeader(token string) (map[string]json.RawMessage, *runtime.Error) {
	raw, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	var members map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &members)
	}
	if err != nil {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token is not a well-formed JWS")
	}
	if _, ok := members["crit"]; ok {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token's header lists critical extensions (crit); this server implements none")
	}
	if _, ok := members["b64"]; ok {
		return nil, deny(runtime.ReasonCredentialsMalformed, "the token's header has a b64 member; this server does not implement unencoded payloads")
	}
	return members, nil
}

// referenceCheckType is checkType as it was, on the header as
// encoding/json decoded it.
func referenceCheckType(c *issuerConfig, header map[string]json.RawMessage) *runtime.Error {
	v, ok := header["typ"]
	if !ok {
		if c.untypedOK {
			return nil
		}
		return deny(runtime.ReasonClaimsInvalid, "the token has no typ header; this server accepts access tokens of the types it is configured for")
	}
	var typ string
	if err := json.Unmarshal(v, &typ); err != nil {
		return deny(runtime.ReasonClaimsInvalid, "the token's typ header is not a string")
	}
	if !c.typeOK(typ) {
		return deny(runtime.ReasonClaimsInvalid, "the token's type (typ) is not one this server accepts as an access token")
	}
	return nil
}

// referenceCanonical is canonical as it was: every character of the
// base64url alphabet, no lone last character, the unused bits zero.
func referenceCanonical(token string) bool {
	value := func(c byte) int {
		switch {
		case 'A' <= c && c <= 'Z':
			return int(c - 'A')
		case 'a' <= c && c <= 'z':
			return int(c-'a') + 26
		case '0' <= c && c <= '9':
			return int(c-'0') + 52
		case c == '-':
			return 62
		case c == '_':
			return 63
		}
		return -1
	}
	for part := range strings.SplitSeq(token, ".") {
		for i := 0; i < len(part); i++ {
			if value(part[i]) < 0 {
				return false
			}
		}
		switch len(part) % 4 {
		case 1:
			return false
		case 2:
			if value(part[len(part)-1])&0x0f != 0 {
				return false
			}
		case 3:
			if value(part[len(part)-1])&0x03 != 0 {
				return false
			}
		}
	}
	return true
}

// referencePSSSaltOK is pssSaltOK as it was: a second verification of an
// RSA-PSS signature, with the salt as long as the hash (go-jose accepts
// any).
func referencePSSSaltOK(token, alg string, key *jose.JSONWebKey) bool {
	var h crypto.Hash
	switch jose.SignatureAlgorithm(alg) {
	case jose.PS256:
		h = crypto.SHA256
	case jose.PS384:
		h = crypto.SHA384
	case jose.PS512:
		h = crypto.SHA512
	default:
		return true
	}
	pub, ok := key.Key.(*rsa.PublicKey)
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if !ok || err != nil {
		return false
	}
	d := h.New()
	d.Write([]byte(token[:dot]))
	return rsa.VerifyPSS(pub, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
}
