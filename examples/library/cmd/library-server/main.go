// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Command library-server serves the example LibraryService with auth
// enforced from its .proto, against your own issuer, keys and CA: a way to
// try the generated rules with real credentials before wiring them into a
// service of your own.
//
// JWTs (required):
//
//	library-server -issuer https://issuer.example -jwks-url https://issuer.example/jwks.json \
//	  -audience library -tls-cert server.pem -tls-key server-key.pem
//
// Without -jwks-url, the issuer's keys are found by OpenID Connect
// Discovery: the jwks_uri of https://issuer.example/.well-known/openid-configuration.
//
// The other credential kinds are optional, each turned on by its flags:
//
//	-introspection-url URL -introspection-client-id ID
//	    OAuth2 tokens checked by RFC 7662 introspection; the client secret is
//	    read from $LIBRARY_INTROSPECTION_SECRET, never from a flag.
//	-api-keys FILE
//	    API keys (runtime/apikey's JSON key file; reloaded when it changes).
//	-client-ca FILE -spiffe-trust-domain DOMAIN [-mtls-scope ID=SCOPE,SCOPE ...]
//	    client certificates with SPIFFE IDs, verified against the PEM bundle
//	    in FILE (reloaded when it changes), on the TLS listener.
//
// -http-addr serves the same service, with the same rules, through
// grpc-gateway (REST under /v1/) and to Connect clients (Connect, gRPC-Web
// and gRPC protocols): HTTPS with -tls-cert, else h2c.
//
// -ca-file adds CA certificates (PEM) trusted for the JWKS and
// introspection endpoints, for issuers behind a private CA.
//
// -jwt-types lists the accepted typ headers of JWTs, comma-separated: the
// default, at+jwt (RFC 9068), refuses ID tokens; -jwt-types at+jwt,JWT
// also accepts an issuer whose access tokens say typ JWT.
//
// -admin-addr (default 127.0.0.1:9090, loopback only; "" turns it off) is
// an admin listener, plaintext and without auth, that serves server
// reflection and health checking only, for operators' tools: grpcurl can
// list and describe the services there, and save their descriptors (and
// google.rpc.ErrorInfo's, so that it decodes a denial's reason and decision
// id) to call the service listeners, where reflection stays denied:
//
//	grpcurl -plaintext -protoset-out library.protoset 127.0.0.1:9090 describe library.v1.LibraryService
//	grpcurl -plaintext -protoset-out errors.protoset 127.0.0.1:9090 describe google.rpc.ErrorInfo
//	grpcurl -protoset library.protoset -protoset errors.protoset -cacert ca.pem \
//	  -H "authorization: Bearer $TOKEN" 127.0.0.1:8443 library.v1.LibraryService/GetBook
//
// -dry-run METHOD (repeatable; "/pkg.Service/Method" or "/pkg.Service/*")
// reports the method's would-be denials and lets its calls proceed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/examples/library"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// secretEnv holds the introspection client secret: flags show in ps.
const secretEnv = "LIBRARY_INTROSPECTION_SECRET"

// shutdownGrace is how long calls in flight may run on after SIGINT or
// SIGTERM.
const shutdownGrace = 10 * time.Second

// reloadInterval is how often the API key file and the client CA bundle
// are checked for changes.
const reloadInterval = 10 * time.Second

type options struct {
	issuer, jwksURL, audience                string
	jwtTypes                                 []string
	plainAddr, tlsAddr, certFile, keyFile    string
	httpAddr                                 string
	caFile                                   string
	introspectionURL, clientID, clientSecret string
	apiKeys                                  string
	clientCA, trustDomain                    string
	mtlsScopes                               map[string][]string
	adminAddr                                string
	dryRun                                   []string
}

func main() {
	o, err := parse(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "library-server:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := start(ctx, o, slog.Default())
	if err != nil {
		fmt.Fprintln(os.Stderr, "library-server:", err)
		os.Exit(1)
	}
	slog.Info("serving", "plaintext", r.PlainAddr, "tls", r.TLSAddr, "gateway and connect", r.HTTPURL, "admin", r.AdminAddr)
	<-ctx.Done()
	slog.Info("stopping: waiting for calls in flight", "at-most", shutdownGrace)
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	r.Shutdown(grace)
}

// parse reads the command line; getenv supplies the introspection secret.
func parse(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("library-server", flag.ContinueOnError)
	fs.StringVar(&o.issuer, "issuer", "", "the accepted JWT issuer (iss); required")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "the issuer's JWKS URL (https); without it, found by OpenID Connect Discovery from -issuer")
	fs.StringVar(&o.audience, "audience", "library", "the accepted audience (aud) of JWTs and introspected tokens")
	jwtTypes := fs.String("jwt-types", jwtauth.DefaultType, "the accepted typ headers of JWTs, comma-separated (at+jwt,JWT also accepts typ JWT)")
	fs.StringVar(&o.plainAddr, "plain-addr", "127.0.0.1:8080", "plaintext listen address")
	fs.StringVar(&o.tlsAddr, "tls-addr", "127.0.0.1:8443", "TLS listen address (with -tls-cert)")
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8081", "grpc-gateway (/v1/...) and Connect listen address: HTTPS with -tls-cert, else h2c")
	fs.StringVar(&o.certFile, "tls-cert", "", "server certificate (PEM)")
	fs.StringVar(&o.keyFile, "tls-key", "", "server key (PEM)")
	fs.StringVar(&o.caFile, "ca-file", "", "extra CA certificates (PEM) for the JWKS and introspection endpoints")
	fs.StringVar(&o.introspectionURL, "introspection-url", "", "RFC 7662 introspection endpoint (https): turns on OAUTH2_TOKEN")
	fs.StringVar(&o.clientID, "introspection-client-id", "", "client ID for the introspection endpoint; the secret is $"+secretEnv)
	fs.StringVar(&o.apiKeys, "api-keys", "", "API key file (JSON): turns on API_KEY")
	fs.StringVar(&o.clientCA, "client-ca", "", "CA bundle (PEM) for client certificates: turns on MTLS (needs -tls-cert)")
	fs.StringVar(&o.trustDomain, "spiffe-trust-domain", "", "the SPIFFE trust domain of client certificates (with -client-ca)")
	fs.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:9090", "admin listener (plaintext, no auth): reflection and health only; keep it on loopback; empty turns it off")
	fs.Func("dry-run", "METHOD: put /pkg.Service/Method (or /pkg.Service/*) in dry-run: would-be denials are reported, calls proceed (repeatable)", func(v string) error {
		o.dryRun = append(o.dryRun, v)
		return nil
	})
	fs.Func("mtls-scope", "ID=SCOPE[,SCOPE...]: scopes of a client certificate's SPIFFE ID (repeatable)", func(v string) error {
		id, scopes, ok := strings.Cut(v, "=")
		if !ok || id == "" || scopes == "" {
			return errors.New("want ID=SCOPE[,SCOPE...]")
		}
		if o.mtlsScopes == nil {
			o.mtlsScopes = map[string][]string{}
		}
		o.mtlsScopes[id] = append(o.mtlsScopes[id], strings.Split(scopes, ",")...)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.jwtTypes = strings.Split(*jwtTypes, ",")
	if slices.Contains(o.jwtTypes, "") {
		return o, errors.New("-jwt-types: an empty type; a token without typ is not accepted here")
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case (o.certFile == "") != (o.keyFile == ""):
		return o, errors.New("-tls-cert and -tls-key go together")
	case o.introspectionURL != "" && o.clientID == "":
		return o, errors.New("-introspection-url needs -introspection-client-id")
	case o.clientCA != "" && o.trustDomain == "":
		return o, errors.New("-client-ca needs -spiffe-trust-domain")
	case o.clientCA != "" && o.certFile == "":
		return o, errors.New("-client-ca needs -tls-cert: client certificates come over TLS")
	case o.mtlsScopes != nil && o.clientCA == "":
		return o, errors.New("-mtls-scope needs -client-ca")
	case o.trustDomain != "" && o.clientCA == "":
		return o, errors.New("-spiffe-trust-domain needs -client-ca")
	}
	if o.introspectionURL != "" {
		if o.clientSecret = getenv(secretEnv); o.clientSecret == "" {
			return o, fmt.Errorf("-introspection-url needs the client secret in $%s", secretEnv)
		}
	}
	return o, nil
}

// start builds the authenticators o asks for and starts the server. The
// key file and CA bundle watchers run until ctx ends.
func start(ctx context.Context, o options, logger *slog.Logger) (*library.Running, error) {
	hc := http.DefaultClient
	if o.caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file %s: no PEM certificates", o.caFile)
		}
		t := http.DefaultTransport.(*http.Transport).Clone() // its dial, handshake and idle timeouts
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		hc = &http.Client{Transport: t}
	}
	keys := jwtauth.OIDCDiscovery()
	if o.jwksURL != "" {
		keys = jwtauth.JWKSURL(o.jwksURL)
	}
	jwt, err := jwtauth.New(
		jwtauth.Issuer(o.issuer, jwtauth.Audience(o.audience), keys, jwtauth.Types(o.jwtTypes...)),
		jwtauth.HTTPClient(hc), jwtauth.Logger(logger))
	if err != nil {
		return nil, err
	}
	cfg := library.Config{JWT: jwt, PlainAddr: o.plainAddr, TLSAddr: o.tlsAddr, HTTPAddr: o.httpAddr, AdminAddr: o.adminAddr, Logger: logger}
	if len(o.dryRun) > 0 {
		cfg.Options = append(cfg.Options, runtime.WithDryRun(o.dryRun...))
	}
	if o.adminAddr != "" && !loopback(o.adminAddr) {
		logger.Warn("the admin listener is not on loopback: anybody who reaches it can list every method", "admin-addr", o.adminAddr)
	}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, err
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.introspectionURL != "" {
		if cfg.OAuth2, err = introspection.New(
			introspection.Endpoint(o.introspectionURL),
			introspection.ClientSecret(o.clientID, o.clientSecret),
			introspection.Audience(o.audience),
			introspection.HTTPClient(hc),
		); err != nil {
			return nil, err
		}
	}
	report := func(what string) func(error) {
		return func(err error) {
			logger.Warn("reload failed; the last good one stays in use", "what", what, "error", err)
		}
	}
	if o.apiKeys != "" {
		keys, err := apikey.LoadFile(o.apiKeys)
		if err != nil {
			return nil, err
		}
		go keys.Watch(ctx, reloadInterval, report("api keys"))
		cfg.APIKeys = keys
	}
	if o.clientCA != "" {
		mopts := []mtls.Option{mtls.SPIFFE(o.trustDomain), mtls.BundleFile(o.clientCA)}
		if o.mtlsScopes != nil {
			mopts = append(mopts, mtls.Scopes(o.mtlsScopes))
		}
		if cfg.MTLS, err = mtls.New(mopts...); err != nil {
			return nil, err
		}
		go func() { _ = cfg.MTLS.Watch(ctx, reloadInterval, report("client CA bundle")) }()
	}
	return library.Start(cfg)
}

// loopback reports whether addr's host is a loopback address or localhost.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
