// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// ForwardedClientCertKey is the metadata key, and in HTTP the header
// (X-Forwarded-Client-Cert), of the client certificate a trusted proxy
// forwards: Envoy's XFCC.
const ForwardedClientCertKey = "x-forwarded-client-cert"

// Caps on what a forwarded client certificate may hold.
const (
	// maxXFCCSize caps the header value: a Cert and a Chain of a few
	// certificates, URL-encoded.
	maxXFCCSize = 64 << 10
	// maxXFCCChain caps the certificates of a Chain.
	maxXFCCChain = 8
)

// parseXFCC parses one x-forwarded-client-cert value and returns the
// forwarded certificate chain, leaf first. The grammar is Envoy's: elements
// separated by ",", each a ";"-separated list of key=value pairs, keys
// case-insensitive, a value double-quoted when it holds ",", ";" or "=",
// where a backslash escapes the character after it. Parsing is strict:
//
//   - exactly one element: the trusted proxy's own, which must replace the
//     header (SANITIZE_SET). With several, the earlier ones were written by
//     parties nobody here trusts, and the proxy appended instead of
//     replacing, so even the last one may be the client's own (a proxy that
//     appends adds nothing when its client sent no certificate);
//   - keys By, Hash, Cert, Chain, Subject, URI, DNS only; each once, but URI
//     and DNS, which repeat per SAN;
//   - Cert (URL-encoded PEM of one CERTIFICATE block, nothing else) or
//     Chain (one to eight blocks, leaf first; its leaf must equal Cert when
//     both are sent); Hash, when sent, the hex SHA-256 of the leaf's DER;
//   - no whitespace outside quoted values, no empty key, value or element,
//     no control character, no unterminated quote or trailing backslash.
//
// By, Subject, URI and DNS are read but never used: the identity comes
// from the certificate, verified by the MTLS authenticator. Errors say
// what is wrong and never quote the header.
func parseXFCC(v string) ([]*x509.Certificate, error) {
	if len(v) > maxXFCCSize {
		return nil, errors.New("longer than " + strconv.Itoa(maxXFCCSize) + " bytes")
	}
	if v == "" {
		return nil, errors.New("empty")
	}
	seen := map[string]bool{}
	var certPEM, chainPEM, hash string
	for i := 0; ; {
		// key
		start := i
		for i < len(v) && v[i] != '=' {
			c := v[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return nil, errors.New("a key holds a character other than a letter at offset " + strconv.Itoa(i))
			}
			i++
		}
		if i == len(v) {
			return nil, errors.New("a pair without '=' at offset " + strconv.Itoa(start))
		}
		key := strings.ToLower(v[start:i])
		if key == "" {
			return nil, errors.New("an empty key at offset " + strconv.Itoa(start))
		}
		i++ // '='
		var val string
		var err error
		if val, i, err = xfccValue(v, i); err != nil {
			return nil, err
		}
		switch key {
		case "uri", "dns":
		case "by", "hash", "cert", "chain", "subject":
			if seen[key] {
				return nil, errors.New("key " + key + " appears twice")
			}
			seen[key] = true
		default:
			return nil, errors.New("unknown key at offset " + strconv.Itoa(start))
		}
		switch key {
		case "cert":
			certPEM = val
		case "chain":
			chainPEM = val
		case "hash":
			hash = val
		}
		if i == len(v) {
			break
		}
		switch v[i] {
		case ';':
			i++
			if i == len(v) {
				return nil, errors.New("a trailing ';'")
			}
		case ',':
			return nil, errors.New("more than one element: the trusted proxy must replace the header (SANITIZE_SET), not append to it")
		default:
			return nil, errors.New("unexpected character after a value at offset " + strconv.Itoa(i))
		}
	}
	var leaf *x509.Certificate
	var chain []*x509.Certificate
	if certPEM != "" {
		certs, err := xfccCerts(certPEM, 1)
		if err != nil {
			return nil, errors.New("Cert: " + err.Error())
		}
		leaf = certs[0]
	}
	if chainPEM != "" {
		certs, err := xfccCerts(chainPEM, maxXFCCChain)
		if err != nil {
			return nil, errors.New("Chain: " + err.Error())
		}
		if leaf != nil && !certs[0].Equal(leaf) {
			return nil, errors.New("the first certificate of Chain is not Cert")
		}
		chain = certs
	}
	switch {
	case chain == nil && leaf == nil:
		return nil, errors.New("no Cert or Chain: a forwarded identity without its certificate cannot be verified")
	case chain == nil:
		chain = []*x509.Certificate{leaf}
	}
	if seen["hash"] {
		sum := sha256.Sum256(chain[0].Raw)
		if hash != hex.EncodeToString(sum[:]) {
			return nil, errors.New("the Hash is not the SHA-256 of the certificate")
		}
	}
	return chain, nil
}

// xfccValue reads the value that starts at v[i], quoted or bare, and
// returns it unescaped with the offset after it.
func xfccValue(v string, i int) (string, int, error) {
	if i == len(v) {
		return "", i, errors.New("an empty value at offset " + strconv.Itoa(i))
	}
	if v[i] != '"' {
		start := i
		for i < len(v) && v[i] != ';' && v[i] != ',' {
			switch c := v[i]; {
			case c <= ' ' || c >= 0x7f:
				return "", i, errors.New("whitespace or a control character outside quotes at offset " + strconv.Itoa(i))
			case c == '"' || c == '=' || c == '\\':
				return "", i, errors.New("an unquoted value holds '\"', '=' or '\\' at offset " + strconv.Itoa(i))
			}
			i++
		}
		if i == start {
			return "", i, errors.New("an empty value at offset " + strconv.Itoa(i))
		}
		return v[start:i], i, nil
	}
	start := i
	i++
	var b strings.Builder
	for {
		if i == len(v) {
			return "", i, errors.New("an unterminated quoted value at offset " + strconv.Itoa(start))
		}
		c := v[i]
		switch {
		case c == '"':
			if b.Len() == 0 {
				return "", i, errors.New("an empty value at offset " + strconv.Itoa(start))
			}
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 == len(v) {
				return "", i, errors.New("a trailing backslash")
			}
			i++
			c = v[i]
			if c < ' ' || c == 0x7f {
				return "", i, errors.New("a control character at offset " + strconv.Itoa(i))
			}
		case c < ' ' || c == 0x7f:
			return "", i, errors.New("a control character at offset " + strconv.Itoa(i))
		}
		b.WriteByte(c)
		i++
	}
}

// xfccCerts decodes a URL-encoded PEM value of one to max CERTIFICATE
// blocks with nothing else around them.
func xfccCerts(enc string, max int) ([]*x509.Certificate, error) {
	// PathUnescape, not QueryUnescape: a '+' of the base64 is a '+'.
	raw, err := url.PathUnescape(enc)
	if err != nil {
		return nil, errors.New("not URL-encoded")
	}
	rest := []byte(raw)
	var certs []*x509.Certificate
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, errors.New("not PEM") // pem.Decode would skip what comes first
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		switch {
		case block == nil:
			return nil, errors.New("not PEM")
		case block.Type != "CERTIFICATE" || len(block.Headers) != 0:
			return nil, errors.New("a PEM block that is not a plain CERTIFICATE")
		case len(certs) == max:
			return nil, errors.New("more than " + strconv.Itoa(max) + " certificates")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("a certificate that does not parse")
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}
