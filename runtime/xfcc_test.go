// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// xfccFixture returns two self-signed client certificates (the parser
// verifies nothing; authtest cannot be imported here: it imports runtime).
func xfccFixture(t testing.TB) (leaf, other *x509.Certificate) {
	t.Helper()
	mint := func(uri string) *x509.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(uri)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			URIs: []*url.URL{u}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return mint("spiffe://test.example/a"), mint("spiffe://test.example/b")
}

// forwardedClientCert is authtest.ForwardedClientCert for one certificate.
func forwardedClientCert(c *x509.Certificate) string {
	return "Hash=" + hashOf(c) + `;Cert="` + envoyPEM(c) + `";URI=` + c.URIs[0].String()
}

// envoyPEM is how Envoy URL-encodes a PEM value.
func envoyPEM(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(b.String())
}

func TestParseXFCC(t *testing.T) {
	leaf, other := xfccFixture(t)
	ca := leaf // stands in for an intermediate: the parser does not verify
	cert := envoyPEM(leaf)
	good := forwardedClientCert(leaf)
	for _, tc := range []struct {
		name string
		v    string
		want []*x509.Certificate
		err  string
	}{
		{"envoy, as authtest writes it", good, []*x509.Certificate{leaf}, ""},
		{"by, subject with escaped quote, comma and semicolon", `By=spiffe://test.example/proxy;Hash=` + hashOf(leaf) + `;Subject="CN=a\"b\,c;d";URI=spiffe://test.example/a;DNS=a.test;DNS=b.test;Cert="` + cert + `"`, []*x509.Certificate{leaf}, ""},
		{"keys in any case", `cErT="` + cert + `"`, []*x509.Certificate{leaf}, ""},
		{"unquoted cert", `Cert=` + cert, []*x509.Certificate{leaf}, ""},
		{"chain only", `Chain="` + envoyPEM(leaf, ca) + `"`, []*x509.Certificate{leaf, ca}, ""},
		{"cert and chain", `Cert="` + cert + `";Chain="` + envoyPEM(leaf, ca) + `"`, []*x509.Certificate{leaf, ca}, ""},
		{"raw newlines in a quoted value are refused", `Cert="` + strings.ReplaceAll(cert, "%0A", "\n") + `"`, nil, "a control character"},
		{"two elements", good + "," + good, nil, "more than one element"},
		{"a trailing comma", good + ",", nil, "more than one element"},
		{"a trailing semicolon", good + ";", nil, "a trailing ';'"},
		{"empty", "", nil, "empty"},
		{"no cert", "By=x;Hash=" + hashOf(leaf) + ";URI=spiffe://test.example/a", nil, "no Cert or Chain"},
		{"unknown key", `Cert="` + cert + `";Foo=bar`, nil, "unknown key"},
		{"cert twice", `Cert="` + cert + `";Cert="` + cert + `"`, nil, "key cert appears twice"},
		{"hash of another certificate", `Hash=` + hashOf(other) + `;Cert="` + cert + `"`, nil, "the Hash is not the SHA-256"},
		{"hash in upper case", `Hash=` + strings.ToUpper(hashOf(leaf)) + `;Cert="` + cert + `"`, nil, "the Hash is not the SHA-256"},
		{"chain whose leaf is not cert", `Cert="` + cert + `";Chain="` + envoyPEM(other) + `"`, nil, "the first certificate of Chain is not Cert"},
		{"two certificates in cert", `Cert="` + envoyPEM(leaf, other) + `"`, nil, "more than 1 certificates"},
		{"a space after a separator", `By=x; Cert="` + cert + `"`, nil, "a key holds a character other than a letter"},
		{"a space in a bare value", `By=a b;Cert="` + cert + `"`, nil, "whitespace or a control character outside quotes"},
		{"an equals sign in a bare value", `By=a=b;Cert="` + cert + `"`, nil, "an unquoted value holds"},
		{"unterminated quote", `Cert="` + cert, nil, "an unterminated quoted value"},
		{"trailing backslash", `By="a\`, nil, "a trailing backslash"},
		{"no equals sign", `Cert`, nil, "a pair without '='"},
		{"empty key", `=x`, nil, "an empty key"},
		{"empty value", `By=;Cert="` + cert + `"`, nil, "an empty value"},
		{"empty quoted value", `By="";Cert="` + cert + `"`, nil, "an empty value"},
		{"junk after a quoted value", `Cert="` + cert + `"x`, nil, "unexpected character after a value"},
		{"not url-encoded", `Cert="%zz"`, nil, "Cert: not URL-encoded"},
		{"not pem", `Cert="hello"`, nil, "Cert: not PEM"},
		{"text before the pem", `Cert="junk%0A` + cert + `"`, nil, "Cert: not PEM"},
		{"a private key", `Cert="` + strings.ReplaceAll(cert, "CERTIFICATE", "PRIVATE%20KEY") + `"`, nil, "not a plain CERTIFICATE"},
		{"a bad certificate", `Cert="` + envoyPEMBytes([]byte("not DER")) + `"`, nil, "Cert: a certificate that does not parse"},
		{"too long", `By="` + strings.Repeat("a", maxXFCCSize) + `"`, nil, "longer than"},
		{"a chain over the cap", `Chain="` + envoyPEM(leaf, ca, ca, ca, ca, ca, ca, ca, ca) + `"`, nil, "more than 8 certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseXFCC(tc.v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d certificates, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("certificate %d differs", i)
				}
			}
		})
	}
}

func hashOf(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func envoyPEMBytes(der []byte) string {
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

// FuzzParseXFCC: the parser never panics, never returns a chain with an
// error, and returns only certificates it parsed from the value.
func FuzzParseXFCC(f *testing.F) {
	leaf, _ := xfccFixture(f)
	f.Add(forwardedClientCert(leaf))
	f.Add(`By=a;Subject="x\"y,z";URI=u;Cert="` + envoyPEM(leaf) + `"`)
	f.Add(`a=b,c=d`)
	f.Add(`Cert="\`)
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := parseXFCC(v)
		switch {
		case err != nil && chain != nil:
			t.Fatal("a chain with an error")
		case err == nil && len(chain) == 0:
			t.Fatal("no chain and no error")
		case err != nil && strings.Contains(err.Error(), v) && len(v) > 8:
			t.Fatal("the error quotes the header")
		}
	})
}
