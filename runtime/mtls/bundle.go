// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package mtls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"time"
)

// bundle is an immutable snapshot of the trust bundle. Once stored it is
// never modified: a reload stores a new one.
type bundle struct {
	pool *x509.CertPool
	sum  [sha256.Size]byte // of the file it was read from; zero for Bundle
}

// readBundle reads and parses the PEM trust bundle at path.
func readBundle(path string) (*bundle, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return parseBundle(path, data)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: path is the trust bundle the operator configured
	if err != nil {
		return nil, errorf("trust bundle: %w", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only: a close error loses nothing
	data, err := io.ReadAll(io.LimitReader(f, MaxBundleSize+1))
	if err != nil {
		return nil, errorf("trust bundle %q: %w", path, err)
	}
	if len(data) > MaxBundleSize {
		return nil, errorf("trust bundle %q is larger than %d bytes", path, MaxBundleSize)
	}
	return data, nil
}

// parseBundle parses data, a PEM file of CA certificates. Anything else in
// it (another block type, a certificate that is not a CA, text that is not
// PEM) makes the whole file invalid: a bundle is taken whole or not at all.
func parseBundle(path string, data []byte) (*bundle, error) {
	pool := x509.NewCertPool()
	n := 0
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, errorf("trust bundle %q: block %d is a %q, not a CERTIFICATE", path, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errorf("trust bundle %q: certificate %d: %w", path, n, err)
		}
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return nil, errorf("trust bundle %q: certificate %d (%q) is not a CA certificate", path, n, cert.Subject.String())
		}
		pool.AddCert(cert)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errorf("trust bundle %q: data after certificate %d is not PEM", path, n)
	}
	if n == 0 {
		return nil, errorf("trust bundle %q holds no certificate", path)
	}
	return &bundle{pool: pool, sum: sha256.Sum256(data)}, nil
}

// ReloadBundle reads the [BundleFile] again and, if it is a valid bundle,
// makes it the trust bundle of new handshakes (through
// [Authenticator.ServerTLSConfig]) and of every later [Authenticator.AuthenticatePeer],
// including on connections opened before. On error the last good bundle is
// kept. Errors wrap [ErrInvalidOption]. It is safe for concurrent use.
func (a *Authenticator) ReloadBundle() error {
	if a.cfg.bundleFile == "" {
		return errorf("ReloadBundle: no BundleFile is configured")
	}
	// Reloads are serialised so that an older read never replaces a newer.
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	b, err := readBundle(a.cfg.bundleFile)
	if err != nil {
		return err
	}
	a.bundle.Store(b)
	return nil
}

// Watch polls the [BundleFile] every interval and reloads it when its
// content changed, as [Authenticator.ReloadBundle] does. A file that cannot
// be read or parsed keeps the last good bundle and is reported to onError
// (which may be nil); unreadable files are reported at every poll, invalid
// content once until it changes. Watch blocks until ctx is done and then
// returns ctx's error; it returns an error wrapping [ErrInvalidOption] at
// once if there is no BundleFile or interval is not positive.
func (a *Authenticator) Watch(ctx context.Context, interval time.Duration, onError func(error)) error {
	if a.cfg.bundleFile == "" {
		return errorf("Watch: no BundleFile is configured")
	}
	if interval <= 0 {
		return errorf("Watch: interval %s is not positive", interval)
	}
	report := func(err error) {
		if onError != nil {
			onError(err)
		}
	}
	var lastBad [sha256.Size]byte
	haveBad := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := a.poll(&lastBad, &haveBad); err != nil {
			report(err)
		}
	}
}

// poll is one turn of Watch.
func (a *Authenticator) poll(lastBad *[sha256.Size]byte, haveBad *bool) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	data, err := readLimited(a.cfg.bundleFile)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if sum == a.bundle.Load().sum || (*haveBad && sum == *lastBad) {
		return nil
	}
	b, err := parseBundle(a.cfg.bundleFile, data)
	if err != nil {
		*lastBad, *haveBad = sum, true
		return err
	}
	*haveBad = false
	a.bundle.Store(b)
	return nil
}

// ServerTLSConfig returns a clone of base (nil means an empty config) for
// the gRPC server's credentials.NewTLS. Each handshake gets a config whose
// ClientAuth is tls.VerifyClientCertIfGiven and whose ClientCAs is the
// trust bundle current at that handshake, so a reloaded bundle applies to
// new connections without restarting the server. A GetConfigForClient of
// base is called first and its result (or base) is what is cloned.
//
// Client certificates are verified if given, not required, so the same
// server can serve methods that take bearer tokens; the enforcer refuses a
// method that needs MTLS when no verified certificate was sent. The
// ClientCAs of base (and of what its GetConfigForClient returns) is
// replaced; so is its ClientAuth, except that a config that requires a
// certificate (tls.RequireAnyClientCert or tls.RequireAndVerifyClientCert)
// gets tls.RequireAndVerifyClientCert: a server that serves only MTLS
// methods can refuse connections without a certificate.
//
// A resumed TLS session keeps the certificate of the handshake that
// created it, verified against the bundle of that time; AuthenticatePeer
// checks it against the current bundle on every call anyway.
func (a *Authenticator) ServerTLSConfig(base *tls.Config) *tls.Config {
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	base = base.Clone()
	inner := base.GetConfigForClient
	base.GetConfigForClient = nil
	apply := func(c *tls.Config) *tls.Config {
		switch c.ClientAuth {
		case tls.RequireAnyClientCert, tls.RequireAndVerifyClientCert:
			c.ClientAuth = tls.RequireAndVerifyClientCert
		default:
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
		c.ClientCAs = a.bundle.Load().pool
		return c
	}
	out := apply(base.Clone())
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		from := base
		if inner != nil {
			c, err := inner(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				from = c
			}
		}
		c := from.Clone()
		c.GetConfigForClient = nil
		return apply(c), nil
	}
	return out
}

// certPoolOf returns a pool of certs, the intermediates a client sent.
func certPoolOf(certs []*x509.Certificate) *x509.CertPool {
	if len(certs) == 0 {
		return nil
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
