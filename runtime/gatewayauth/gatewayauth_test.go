// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package gatewayauth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"

	kindsgw "github.com/grpcauth/protoc-gen-go-grpcauth/gen/gateway/grpcauthtest/v1"
	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/gatewayauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/internal/conformance"
)

// gateway is a grpc-gateway mux serving the typed Kinds wrapper in
// process, behind real HTTP servers.
type gateway struct {
	impl *conformance.Server
	enf  *runtime.Enforcer
	log  *bytes.Buffer
}

func newGateway(t *testing.T, w *conformance.World, muxOpts []gwruntime.ServeMuxOption, opts ...runtime.Option) (*gateway, http.Handler) {
	t.Helper()
	g := &gateway{impl: &conformance.Server{}, log: &bytes.Buffer{}}
	var err error
	if g.enf, err = runtime.NewEnforcer(append(w.Options(g.log), opts...)...); err != nil {
		t.Fatal(err)
	}
	mux := gwruntime.NewServeMux(muxOpts...)
	if err := kindsgw.RegisterKindsHandlerServer(context.Background(), mux, grpcauthtestv1.NewKindsServerWithAuth(g.impl, g.enf)); err != nil {
		t.Fatal(err)
	}
	return g, mux
}

// serveTLS serves h over HTTPS that asks for (and verifies) client
// certificates of w's CA.
func serveTLS(t *testing.T, w *conformance.World, h http.Handler) *httptest.Server {
	t.Helper()
	serverTLS, err := w.CA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = w.MTLS.ServerTLSConfig(serverTLS)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func tlsClient(w *conformance.World, certs ...tls.Certificate) *http.Client {
	c := w.CA.ClientTLS()
	c.ServerName = "localhost"
	c.Certificates = certs
	return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
}

// serveUnix serves h over plaintext HTTP on a Unix socket.
func serveUnix(t *testing.T, h http.Handler) *http.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h}
	go func() { _ = s.Serve(l) }() // ends with Close
	t.Cleanup(func() { s.Close() })
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// httpHeader is the HTTP header a conformance header is sent as.
func httpHeader(key string) string {
	switch key {
	case "authorization":
		return "Authorization"
	case "x-api-key":
		return "X-Api-Key"
	case "authorization-bin":
		return "Authorization-Bin"
	case "x-forwarded-client-cert":
		return "X-Forwarded-Client-Cert"
	}
	return key
}

// status is the JSON body of a gateway error.
type status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type     string            `json:"@type"`
		Reason   string            `json:"reason"`
		Domain   string            `json:"domain"`
		Metadata map[string]string `json:"metadata"`
	} `json:"details"`
}

// post sends a Kinds method's POST (generate_unbound_methods) with raw
// HTTP headers, and returns the HTTP status, the result and the body.
func post(t *testing.T, c *http.Client, base, method string, headers [][2]string) (int, conformance.Result, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/grpcauthtest.v1.Kinds/"+method, strings.NewReader(`{"text":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		var m struct{ Text string }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		return resp.StatusCode, conformance.Result{Code: codes.OK, Subject: m.Text}, string(body)
	}
	var st status
	if err := json.Unmarshal(body, &st); err != nil {
		return resp.StatusCode, conformance.Result{Code: codes.Unknown}, string(body)
	}
	r := conformance.Result{Code: codes.Code(st.Code)}
	for _, d := range st.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" && d.Domain == runtime.ErrorDomain {
			r.Reason = runtime.Reason(d.Reason)
		}
	}
	// The HTTP status is the gateway's mapping of the gRPC code.
	if want := gwruntime.HTTPStatusFromCode(r.Code); resp.StatusCode != want {
		t.Errorf("HTTP %d for %v, want %d", resp.StatusCode, r.Code, want)
	}
	return resp.StatusCode, r, string(body)
}

func gatewayCall(t *testing.T, c *http.Client, base string) conformance.Call {
	return func(_ context.Context, method string, headers []conformance.Header) conformance.Result {
		var hs [][2]string
		for _, h := range headers {
			hs = append(hs, [2]string{httpHeader(h.Key), h.Value})
		}
		_, r, _ := post(t, c, base, method, hs)
		return r
	}
}

// TestConformanceGateway runs the shared table through grpc-gateway's
// in-process handlers over real HTTP: TLS, plaintext, and a Unix socket
// whose peer is a trusted proxy, and loopback TCP to the same mux, which
// is not.
func TestConformanceGateway(t *testing.T) {
	w := conformance.NewWorld(t)
	opts := conformance.Options{Unary: true}
	t.Run("tls", func(t *testing.T) {
		g, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
		s := serveTLS(t, w, h)
		conformance.Run(t, w, conformance.Path{Secure: true}, g.impl, gatewayCall(t, tlsClient(w), s.URL), opts, conformance.Cases)
	})
	t.Run("plaintext", func(t *testing.T) {
		g, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		conformance.Run(t, w, conformance.Path{}, g.impl, gatewayCall(t, s.Client(), s.URL), opts, conformance.Cases)
	})
	t.Run("trusted proxy on a unix socket", func(t *testing.T) {
		g, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()},
			runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true}))
		conformance.Run(t, w, conformance.Path{Secure: true, ForwardsCerts: true}, g.impl, gatewayCall(t, serveUnix(t, h), "http://proxy"), opts, conformance.Cases)
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		t.Run("loopback to the same mux", func(t *testing.T) {
			conformance.Run(t, w, conformance.Path{}, g.impl, gatewayCall(t, s.Client(), s.URL), opts, conformance.Cases)
		})
	})
}

// TestGatewayTwoCredentials: what the gateway turns into one metadata key
// is two credentials (SECURITY-CASES 72), whichever one it would keep.
func TestGatewayTwoCredentials(t *testing.T) {
	w := conformance.NewWorld(t)
	g, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()},
		runtime.WithTrustedProxies(runtime.TrustedProxy{Unix: true, ForwardedClientCert: true}))
	s := serveTLS(t, w, h)
	c := tlsClient(w)
	unix := serveUnix(t, h)
	tok := w.Token("s")
	for _, tc := range []struct {
		name    string
		client  *http.Client
		base    string
		method  string
		headers [][2]string
		want    runtime.Reason
		subject string
	}{
		{"Authorization and Grpc-Metadata-Authorization", c, s.URL, "Jwt", [][2]string{{"Authorization", "Bearer " + tok}, {"Grpc-Metadata-Authorization", "Bearer " + tok}}, runtime.ReasonCredentialsMalformed, ""},
		{"Grpc-Metadata-X-Api-Key beside a bearer token", c, s.URL, "Any", [][2]string{{"Authorization", "Bearer " + tok}, {"Grpc-Metadata-X-Api-Key", w.APIKey}}, runtime.ReasonCredentialsMalformed, ""},
		{"X-Api-Key and Grpc-Metadata-X-Api-Key", c, s.URL, "ApiKey", [][2]string{{"X-Api-Key", w.APIKey}, {"Grpc-Metadata-X-Api-Key", w.APIKey}}, runtime.ReasonCredentialsMalformed, ""},
		{"a bearer value the gateway drops, beside an API key", c, s.URL, "Any", [][2]string{{"Authorization", "Bearer " + tok + "\u00e9"}, {"Grpc-Metadata-X-Api-Key", w.APIKey}}, runtime.ReasonCredentialsMalformed, ""},
		{"Grpc-Metadata-Authorization-Bin", c, s.URL, "Jwt", [][2]string{{"Grpc-Metadata-Authorization-Bin", "eA=="}}, runtime.ReasonCredentialsMalformed, ""},
		{"Grpc-Metadata-Authorization alone", c, s.URL, "Jwt", [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + tok}}, "", conformance.Alice},
		{"Grpc-Metadata-X-Api-Key alone", c, s.URL, "ApiKey", [][2]string{{"Grpc-Metadata-X-Api-Key", w.APIKey}}, "", conformance.Exporter},
		{"X-Api-Key, which the default matcher does not forward", c, s.URL, "ApiKey", [][2]string{{"X-Api-Key", w.APIKey}}, "", conformance.Exporter},
		{"Grpc-Metadata-X-Forwarded-Client-Cert from the trusted proxy", unix, "http://proxy", "Mtls", [][2]string{{"Grpc-Metadata-X-Forwarded-Client-Cert", authtest.ForwardedClientCert(w.Workload.Leaf)}}, runtime.ReasonCredentialsMalformed, ""},
		{"X-Forwarded-Client-Cert from the trusted proxy", unix, "http://proxy", "Mtls", [][2]string{{"X-Forwarded-Client-Cert", authtest.ForwardedClientCert(w.Workload.Leaf)}}, "", conformance.WorkloadA},
		{"X-Forwarded-Client-Cert over TLS", c, s.URL, "Mtls", [][2]string{{"X-Forwarded-Client-Cert", authtest.ForwardedClientCert(w.Workload.Leaf)}}, runtime.ReasonCredentialsMalformed, ""},
		{"X-Forwarded-For does not make a proxy", c, s.URL, "Mtls", [][2]string{{"X-Forwarded-For", "127.0.0.1"}, {"X-Forwarded-Client-Cert", authtest.ForwardedClientCert(w.Workload.Leaf)}}, runtime.ReasonCredentialsMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := g.impl.Calls.Load()
			_, got, body := post(t, tc.client, tc.base, tc.method, tc.headers)
			if got.Reason != tc.want || got.Subject != tc.subject {
				t.Errorf("got %v %s %q, want %q %q\n%s", got.Code, got.Reason, got.Subject, tc.want, tc.subject, body)
			}
			if tc.want != "" && g.impl.Calls.Load() != before {
				t.Error("a denied call reached the handler")
			}
		})
	}
}

// TestGatewayCertificateOverTLS: the verified client certificate of the
// HTTPS connection is the call's MTLS credential.
func TestGatewayCertificateOverTLS(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
	s := serveTLS(t, w, h)
	_, got, body := post(t, tlsClient(w, w.Workload), s.URL, "Mtls", nil)
	if got.Code != codes.OK || got.Subject != conformance.WorkloadA {
		t.Fatalf("got %v %s %q, want OK %s\n%s", got.Code, got.Reason, got.Subject, conformance.WorkloadA, body)
	}
	_, got, _ = post(t, tlsClient(w, w.Foreign), s.URL, "Mtls", nil)
	if got.Code != codes.Unauthenticated {
		// The HTTPS server refuses a certificate of another CA in the
		// handshake; a call never gets here.
		t.Logf("foreign certificate: %v %s", got.Code, got.Reason)
	}
}

// TestGatewayWithoutOption: the typed wrapper under a mux without
// ServeMuxOption does not guess: a plaintext call from nowhere, even over
// HTTPS.
func TestGatewayWithoutOption(t *testing.T) {
	w := conformance.NewWorld(t)
	g, h := newGateway(t, w, nil)
	s := serveTLS(t, w, h)
	for _, tc := range []struct {
		method  string
		headers [][2]string
		want    runtime.Reason
	}{
		{"Jwt", [][2]string{{"Authorization", "Bearer " + w.Token("s")}}, runtime.ReasonTransportInsecure},
		{"Secure", [][2]string{{"X-Api-Key", w.APIKey}}, runtime.ReasonTransportInsecure},
		{"Public", nil, ""},
	} {
		_, got, body := post(t, tlsClient(w), s.URL, tc.method, tc.headers)
		if got.Reason != tc.want {
			t.Errorf("%s: got %v %s, want %q\n%s", tc.method, got.Code, got.Reason, tc.want, body)
		}
	}
	_ = g
}

// TestGatewayCustomMatcher: a header matcher that maps another header onto
// authorization puts a credential in metadata that no credential header
// carries: refused, never read.
func TestGatewayCustomMatcher(t *testing.T) {
	w := conformance.NewWorld(t)
	g, h := newGateway(t, w, []gwruntime.ServeMuxOption{
		gatewayauth.ServeMuxOption(),
		gwruntime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if key == "X-Token" {
				return "authorization", true
			}
			return gwruntime.DefaultHeaderMatcher(key)
		}),
	})
	s := serveTLS(t, w, h)
	_, got, body := post(t, tlsClient(w), s.URL, "Jwt", [][2]string{{"X-Token", "Bearer " + w.Token("s")}})
	if got.Reason != runtime.ReasonCredentialsMalformed || g.impl.Calls.Load() != 0 {
		t.Errorf("got %v %s, want CREDENTIALS_MALFORMED\n%s", got.Code, got.Reason, body)
	}
}

// TestGatewayErrorBody: a denial is 401, 403 or 503 with the status and
// its ErrorInfo as JSON, and never quotes the credential.
func TestGatewayErrorBody(t *testing.T) {
	w := conformance.NewWorld(t)
	_, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
	s := serveTLS(t, w, h)
	tok := w.Token("t")
	code, got, body := post(t, tlsClient(w), s.URL, "Jwt", [][2]string{{"Authorization", "Bearer " + tok}})
	if code != http.StatusForbidden || got.Reason != runtime.ReasonScopeInsufficient {
		t.Fatalf("got HTTP %d %s, want 403 SCOPE_INSUFFICIENT\n%s", code, got.Reason, body)
	}
	var st status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Details) != 1 || st.Details[0].Metadata["missing_scopes"] != "s" || st.Details[0].Metadata["method"] != "/grpcauthtest.v1.Kinds/Jwt" {
		t.Errorf("details = %+v", st.Details)
	}
	code, _, body = post(t, tlsClient(w), s.URL, "Jwt", nil)
	if code != http.StatusUnauthorized || !strings.Contains(body, `"reason":"CREDENTIALS_MISSING"`) {
		t.Errorf("got HTTP %d %s, want 401 CREDENTIALS_MISSING", code, body)
	}
	down := conformance.NewWorld(t)
	down.Issuer.FailJWKS(http.StatusInternalServerError)
	_, hd := newGateway(t, down, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
	sd := serveTLS(t, down, hd)
	code, got, body = post(t, tlsClient(down), sd.URL, "Jwt", [][2]string{{"Authorization", "Bearer " + down.Token("s")}})
	if code != http.StatusServiceUnavailable || got.Reason != runtime.ReasonAuthBackendUnavailable {
		t.Errorf("got HTTP %d %s, want 503 AUTH_BACKEND_UNAVAILABLE\n%s", code, got.Reason, body)
	}
	if strings.Contains(body, tok[:20]) {
		t.Errorf("the body quotes the token: %s", body)
	}
}

// TestGatewayUnmappedPath: a path the gateway does not map is 404 and
// reaches no handler.
func TestGatewayUnmappedPath(t *testing.T) {
	w := conformance.NewWorld(t)
	g, h := newGateway(t, w, []gwruntime.ServeMuxOption{gatewayauth.ServeMuxOption()})
	s := serveTLS(t, w, h)
	for _, path := range []string{"/grpcauthtest.v1.Kinds/Nope", "/v1/items", "/grpcauthtest.v1.Kinds/Jwt/extra", "/"} {
		req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+w.Token("s"))
		resp, err := tlsClient(w).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404", path, resp.StatusCode)
		}
	}
	if n := g.impl.Calls.Load(); n != 0 {
		t.Errorf("%d handler calls, want none", n)
	}
}
