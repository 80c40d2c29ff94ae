// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// CA is a certificate authority for tests: it mints server and client
// certificates that chain to it.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

// NewCA makes a CA named name, valid for a day.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("authtest: CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, pool: pool}, nil
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// Certificate returns the CA certificate, for writing a trust bundle.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// LeafOptions shape a leaf certificate.
type LeafOptions struct {
	// CommonName of the subject.
	CommonName string
	// DNSNames and IPs are the SANs of a server certificate.
	DNSNames []string
	IPs      []net.IP
	// URIs are URI SANs, such as a SPIFFE ID.
	URIs []string
	// Emails are email address SANs.
	Emails []string
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// Client makes a client certificate (ExtKeyUsageClientAuth) instead of a
	// server one.
	Client bool
	// IsCA marks the leaf as a CA (basic constraints CA=true), to test that
	// a CA certificate is refused where a workload certificate is expected.
	IsCA bool
}

// Leaf mints a certificate signed by the CA.
func (ca *CA) Leaf(o LeafOptions) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	usage := x509.ExtKeyUsageServerAuth
	if o.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: o.CommonName},
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{usage},
		DNSNames:       o.DNSNames,
		IPAddresses:    o.IPs,
		EmailAddresses: o.Emails,
	}
	if o.IsCA {
		tmpl.BasicConstraintsValid = true
		tmpl.IsCA = true
	}
	for _, u := range o.URIs {
		parsed, err := url.Parse(u)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("authtest: URI SAN %q: %w", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("authtest: leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS returns a server TLS config with a certificate for localhost,
// 127.0.0.1 and ::1.
func (ca *CA) ServerTLS() (*tls.Config, error) {
	cert, err := ca.Leaf(LeafOptions{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}})
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ClientTLS returns a client TLS config that trusts the CA.
func (ca *CA) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}

// ForwardedClientCert returns an x-forwarded-client-cert value as Envoy
// writes it for a client that presented chain (leaf first) to a proxy
// configured with forward_client_cert_details: SANITIZE_SET and
// set_current_client_cert_details {cert: true, chain: true, uri: true}: one
// element with Hash, Cert, Chain (when chain has intermediates) and a URI
// per URI SAN, the PEM values URL-encoded and quoted. For tests of servers
// behind a trusted proxy (runtime.WithTrustedProxies).
func ForwardedClientCert(chain ...*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	enc := func(certs ...*x509.Certificate) string {
		var b strings.Builder
		for _, c := range certs {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		}
		// Envoy's encoding: newlines, spaces and the characters of base64
		// that URLs reserve are percent-encoded.
		return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(b.String())
	}
	sum := sha256.Sum256(chain[0].Raw)
	parts := []string{"Hash=" + hex.EncodeToString(sum[:]), `Cert="` + enc(chain[0]) + `"`}
	if len(chain) > 1 {
		parts = append(parts, `Chain="`+enc(chain...)+`"`)
	}
	for _, u := range chain[0].URIs {
		parts = append(parts, "URI="+u.String())
	}
	return strings.Join(parts, ";")
}
