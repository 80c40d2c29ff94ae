// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/mtls"
)

// The workload identities of the kinds fixture's trust domain.
const (
	kindsTrustDomain = "test.example"
	// workloadA holds scope "s".
	workloadA = "spiffe://test.example/workload/a"
	// workloadB is a valid identity that holds no scope.
	workloadB = "spiffe://test.example/workload/b"
)

// kindsRecorder is a Kinds service that records what reached it.
type kindsRecorder struct {
	grpcauthtestv1.UnimplementedKindsServer
	calls atomic.Int64 // handler invocations, all methods
	mu    sync.Mutex
	last  kindsSeen
}

// kindsSeen is what a handler saw of its call.
type kindsSeen struct {
	method       string
	hasPrincipal bool
	kind         runtime.CredentialKind
	subject      string
}

func (r *kindsRecorder) saw(ctx context.Context, method string) {
	s := kindsSeen{method: method}
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		s.hasPrincipal, s.kind, s.subject = true, p.Kind, p.Subject
	}
	r.mu.Lock()
	r.last = s
	r.mu.Unlock()
	r.calls.Add(1)
}

func (r *kindsRecorder) lastSeen() kindsSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *kindsRecorder) Jwt(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_Jwt_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) OAuth2(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_OAuth2_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) ApiKey(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_ApiKey_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) Mtls(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_Mtls_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) Any(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_Any_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) Public(ctx context.Context, m *grpcauthtestv1.Msg) (*grpcauthtestv1.Msg, error) {
	r.saw(ctx, grpcauthtestv1.Kinds_Public_FullMethodName)
	return m, nil
}

func (r *kindsRecorder) PublicChat(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	r.saw(stream.Context(), grpcauthtestv1.Kinds_PublicChat_FullMethodName)
	return echo(stream)
}

func (r *kindsRecorder) SecureWatch(m *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	r.saw(stream.Context(), grpcauthtestv1.Kinds_SecureWatch_FullMethodName)
	return stream.Send(m)
}

// echo sends back every message until the client closes.
func echo(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(m); err != nil {
			return err
		}
	}
}

func (r *kindsRecorder) WatchAny(m *grpcauthtestv1.Msg, stream grpc.ServerStreamingServer[grpcauthtestv1.Msg]) error {
	r.saw(stream.Context(), grpcauthtestv1.Kinds_WatchAny_FullMethodName)
	return stream.Send(m)
}

func (r *kindsRecorder) UploadAny(stream grpc.ClientStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	r.saw(stream.Context(), grpcauthtestv1.Kinds_UploadAny_FullMethodName)
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return stream.SendAndClose(&grpcauthtestv1.Msg{Text: "done"})
		} else if err != nil {
			return err
		}
	}
}

func (r *kindsRecorder) ChatAny(stream grpc.BidiStreamingServer[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	r.saw(stream.Context(), grpcauthtestv1.Kinds_ChatAny_FullMethodName)
	return echo(stream)
}

// kindsFixture is a Kinds server whose enforcer has all four
// authenticators, served over bufconn twice: with TLS (client certificates
// verified if given, through mtls.Authenticator.ServerTLSConfig) and in
// plaintext.
type kindsFixture struct {
	iss        *authtest.Issuer
	in         *authtest.Introspector
	keys       *apikey.Store
	mtlsAuth   *mtls.Authenticator
	bundlePath string
	serverCA   *authtest.CA // signs the server's certificate
	workloadCA *authtest.CA // the trust bundle; signs client certificates
	impl       *kindsRecorder
	enf        *runtime.Enforcer
	decisions  *decisionLog
	log        *syncBuffer
	secure     *bufconn.Listener
	plain      *bufconn.Listener

	// exporterKey and exporterKey2 are the two keys of client "exporter"
	// (scope s); noScopeKey is the key of client "noscope".
	exporterKey, exporterKey2, noScopeKey string

	// certA is a valid workload certificate of workloadA, certB of
	// workloadB.
	certA, certB *tls.Certificate
	// client is over TLS without a client certificate, clientA and
	// clientB over TLS with certA and certB, plainClient over plaintext.
	client, clientA, clientB, plainClient grpcauthtestv1.KindsClient
	// The connections of client, clientA, clientB and plainClient, for
	// clients of extra services.
	conn, connA, connB, plainConn *grpc.ClientConn
}

// kindsOptions change the kinds fixture; the zero value is the default.
type kindsOptions struct {
	// enforcerOpts are added last to the enforcer's options.
	enforcerOpts []runtime.Option
	// keys replaces the default API key store.
	keys *apikey.Store
	// introspectionOpts are added to the introspection authenticator's.
	introspectionOpts []introspection.Option
	// noOAuth2 leaves the OAUTH2_TOKEN authenticator out.
	noOAuth2 bool
	// uncachedJWT turns the JWT authenticator's verified-token cache off,
	// so every JWT is verified.
	uncachedJWT bool
	// jwtOpts are added to the JWT authenticator's options.
	jwtOpts []jwtauth.Option
	// impl serves the Kinds service instead of the fixture's recorder.
	impl grpcauthtestv1.KindsServer
	// mtlsScopes replaces the mTLS authenticator's scope map.
	mtlsScopes func(identity string) []string
	// extra registers more services, enforced in the fixture's mode by its
	// enforcer; extraRules are their rules, for the interceptor mode.
	extra      func(s *grpc.Server, m mode, enf *runtime.Enforcer)
	extraRules []*runtime.ServiceRules
}

// newKindsFixture starts a Kinds server enforced in mode m. Its enforcer
// has a JWT authenticator (audience "library"), an introspection
// authenticator, an API key store with the clients "exporter" (scope s,
// two keys) and "noscope", and an mTLS authenticator of trust domain
// test.example whose bundle file holds the workload CA and which gives
// workloadA scope s. It logs to f.log and audits to f.decisions.
func newKindsFixture(t testing.TB, m mode, o kindsOptions) *kindsFixture {
	t.Helper()
	f := &kindsFixture{
		iss:       authtest.NewIssuer(t, authtest.DefaultAudience("library")),
		in:        authtest.NewIntrospector(t, "grpc-server", "s3cret"),
		impl:      &kindsRecorder{},
		decisions: &decisionLog{},
		log:       &syncBuffer{},
	}
	f.exporterKey, f.exporterKey2, f.noScopeKey = newTestAPIKey(t), newTestAPIKey(t), newTestAPIKey(t)
	f.keys = o.keys
	if f.keys == nil {
		var err error
		f.keys, err = apikey.New([]apikey.Client{
			{Name: "exporter", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(f.exporterKey), apikey.Hash(f.exporterKey2)}},
			{Name: "noscope", KeySHA256: []string{apikey.Hash(f.noScopeKey)}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.serverCA, f.workloadCA = newTestCA(t, "kinds server CA"), newTestCA(t, "kinds workload CA")
	f.bundlePath = filepath.Join(t.TempDir(), "bundle.pem")
	writeTrustBundle(t, f.bundlePath, f.workloadCA)
	var err error
	scopes := mtls.Scopes(map[string][]string{workloadA: {"s"}})
	if o.mtlsScopes != nil {
		scopes = mtls.ScopeFunc(o.mtlsScopes)
	}
	f.mtlsAuth, err = mtls.New(mtls.SPIFFE(kindsTrustDomain), mtls.BundleFile(f.bundlePath), scopes)
	if err != nil {
		t.Fatal(err)
	}

	jwtOpts := []jwtauth.Option{
		jwtauth.Issuer(f.iss.URL(), jwtauth.Audience("library"), jwtauth.JWKSURL(f.iss.JWKSURL())),
		jwtauth.HTTPClient(f.iss.HTTPClient()),
		jwtauth.Logger(slog.New(slog.NewTextHandler(f.log, nil))), // keys of the JWKS it does not use
	}
	if o.uncachedJWT {
		jwtOpts = append(jwtOpts, jwtauth.CacheSize(0))
	}
	jwtAuth, err := jwtauth.New(append(jwtOpts, o.jwtOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	opts := []runtime.Option{
		runtime.WithJWT(jwtAuth),
		runtime.WithAPIKeys(f.keys),
		runtime.WithMTLS(f.mtlsAuth),
		runtime.WithLogger(slog.New(slog.NewTextHandler(f.log, nil))),
		auditAll(f.decisions),
	}
	if !o.noOAuth2 {
		oauth2, err := introspection.New(append([]introspection.Option{
			introspection.Endpoint(f.in.URL()),
			introspection.ClientSecret("grpc-server", "s3cret"),
			introspection.HTTPClient(f.in.HTTPClient()),
			introspection.Issuer(f.in.Issuer()),
			introspection.Audience("library"),
		}, o.introspectionOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, runtime.WithOAuth2(oauth2))
	}
	if m == modeInterceptor {
		opts = append(opts, runtime.WithRules(grpcauthtestv1.KindsAuthRules), runtime.WithRules(o.extraRules...))
	}
	f.enf, err = runtime.NewEnforcer(append(opts, o.enforcerOpts...)...)
	if err != nil {
		t.Fatal(err)
	}

	var serverOpts []grpc.ServerOption
	if m == modeInterceptor {
		serverOpts = append(serverOpts,
			grpc.ChainUnaryInterceptor(f.enf.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(f.enf.StreamServerInterceptor()))
	}
	var impl grpcauthtestv1.KindsServer = f.impl
	if o.impl != nil {
		impl = o.impl
	}
	register := func(s *grpc.Server) {
		switch m {
		case modeRegister:
			grpcauthtestv1.RegisterKindsServerWithAuth(s, impl, f.enf)
		case modeWrapper:
			grpcauthtestv1.RegisterKindsServer(s, grpcauthtestv1.NewKindsServerWithAuth(impl, f.enf))
		case modeInterceptor:
			grpcauthtestv1.RegisterKindsServer(s, impl)
		default:
			t.Fatalf("unknown mode %q", m)
		}
		if o.extra != nil {
			o.extra(s, m, f.enf)
		}
	}
	serverTLS, err := f.serverCA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	f.secure = serve(t, register, append(serverOpts, grpc.Creds(credentials.NewTLS(f.mtlsAuth.ServerTLSConfig(serverTLS))))...)
	f.plain = serve(t, register, serverOpts...)

	f.certA = f.workload(t, workloadA)
	f.certB = f.workload(t, workloadB)
	f.conn, f.connA, f.connB = f.dialConn(t, nil), f.dialConn(t, f.certA), f.dialConn(t, f.certB)
	f.plainConn = dial(t, f.plain, insecure.NewCredentials())
	f.client = grpcauthtestv1.NewKindsClient(f.conn)
	f.clientA = grpcauthtestv1.NewKindsClient(f.connA)
	f.clientB = grpcauthtestv1.NewKindsClient(f.connB)
	f.plainClient = grpcauthtestv1.NewKindsClient(f.plainConn)
	return f
}

func newTestCA(t testing.TB, name string) *authtest.CA {
	t.Helper()
	ca, err := authtest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newTestAPIKey(t testing.TB) string {
	t.Helper()
	k, err := apikey.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clientLeaf mints a client certificate of ca.
func clientLeaf(t testing.TB, ca *authtest.CA, o authtest.LeafOptions) *tls.Certificate {
	t.Helper()
	o.Client = true
	if o.CommonName == "" {
		o.CommonName = "workload"
	}
	c, err := ca.Leaf(o)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// workload mints a client certificate of the fixture's workload CA with
// uris as its URI SANs.
func (f *kindsFixture) workload(t testing.TB, uris ...string) *tls.Certificate {
	t.Helper()
	return clientLeaf(t, f.workloadCA, authtest.LeafOptions{URIs: uris})
}

// dialTLS connects over TLS, presenting cert when it is not nil. The
// certificate is presented whatever CAs the server says it accepts, as a
// hostile client would; a stock crypto/tls client would send none when
// its CA is not among them.
func (f *kindsFixture) dialTLS(t testing.TB, cert *tls.Certificate) grpcauthtestv1.KindsClient {
	t.Helper()
	return grpcauthtestv1.NewKindsClient(f.dialConn(t, cert))
}

// dialConn is dialTLS's connection.
func (f *kindsFixture) dialConn(t testing.TB, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cfg := withServerName(f.serverCA.ClientTLS())
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return dial(t, f.secure, credentials.NewTLS(cfg))
}

// writeBundle writes the PEM trust bundle of cas to path, atomically.
func writeTrustBundle(t testing.TB, path string, cas ...*authtest.CA) {
	t.Helper()
	var data []byte
	for _, ca := range cas {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw})...)
	}
	writeFileAtomic(t, path, data)
}

// writeKeyFile writes an API key file of clients to path, atomically.
func writeAPIKeyFile(t testing.TB, path string, clients ...apikey.Client) {
	t.Helper()
	type fileClient struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes,omitempty"`
		KeySHA256 []string `json:"key_sha256"`
	}
	doc := struct {
		Clients []fileClient `json:"clients"`
	}{Clients: []fileClient{}}
	for _, c := range clients {
		doc.Clients = append(doc.Clients, fileClient{c.Name, c.Scopes, c.KeySHA256})
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, path, data)
}

func writeFileAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// kindsCall is one call of a Kinds method.
type kindsCall struct {
	name   string
	method string // full method name
	call   func(ctx context.Context, c grpcauthtestv1.KindsClient) error
}

// run makes the call, bounded by a deadline so that a hang fails the test.
func (k kindsCall) run(ctx context.Context, c grpcauthtestv1.KindsClient) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return k.call(ctx, c)
}

type kindsUnaryFn = func(grpcauthtestv1.KindsClient, context.Context, *grpcauthtestv1.Msg, ...grpc.CallOption) (*grpcauthtestv1.Msg, error)

func kindsUnary(name, method string, fn kindsUnaryFn) kindsCall {
	return kindsCall{name, method, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
		_, err := fn(c, ctx, &grpcauthtestv1.Msg{Text: "hello"})
		return err
	}}
}

var (
	callJwt    = kindsUnary("Jwt", grpcauthtestv1.Kinds_Jwt_FullMethodName, grpcauthtestv1.KindsClient.Jwt)
	callOAuth2 = kindsUnary("OAuth2", grpcauthtestv1.Kinds_OAuth2_FullMethodName, grpcauthtestv1.KindsClient.OAuth2)
	callAPIKey = kindsUnary("ApiKey", grpcauthtestv1.Kinds_ApiKey_FullMethodName, grpcauthtestv1.KindsClient.ApiKey)
	callMtls   = kindsUnary("Mtls", grpcauthtestv1.Kinds_Mtls_FullMethodName, grpcauthtestv1.KindsClient.Mtls)
	callAny    = kindsUnary("Any", grpcauthtestv1.Kinds_Any_FullMethodName, grpcauthtestv1.KindsClient.Any)
	callPublic = kindsUnary("Public", grpcauthtestv1.Kinds_Public_FullMethodName, grpcauthtestv1.KindsClient.Public)

	// kindsStreams are the streaming methods; each accepts all four kinds.
	kindsStreams = []kindsCall{
		{"WatchAny", grpcauthtestv1.Kinds_WatchAny_FullMethodName, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
			s, err := c.WatchAny(ctx, &grpcauthtestv1.Msg{Text: "watch"})
			if err != nil {
				return err
			}
			return drainStream(s.Recv)
		}},
		{"UploadAny", grpcauthtestv1.Kinds_UploadAny_FullMethodName, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
			s, err := c.UploadAny(ctx)
			if err != nil {
				return err
			}
			// Send may fail with io.EOF once the server has answered; the
			// status comes from CloseAndRecv.
			_ = s.Send(&grpcauthtestv1.Msg{Text: "part"})
			_, err = s.CloseAndRecv()
			return err
		}},
		{"ChatAny", grpcauthtestv1.Kinds_ChatAny_FullMethodName, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
			s, err := c.ChatAny(ctx)
			if err != nil {
				return err
			}
			_ = s.Send(&grpcauthtestv1.Msg{Text: "hi"})
			_ = s.CloseSend()
			return drainStream(s.Recv)
		}},
	}

	// callPublicChat is the public bidi-streaming method.
	callPublicChat = kindsCall{"PublicChat", grpcauthtestv1.Kinds_PublicChat_FullMethodName, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
		s, err := c.PublicChat(ctx)
		if err != nil {
			return err
		}
		_ = s.Send(&grpcauthtestv1.Msg{Text: "hi"})
		_ = s.CloseSend()
		return drainStream(s.Recv)
	}}

	// callSecureWatch is the server-streaming method that requires TLS.
	callSecureWatch = kindsCall{"SecureWatch", grpcauthtestv1.Kinds_SecureWatch_FullMethodName, func(ctx context.Context, c grpcauthtestv1.KindsClient) error {
		s, err := c.SecureWatch(ctx, &grpcauthtestv1.Msg{Text: "watch"})
		if err != nil {
			return err
		}
		return drainStream(s.Recv)
	}}

	// anyCalls are the four kinds of call, each accepting all four kinds
	// of credential.
	anyCalls = withStreams(callAny)
)

// withStreams returns unary and the three streaming calls.
func withStreams(unary kindsCall) []kindsCall {
	return append([]kindsCall{unary}, kindsStreams...)
}

func drainStream(recv func() (*grpcauthtestv1.Msg, error)) error {
	for {
		if _, err := recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// kindsModes runs test once per enforcement mode.
func kindsModes(t *testing.T, test func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) { test(t, m) })
	}
}

func metadataCtx(kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), kv...)
}

func bearerMD(token string) context.Context { return metadataCtx("authorization", "Bearer "+token) }

func apiKeyMD(key string) context.Context { return metadataCtx("x-api-key", key) }

// wantDenied runs k and asserts a denial with code and reason that no
// handler saw. It returns the call's error.
func (f *kindsFixture) wantDenied(t *testing.T, k kindsCall, ctx context.Context, c grpcauthtestv1.KindsClient, code codes.Code, reason runtime.Reason) error {
	t.Helper()
	before := f.impl.calls.Load()
	err := k.run(ctx, c)
	wantDenied(t, err, code, reason)
	if n := f.impl.calls.Load() - before; n != 0 {
		t.Errorf("%s: a handler ran %d times on a denied call", k.name, n)
	}
	return err
}

// wantAllowed runs k and asserts that it succeeded, that its handler ran
// once with a principal of kind and subject, and that the audit hook saw
// the same.
func (f *kindsFixture) wantAllowed(t *testing.T, k kindsCall, ctx context.Context, c grpcauthtestv1.KindsClient, kind runtime.CredentialKind, subject string) {
	t.Helper()
	before := f.impl.calls.Load()
	if err := k.run(ctx, c); err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	if n := f.impl.calls.Load() - before; n != 1 {
		t.Fatalf("%s: handler ran %d times; want 1", k.name, n)
	}
	want := kindsSeen{method: k.method, hasPrincipal: true, kind: kind, subject: subject}
	if got := f.impl.lastSeen(); got != want {
		t.Errorf("%s: handler saw %+v; want %+v", k.name, got, want)
	}
	d, ok := f.lastDecision(k.method)
	if !ok || d.Outcome != runtime.OutcomeAllow || d.Kind != kind || d.Subject != subject || d.Code != codes.OK {
		t.Errorf("%s: audit decision = %+v (found %v); want allowed, kind %s, subject %q", k.name, d, ok, kind, subject)
	}
}

// wantPublic runs k and asserts that it succeeded and that its handler ran
// without a principal.
func (f *kindsFixture) wantPublic(t *testing.T, k kindsCall, ctx context.Context, c grpcauthtestv1.KindsClient) {
	t.Helper()
	before := f.impl.calls.Load()
	if err := k.run(ctx, c); err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	if n := f.impl.calls.Load() - before; n != 1 {
		t.Fatalf("%s: handler ran %d times; want 1", k.name, n)
	}
	if got := f.impl.lastSeen(); got.hasPrincipal || got.method != k.method {
		t.Errorf("%s: handler saw %+v; want no principal", k.name, got)
	}
}

func (f *kindsFixture) lastDecision(method string) (runtime.AuditEvent, bool) {
	ds := f.decisions.all()
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].FullMethod == method {
			return ds[i], true
		}
	}
	return runtime.AuditEvent{}, false
}

// noneAllowed asserts that the audit hook saw no allowed decision.
func (f *kindsFixture) noneAllowed(t *testing.T) {
	t.Helper()
	for _, d := range f.decisions.all() {
		if d.Outcome == runtime.OutcomeAllow {
			t.Errorf("allowed decision %+v; want none", d)
		}
	}
}

// noSecrets asserts that no secret appears in the log or in a decision.
func (f *kindsFixture) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	log := f.log.String()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log holds a credential:\n%s", log)
		}
		for _, d := range f.decisions.all() {
			if strings.Contains(fmt.Sprintf("%+v", d), s) {
				t.Errorf("a decision holds a credential: %+v", d)
			}
		}
	}
}

// certThumbprint is RFC 8705's x5t#S256 of cert.
func certThumbprint(cert *tls.Certificate) string {
	sum := sha256.Sum256(cert.Leaf.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// kindsCred is a valid credential with scope "s": what to send, on which
// connection, and who it names.
type kindsCred struct {
	name    string
	kind    runtime.CredentialKind
	own     kindsCall // the method that takes only this kind
	ctx     context.Context
	client  grpcauthtestv1.KindsClient
	subject string
}

// validCreds returns a valid credential of each kind (two API keys: the
// exporter's current key and its rotation key) over TLS.
func (f *kindsFixture) validCreds() []kindsCred {
	return []kindsCred{
		{"jwt", runtime.BearerJWT, callJwt, bearerMD(f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))), f.client, "alice"},
		{"opaque", runtime.OAuth2Token, callOAuth2, bearerMD(f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)), f.client, "bob"},
		{"api_key", runtime.APIKey, callAPIKey, apiKeyMD(f.exporterKey), f.client, "exporter"},
		{"api_key_rotation", runtime.APIKey, callAPIKey, apiKeyMD(f.exporterKey2), f.client, "exporter"},
		{"certificate", runtime.MTLS, callMtls, context.Background(), f.clientA, workloadA},
	}
}

// TestKinds_EachKindAllowed: each kind of credential is accepted on the
// method that takes only it and on the methods that take any kind (unary
// and streaming); the handler sees a principal of that kind and subject,
// and the audit hook records the same kind.
func TestKinds_EachKindAllowed(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, c := range f.validCreds() {
			for _, k := range append(withStreams(c.own), callAny) {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantAllowed(t, k, c.ctx, c.client, c.kind, c.subject)
				})
			}
		}
	})
}

// TestSecurity31_JWKSURLFromConfigOnly: a token whose jku or x5u header
// points at a key server the attacker controls (which serves the key that
// really signed the token) is refused, and that server is never asked.
func TestSecurity31_JWKSURLFromConfigOnly(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		attacker := authtest.NewIssuer(t, authtest.DefaultAudience("library"))
		kid, err := attacker.AddKey("RS256") // "rs256-2": a kid the real issuer does not have
		if err != nil {
			t.Fatal(err)
		}
		var hits atomic.Int64
		evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			_, _ = w.Write(attacker.JWKS())
		}))
		t.Cleanup(evil.Close)
		for name, token := range map[string]string{
			"jku_unknown_kid": attacker.Mint(authtest.KeyID(kid), authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"), authtest.Header("jku", evil.URL+"/jwks.json")),
			"jku_issuer_kid":  attacker.Mint(authtest.KeyID("rs256-1"), authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"), authtest.Header("jku", evil.URL+"/jwks.json")),
			"x5u":             attacker.Mint(authtest.KeyID(kid), authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"), authtest.Header("x5u", evil.URL+"/cert.pem")),
		} {
			for _, k := range withStreams(callJwt) {
				t.Run(name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, runtime.ReasonTokenInvalidSignature)
				})
			}
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("the attacker's key server got %d requests; want 0", n)
		}
		if n := attacker.Fetches(); n != 0 {
			t.Errorf("the attacker's issuer got %d JWKS requests; want 0", n)
		}
		f.noneAllowed(t)
	})
}

// TestSecurity32_IntrospectionInactive: a revoked token, one the server
// never issued, and an answer without "active" are all inactive: 16
// TOKEN_REVOKED.
func TestSecurity32_IntrospectionInactive(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		revoked := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
		f.in.Revoke(revoked)
		for name, token := range map[string]string{
			"revoked":        revoked,
			"never_issued":   "opaque_never_issued_by_anyone",
			"active_missing": f.in.Issue("bob", []string{"s"}, "library", time.Hour, map[string]any{"active": nil}),
		} {
			for _, k := range withStreams(callOAuth2) {
				t.Run(name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, runtime.ReasonTokenRevoked)
				})
			}
		}
		f.noneAllowed(t)
	})
}

// TestSecurity33_IntrospectionExpired: an active token whose exp has
// passed is refused with TOKEN_EXPIRED, also when its introspection is
// served from the cache.
func TestSecurity33_IntrospectionExpired(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		clock := &fakeClock{t: time.Now()}
		f := newKindsFixture(t, m, kindsOptions{introspectionOpts: []introspection.Option{introspection.Clock(clock.Now)}})
		expired := f.in.Issue("bob", []string{"s"}, "library", -time.Minute, nil)
		for _, k := range withStreams(callOAuth2) {
			t.Run("expired/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(expired), f.client, codes.Unauthenticated, runtime.ReasonTokenExpired)
			})
		}

		t.Run("from_cache", func(t *testing.T) {
			token := f.in.Issue("bob", []string{"s"}, "library", time.Minute, nil)
			f.wantAllowed(t, callOAuth2, bearerMD(token), f.client, runtime.OAuth2Token, "bob")
			requests := f.in.Requests()
			clock.Add(2 * time.Minute) // past exp
			calls := withStreams(callOAuth2)
			for _, k := range calls {
				f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, runtime.ReasonTokenExpired)
			}
			// The first refusal comes from the cache, which then drops
			// the entry; the endpoint, asked for the others, answers an
			// exp that has passed.
			if n, want := f.in.Requests()-requests, int64(len(calls)-1); n != want {
				t.Errorf("%d introspection requests for %d calls; want %d (the first answered from the cache)", n, len(calls), want)
			}
		})
	})
}

// TestSecurity34_IntrospectionIssuerAudienceRefresh: an answer with an
// untrusted or missing iss, a wrong or missing aud, or a refresh token is
// 16; refresh tokens are never cached; an aud array holding ours is OK.
func TestSecurity34_IntrospectionIssuerAudienceRefresh(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, c := range []struct {
			name   string
			extra  map[string]any
			reason runtime.Reason
		}{
			{"untrusted_issuer", map[string]any{"iss": "https://evil.example"}, runtime.ReasonIssuerUntrusted},
			{"no_issuer", map[string]any{"iss": nil}, runtime.ReasonIssuerUntrusted},
			{"wrong_audience", map[string]any{"aud": "billing"}, runtime.ReasonAudienceMismatch},
			{"audience_array_without_ours", map[string]any{"aud": []string{"billing", "libraryx"}}, runtime.ReasonAudienceMismatch},
			{"no_audience", map[string]any{"aud": nil}, runtime.ReasonAudienceMismatch},
			{"refresh_token", map[string]any{"token_type": "refresh_token"}, runtime.ReasonCredentialKindNotAccepted},
			{"refresh_token_mixed_case", map[string]any{"token_type": "Refresh_Token"}, runtime.ReasonCredentialKindNotAccepted},
		} {
			token := f.in.Issue("bob", []string{"s"}, "library", time.Hour, c.extra)
			for _, k := range withStreams(callOAuth2) {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					before := f.in.Requests()
					f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, c.reason)
					// Nothing refused is cached: every call asks again.
					if n := f.in.Requests() - before; n != 1 {
						t.Errorf("%d introspection requests; want 1 (a refused answer is never cached)", n)
					}
				})
			}
		}
		f.noneAllowed(t)
		token := f.in.Issue("carol", []string{"s"}, "library", time.Hour, map[string]any{"aud": []string{"billing", "library"}})
		f.wantAllowed(t, callOAuth2, bearerMD(token), f.client, runtime.OAuth2Token, "carol")
	})
}

// TestSecurity35_IntrospectionMissingScope: an active token without the
// method's scope is 7 SCOPE_INSUFFICIENT.
func TestSecurity35_IntrospectionMissingScope(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for name, scopes := range map[string][]string{
			"no_scope":    nil,
			"other_scope": {"other", "ss", "S"},
		} {
			token := f.in.Issue("bob", scopes, "library", time.Hour, nil)
			for _, k := range append(withStreams(callOAuth2), callAny) {
				t.Run(name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(token), f.client, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
				})
			}
		}
		f.noneAllowed(t)
	})
}

// TestSecurity36_IntrospectionFailClosed: while the endpoint fails, a
// token the cache does not hold is 14 AUTH_BACKEND_UNAVAILABLE, never OK;
// the failure is not cached, so the same token works once the endpoint
// is back.
func TestSecurity36_IntrospectionFailClosed(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		token := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
		for _, httpStatus := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
			f.in.FailWith(httpStatus)
			for _, k := range withStreams(callOAuth2) {
				t.Run(fmt.Sprintf("%d/%s", httpStatus, k.name), func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(token), f.client, codes.Unavailable, runtime.ReasonAuthBackendUnavailable)
				})
			}
		}
		f.noneAllowed(t)
		f.in.FailWith(0)
		f.wantAllowed(t, callOAuth2, bearerMD(token), f.client, runtime.OAuth2Token, "bob")
	})
}

// TestSecurity38_APIKeys: no key on the API key method is 16
// CREDENTIALS_MISSING, an unknown key 16 CREDENTIALS_INVALID, a known key
// without the scope 7 SCOPE_INSUFFICIENT; no key reaches the log.
func TestSecurity38_APIKeys(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		unknown := newTestAPIKey(t)
		for _, k := range withStreams(callAPIKey) {
			t.Run("missing/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, context.Background(), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			})
			t.Run("unknown/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, apiKeyMD(unknown), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
			})
			t.Run("near_miss/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, apiKeyMD(f.exporterKey[:len(f.exporterKey)-1]), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
			})
			t.Run("digest_as_key/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, apiKeyMD(apikey.Hash(f.exporterKey)), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
			})
			t.Run("no_scope/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, apiKeyMD(f.noScopeKey), f.client, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
			})
		}
		f.noneAllowed(t)
		f.noSecrets(t, unknown, f.exporterKey[:len(f.exporterKey)-1], f.noScopeKey, apikey.Hash(f.noScopeKey))
	})
}

// TestSecurity39_NoKeysConfigured: a store with no clients refuses every
// key with 16 CREDENTIALS_INVALID, whether built in code or from a file
// with an empty "clients" array.
func TestSecurity39_NoKeysConfigured(t *testing.T) {
	empty, err := apikey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	writeAPIKeyFile(t, path)
	emptyFile, err := apikey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, store := range map[string]*apikey.Store{"new": empty, "file": emptyFile} {
		t.Run(name, func(t *testing.T) {
			kindsModes(t, func(t *testing.T, m mode) {
				f := newKindsFixture(t, m, kindsOptions{keys: store})
				for _, key := range []string{f.exporterKey, f.noScopeKey, newTestAPIKey(t), "x"} {
					for _, k := range withStreams(callAPIKey) {
						f.wantDenied(t, k, apiKeyMD(key), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
					}
				}
				f.noneAllowed(t)
			})
		})
	}
}

// TestSecurity41_EmptyAPIKeyMalformed: an empty x-api-key is malformed,
// never looked up. (Constant-time comparison over digests is tested in
// the apikey package.)
func TestSecurity41_EmptyAPIKeyMalformed(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, k := range withStreams(callAPIKey) {
			f.wantDenied(t, k, apiKeyMD(""), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
			// Nor does the connection's certificate stand in for it.
			f.wantDenied(t, k, apiKeyMD(""), f.clientA, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
		}
		f.noneAllowed(t)
	})
}

// TestSecurity42_NoClientCertificate: the MTLS method over TLS without a
// client certificate is 16 CREDENTIALS_MISSING and names MTLS as the
// accepted kind; the methods that take any kind say the same when nothing
// at all is presented.
func TestSecurity42_NoClientCertificate(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, k := range withStreams(callMtls) {
			t.Run(k.name, func(t *testing.T) {
				f.wantDenied(t, k, context.Background(), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			})
		}
		_, err := f.client.Mtls(context.Background(), &grpcauthtestv1.Msg{})
		if e, ok := runtime.FromError(err); !ok || e.Metadata["accepted_kinds"] != "MTLS" {
			t.Errorf("denial %v; want accepted_kinds MTLS", err)
		}
		f.noneAllowed(t)
	})
}

// TestSecurity43_WorkloadCertificates: a verified certificate of another
// trust domain, with two URI SANs, with none, or that is itself a CA is
// 16 CREDENTIALS_INVALID; a valid identity without the scope is 7. An
// expired certificate or one of a CA outside the bundle fails the TLS
// handshake: the call fails with UNAVAILABLE and the enforcer and the
// handler never see it. (A stock client sends no certificate of a CA the
// server does not list, and its call has no credential: 16
// CREDENTIALS_MISSING.)
func TestSecurity43_WorkloadCertificates(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, c := range []struct {
			name   string
			cert   *tls.Certificate
			code   codes.Code
			reason runtime.Reason
		}{
			{"other_trust_domain", f.workload(t, "spiffe://other.example/workload/a"), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"trust_domain_suffix", f.workload(t, "spiffe://test.example.evil/workload/a"), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"two_uri_sans", f.workload(t, workloadA, workloadB), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"same_uri_twice", f.workload(t, workloadA, workloadA), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"no_uri_san", f.workload(t), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"trust_domain_only", f.workload(t, "spiffe://test.example"), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"ca_leaf", clientLeaf(t, f.workloadCA, authtest.LeafOptions{URIs: []string{workloadA}, IsCA: true}), codes.Unauthenticated, runtime.ReasonCredentialsInvalid},
			{"no_scope", f.certB, codes.PermissionDenied, runtime.ReasonScopeInsufficient},
		} {
			client := f.dialTLS(t, c.cert)
			for _, k := range withStreams(callMtls) {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, context.Background(), client, c.code, c.reason)
				})
			}
		}
		// A stock client whose certificate's CA the server does not list
		// sends no certificate at all: the call has no credential.
		rogue := clientLeaf(t, newTestCA(t, "rogue CA"), authtest.LeafOptions{URIs: []string{workloadA}})
		cfg := withServerName(f.serverCA.ClientTLS())
		cfg.Certificates = []tls.Certificate{*rogue}
		stock := grpcauthtestv1.NewKindsClient(dial(t, f.secure, credentials.NewTLS(cfg)))
		for _, k := range withStreams(callMtls) {
			t.Run("other_ca_stock_client/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, context.Background(), stock, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			})
		}
		f.noneAllowed(t)

		decisions := len(f.decisions.all())
		for name, cert := range map[string]*tls.Certificate{
			"expired":  clientLeaf(t, f.workloadCA, authtest.LeafOptions{URIs: []string{workloadA}, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}),
			"other_ca": rogue,
		} {
			client := f.dialTLS(t, cert)
			for _, k := range withStreams(callMtls) {
				t.Run(name+"/"+k.name, func(t *testing.T) {
					before := f.impl.calls.Load()
					err := k.run(context.Background(), client)
					if status.Code(err) != codes.Unavailable {
						t.Errorf("%s: %v; want the handshake to fail with UNAVAILABLE", k.name, err)
					}
					if n := f.impl.calls.Load() - before; n != 0 {
						t.Errorf("a handler ran %d times after a failed handshake", n)
					}
				})
			}
		}
		if n := len(f.decisions.all()) - decisions; n != 0 {
			t.Errorf("the enforcer decided %d calls whose handshake failed; want 0", n)
		}
	})
}

// TestSecurity46_NoCertificateIdentity: a plaintext connection has no
// certificate identity: the MTLS method is 16 CREDENTIALS_MISSING there.
func TestSecurity46_NoCertificateIdentity(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		for _, k := range withStreams(callMtls) {
			t.Run(k.name, func(t *testing.T) {
				f.wantDenied(t, k, context.Background(), f.plainClient, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			})
		}
		f.noneAllowed(t)
	})
}

// TestSecurity47_CertificateBoundJWT: a JWT bound to a client certificate
// (RFC 8705 cnf.x5t#S256) is accepted over a connection that presented
// that certificate and refused, 16 CREDENTIALS_INVALID, over one that
// presented another certificate or none.
func TestSecurity47_CertificateBoundJWT(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		bound := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"), authtest.Claim("cnf", map[string]any{"x5t#S256": certThumbprint(f.certA)}))
		for _, k := range append(withStreams(callJwt), callAny) {
			t.Run("same_certificate/"+k.name, func(t *testing.T) {
				f.wantAllowed(t, k, bearerMD(bound), f.clientA, runtime.BearerJWT, "alice")
			})
			t.Run("other_certificate/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(bound), f.clientB, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
			})
			t.Run("no_certificate/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(bound), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
			})
		}
	})
}

// TestSecurity48_TwoCredentials: two credentials in metadata at once —
// authorization with x-api-key, two x-api-key values, two authorization
// values — are 16 CREDENTIALS_MALFORMED, never "first one wins", also on a
// connection with a valid client certificate.
//
// The rule for a client certificate beside a metadata credential: the
// metadata credential is the credential, and the certificate is used only
// when no metadata credential is sent (and, for a certificate-bound JWT,
// to check the binding). So a certificate plus a bearer token on a method
// that takes both is decided on the token alone: principal kind
// BEARER_JWT, and a token without the scope is refused even though the
// certificate would have been allowed.
func TestSecurity48_TwoCredentials(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		for _, c := range []struct {
			name string
			md   []string
		}{
			{"authorization_and_api_key", []string{"authorization", "Bearer " + jwt, "x-api-key", f.exporterKey}},
			{"two_api_keys", []string{"x-api-key", f.exporterKey, "x-api-key", f.exporterKey2}},
			{"same_api_key_twice", []string{"x-api-key", f.exporterKey, "x-api-key", f.exporterKey}},
			{"two_authorization", []string{"authorization", "Bearer " + jwt, "authorization", "Bearer " + jwt}},
			{"api_key_and_empty_authorization", []string{"x-api-key", f.exporterKey, "authorization", ""}},
		} {
			for _, k := range anyCalls {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, metadataCtx(c.md...), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
					f.wantDenied(t, k, metadataCtx(c.md...), f.clientA, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
				})
			}
		}
		f.noneAllowed(t)

		unscoped := f.iss.Mint(authtest.Subject("mallory"))
		for _, k := range anyCalls {
			t.Run("certificate_and_bearer/"+k.name, func(t *testing.T) {
				f.wantAllowed(t, k, bearerMD(jwt), f.clientA, runtime.BearerJWT, "alice")
			})
			t.Run("certificate_and_api_key/"+k.name, func(t *testing.T) {
				f.wantAllowed(t, k, apiKeyMD(f.exporterKey), f.clientA, runtime.APIKey, "exporter")
			})
			t.Run("certificate_and_unscoped_bearer/"+k.name, func(t *testing.T) {
				f.wantDenied(t, k, bearerMD(unscoped), f.clientA, codes.PermissionDenied, runtime.ReasonScopeInsufficient)
			})
			t.Run("certificate_and_forged_bearer/"+k.name, func(t *testing.T) {
				forged := authtest.NewIssuer(t, authtest.DefaultAudience("library")).Mint(authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"))
				f.wantDenied(t, k, bearerMD(forged), f.clientA, codes.Unauthenticated, runtime.ReasonTokenInvalidSignature)
			})
		}
	})
}

// TestSecurity49_MalformedBearerNotReread: an authorization value that is
// not a well-formed bearer token is malformed and is never re-read as the
// API key or the client certificate that would otherwise be valid; a
// bearer token that is really an API key is a bearer token (introspected,
// or of a kind the method does not take), never an API key.
func TestSecurity49_MalformedBearerNotReread(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		key := f.exporterKey
		malformed := runtime.ReasonCredentialsMalformed
		notAccepted := runtime.ReasonCredentialKindNotAccepted
		for _, c := range []struct {
			name          string
			authorization string
			// The reason on Any, ApiKey and Mtls, each called over a
			// connection with certA, which alone is allowed on Any and
			// Mtls.
			onAny, onAPIKey, onMtls runtime.Reason
		}{
			{"basic_api_key", "Basic " + key, malformed, malformed, malformed},
			{"basic_user_pass", "Basic " + base64.StdEncoding.EncodeToString([]byte("exporter:"+key)), malformed, malformed, malformed},
			{"apikey_scheme", "ApiKey " + key, malformed, malformed, malformed},
			{"bare_api_key", key, malformed, malformed, malformed},
			{"bearer_dash", "Bearer-x " + key, malformed, malformed, malformed},
			{"scheme_only", "Bearer", malformed, malformed, malformed},
			{"empty_token", "Bearer ", malformed, malformed, malformed},
			{"two_spaces", "Bearer  " + key, malformed, malformed, malformed},
			{"trailing_space", "Bearer " + key + " ", malformed, malformed, malformed},
			{"inner_space", "Bearer " + key[:8] + " " + key[8:], malformed, malformed, malformed},
			{"not_a_jws", "Bearer not.a.jwt", malformed, notAccepted, notAccepted},
			{"api_key_as_bearer", "Bearer " + key, runtime.ReasonTokenRevoked, notAccepted, notAccepted},
		} {
			for _, k := range anyCalls {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, metadataCtx("authorization", c.authorization), f.clientA, codes.Unauthenticated, c.onAny)
				})
			}
			t.Run(c.name+"/ApiKey", func(t *testing.T) {
				f.wantDenied(t, callAPIKey, metadataCtx("authorization", c.authorization), f.clientA, codes.Unauthenticated, c.onAPIKey)
			})
			t.Run(c.name+"/Mtls", func(t *testing.T) {
				f.wantDenied(t, callMtls, metadataCtx("authorization", c.authorization), f.clientA, codes.Unauthenticated, c.onMtls)
			})
		}
		f.noneAllowed(t)
		f.noSecrets(t, key)
	})
}

// TestSecurity50_AuthorizationBin: an authorization-bin or x-api-key-bin
// entry is never the credential: it is malformed, alone or beside a valid
// credential, and the client certificate does not stand in.
func TestSecurity50_AuthorizationBin(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		for _, c := range []struct {
			name string
			md   []string
		}{
			{"authorization_bin", []string{"authorization-bin", "Bearer " + jwt}},
			{"api_key_bin", []string{"x-api-key-bin", f.exporterKey}},
			{"authorization_bin_beside_valid", []string{"authorization", "Bearer " + jwt, "authorization-bin", "x"}},
			{"api_key_bin_beside_valid", []string{"x-api-key", f.exporterKey, "x-api-key-bin", f.exporterKey}},
		} {
			for _, k := range anyCalls {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, metadataCtx(c.md...), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
					f.wantDenied(t, k, metadataCtx(c.md...), f.clientA, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
				})
			}
		}
		f.noneAllowed(t)
	})
}

// TestSecurity51_CredentialLengthCap: a credential longer than the
// enforcer's cap (8 KiB by default) is malformed before any authenticator
// sees it; an API key under that cap but over the store's is malformed too.
func TestSecurity51_CredentialLengthCap(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		jwks := f.iss.Fetches()
		for _, c := range []struct {
			name string
			md   []string
		}{
			{"api_key_9000", []string{"x-api-key", strings.Repeat("k", 9000)}},
			{"api_key_over_store_cap", []string{"x-api-key", strings.Repeat("k", apikey.MaxKeySize+1)}},
			{"bearer_9000", []string{"authorization", "Bearer " + strings.Repeat("a", 9000)}},
			{"jwt_shaped_9000", []string{"authorization", "Bearer " + strings.Repeat("a", 4500) + "." + strings.Repeat("b", 4490) + ".c"}},
		} {
			for _, k := range anyCalls {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, metadataCtx(c.md...), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
					f.wantDenied(t, k, metadataCtx(c.md...), f.clientA, codes.Unauthenticated, runtime.ReasonCredentialsMalformed)
				})
			}
		}
		if f.in.Requests() != 0 || f.iss.Fetches() != jwks {
			t.Errorf("oversized credentials reached a backend: %d introspections, %d JWKS fetches", f.in.Requests(), f.iss.Fetches()-jwks)
		}
		f.noneAllowed(t)
	})
}

// TestSecurity54_PlaintextBearerRefused: a JWT, an opaque token or an API
// key sent over plaintext is 16 TRANSPORT_INSECURE, before any backend is
// asked; with WithPlaintextCredentials the same calls are allowed.
func TestSecurity54_PlaintextBearerRefused(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		// The credentials sent in metadata, all but the certificate.
		creds := func(f *kindsFixture) []kindsCred {
			var out []kindsCred
			for _, c := range f.validCreds() {
				if c.kind != runtime.MTLS {
					out = append(out, c)
				}
			}
			return out
		}
		t.Run("refused", func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{})
			for _, c := range creds(f) {
				for _, k := range append(withStreams(c.own), callAny) {
					t.Run(c.name+"/"+k.name, func(t *testing.T) {
						f.wantDenied(t, k, c.ctx, f.plainClient, codes.Unauthenticated, runtime.ReasonTransportInsecure)
					})
				}
			}
			if f.in.Requests() != 0 || f.iss.Fetches() != 0 {
				t.Errorf("plaintext credentials reached a backend: %d introspections, %d JWKS fetches", f.in.Requests(), f.iss.Fetches())
			}
			f.noneAllowed(t)
		})
		t.Run("allowed", func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithPlaintextCredentials()}})
			for _, c := range creds(f) {
				for _, k := range append(withStreams(c.own), callAny) {
					t.Run(c.name+"/"+k.name, func(t *testing.T) {
						f.wantAllowed(t, k, c.ctx, f.plainClient, c.kind, c.subject)
					})
				}
			}
		})
	})
}

// TestSecurity60_PublicWithInvalidCredential: the documented rule for a
// public method is that its credentials are never read: an invalid JWT, an
// unknown API key, a revoked opaque token, two credentials at once or a
// certificate of another trust domain are all OK, no backend is asked, and
// the handler sees no principal.
func TestSecurity60_PublicWithInvalidCredential(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		revoked := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
		f.in.Revoke(revoked)
		forged := authtest.NewIssuer(t, authtest.DefaultAudience("library")).Mint(authtest.IssuerClaim(f.iss.URL()), authtest.Scopes("s"))
		valid := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		for name, ctx := range map[string]context.Context{
			"none":            context.Background(),
			"forged_jwt":      bearerMD(forged),
			"expired_jwt":     bearerMD(f.iss.Mint(authtest.ExpiresIn(-time.Hour))),
			"valid_jwt":       bearerMD(valid),
			"unknown_api_key": apiKeyMD(newTestAPIKey(t)),
			"revoked_opaque":  bearerMD(revoked),
			"two_credentials": metadataCtx("authorization", "Bearer "+valid, "x-api-key", f.exporterKey),
			"malformed":       metadataCtx("authorization", "Basic x"),
		} {
			t.Run(name, func(t *testing.T) {
				for _, k := range []kindsCall{callPublic, callPublicChat} {
					f.wantPublic(t, k, ctx, f.client)
					f.wantPublic(t, k, ctx, f.clientA)
				}
			})
		}
		other := f.dialTLS(t, f.workload(t, "spiffe://other.example/x"))
		for _, k := range []kindsCall{callPublic, callPublicChat} {
			t.Run("other_trust_domain_certificate/"+k.name, func(t *testing.T) {
				f.wantPublic(t, k, context.Background(), other)
			})
			t.Run("plaintext_no_credential/"+k.name, func(t *testing.T) {
				f.wantPublic(t, k, context.Background(), f.plainClient)
			})
		}
		if f.in.Requests() != 0 || f.iss.Fetches() != 0 {
			t.Errorf("credentials on a public method reached a backend: %d introspections, %d JWKS fetches", f.in.Requests(), f.iss.Fetches())
		}
		for _, d := range f.decisions.all() {
			if d.Outcome != runtime.OutcomeAllow || d.Kind != runtime.NoCredential || d.Subject != "" {
				t.Errorf("decision %+v; want allowed with no credential and no subject", d)
			}
		}
	})
}

// TestCredentialKindNotAccepted: a credential of a kind the method does
// not take is 16 CREDENTIAL_KIND_NOT_ACCEPTED (naming the kinds it takes),
// never tried as another kind; a client certificate is used only by
// methods that take MTLS, so elsewhere it is no credential at all.
func TestCredentialKindNotAccepted(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		jwt := f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s"))
		opaque := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
		for _, c := range []struct {
			name     string
			k        kindsCall
			ctx      context.Context
			client   grpcauthtestv1.KindsClient
			reason   runtime.Reason
			accepted string
		}{
			{"api_key_on_jwt", callJwt, apiKeyMD(f.exporterKey), f.client, runtime.ReasonCredentialKindNotAccepted, "BEARER_JWT"},
			{"api_key_on_oauth2", callOAuth2, apiKeyMD(f.exporterKey), f.client, runtime.ReasonCredentialKindNotAccepted, "OAUTH2_TOKEN"},
			{"api_key_on_mtls_with_certificate", callMtls, apiKeyMD(f.exporterKey), f.clientA, runtime.ReasonCredentialKindNotAccepted, "MTLS"},
			{"jwt_on_api_key", callAPIKey, bearerMD(jwt), f.client, runtime.ReasonCredentialKindNotAccepted, "API_KEY"},
			{"jwt_on_mtls_with_certificate", callMtls, bearerMD(jwt), f.clientA, runtime.ReasonCredentialKindNotAccepted, "MTLS"},
			{"opaque_on_api_key", callAPIKey, bearerMD(opaque), f.client, runtime.ReasonCredentialKindNotAccepted, "API_KEY"},
			{"certificate_only_on_jwt", callJwt, context.Background(), f.clientA, runtime.ReasonCredentialsMissing, "BEARER_JWT"},
			{"certificate_only_on_api_key", callAPIKey, context.Background(), f.clientA, runtime.ReasonCredentialsMissing, "API_KEY"},
			{"certificate_only_on_oauth2", callOAuth2, context.Background(), f.clientA, runtime.ReasonCredentialsMissing, "OAUTH2_TOKEN"},
			// OAuth2 is configured, so a bearer token without a JWS's
			// shape is an OAuth2 token, which the Jwt method does not take.
			{"opaque_on_jwt", callJwt, bearerMD(opaque), f.client, runtime.ReasonCredentialKindNotAccepted, "BEARER_JWT"},
		} {
			t.Run(c.name, func(t *testing.T) {
				requests := f.in.Requests()
				err := f.wantDenied(t, c.k, c.ctx, c.client, codes.Unauthenticated, c.reason)
				if e, ok := runtime.FromError(err); !ok || e.Metadata["accepted_kinds"] != c.accepted {
					t.Errorf("denial %v; want accepted_kinds %q", err, c.accepted)
				}
				if n := f.in.Requests() - requests; n != 0 {
					t.Errorf("%d introspection requests for a credential of a kind the method does not take", n)
				}
			})
		}
		f.noneAllowed(t)

		// A server without an OAuth2 authenticator takes no OAuth2 token,
		// even on a method that declares the kind.
		t.Run("oauth2_not_configured", func(t *testing.T) {
			g := newKindsFixture(t, m, kindsOptions{noOAuth2: true})
			err := g.wantDenied(t, callOAuth2, bearerMD("opaque_token"), g.client, codes.Unauthenticated, runtime.ReasonCredentialKindNotAccepted)
			if e, ok := runtime.FromError(err); !ok || e.Metadata["accepted_kinds"] != "OAUTH2_TOKEN" {
				t.Errorf("denial %v; want accepted_kinds OAUTH2_TOKEN", err)
			}
			g.noneAllowed(t)
		})
	})
}

// TestReloadUnderLoad: 100 callers call the Any methods over TLS with API
// key A (in both key sets), API key B (only in set 1), a certificate of
// CA1 (in both bundles) and one of CA2 (only in the first bundle), while
// the key file and the trust bundle are rewritten and reloaded 50 times
// each. Key A and the CA1 certificate never fail; key B and the CA2
// certificate are allowed or refused with 16 CREDENTIALS_INVALID, never
// anything else. Run under -race.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "keys.json")
	keyA, keyB := newTestAPIKey(t), newTestAPIKey(t)
	clientA := apikey.Client{Name: "a", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(keyA)}}
	clientB := apikey.Client{Name: "b", Scopes: []string{"s"}, KeySHA256: []string{apikey.Hash(keyB)}}
	writeKeys := func(set int) {
		if set == 1 {
			writeAPIKeyFile(t, keyPath, clientA, clientB)
		} else {
			writeAPIKeyFile(t, keyPath, clientA)
		}
	}
	writeKeys(1)
	store, err := apikey.LoadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	f := newKindsFixture(t, modeRegister, kindsOptions{keys: store})
	ca1, ca2 := f.workloadCA, newTestCA(t, "kinds workload CA2")
	writeBundles := func(set int) {
		if set == 1 {
			writeTrustBundle(t, f.bundlePath, ca1, ca2)
		} else {
			writeTrustBundle(t, f.bundlePath, ca1)
		}
		if err := f.mtlsAuth.ReloadBundle(); err != nil {
			t.Fatal(err)
		}
	}
	writeBundles(1)
	cert2 := clientLeaf(t, ca2, authtest.LeafOptions{URIs: []string{workloadA}})
	client2 := f.dialTLS(t, cert2)
	// Open the CA2 connection while CA2 is trusted; it stays open through
	// the reloads, so its certificate is decided by AuthenticatePeer.
	f.wantAllowed(t, callAny, context.Background(), client2, runtime.MTLS, workloadA)

	type caller struct {
		name     string
		ctx      context.Context
		client   grpcauthtestv1.KindsClient
		mayFail  bool // refused with CREDENTIALS_INVALID by one of the sets
		ok, fail atomic.Int64
	}
	callers := []*caller{
		{name: "key A", ctx: apiKeyMD(keyA), client: f.client},
		{name: "key B", ctx: apiKeyMD(keyB), client: f.client, mayFail: true},
		{name: "CA1 certificate", ctx: context.Background(), client: f.clientA},
		{name: "CA2 certificate", ctx: context.Background(), client: client2, mayFail: true},
	}
	var (
		done     = make(chan struct{})
		wg       sync.WaitGroup
		total    atomic.Int64
		failures = make(chan string, 100)
	)
	report := func(msg string) {
		select {
		case failures <- msg:
		default:
		}
	}
	for g := range 100 {
		c := callers[g%len(callers)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := anyCalls[(g+i)%len(anyCalls)]
				err := k.run(c.ctx, c.client)
				total.Add(1)
				if err == nil {
					c.ok.Add(1)
					continue
				}
				if e, ok := runtime.FromError(err); ok && c.mayFail && e.Code == codes.Unauthenticated && e.Reason == runtime.ReasonCredentialsInvalid {
					c.fail.Add(1)
					continue
				}
				report(fmt.Sprintf("%s on %s: %v", c.name, k.name, err))
				return
			}
		}()
	}

	stop := sync.OnceFunc(func() { close(done); wg.Wait() })
	t.Cleanup(stop) // before the fixture's cleanups, should the test fail early

	for i := range 50 {
		set := 1 + i%2
		writeKeys(set)
		if err := store.Reload(); err != nil {
			t.Errorf("key reload %d: %v", i, err)
		}
		writeBundles(set)
		// Let some calls run against this state before the next swap.
		before := total.Load()
		pollUntil(t, func() bool { return total.Load() >= before+100 })
	}
	stop()
	close(failures)
	for msg := range failures {
		t.Error(msg)
	}
	for _, c := range callers {
		t.Logf("%s: %d allowed, %d refused", c.name, c.ok.Load(), c.fail.Load())
		if !c.mayFail && c.fail.Load() != 0 {
			t.Errorf("%s was refused %d times", c.name, c.fail.Load())
		}
	}

	// The last swap left set 2: key B and the CA2 certificate are refused,
	// key A and the CA1 certificate allowed.
	f.wantDenied(t, callAny, apiKeyMD(keyB), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
	f.wantDenied(t, callAny, context.Background(), client2, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
	f.wantAllowed(t, callAny, apiKeyMD(keyA), f.client, runtime.APIKey, "a")
	f.wantAllowed(t, callAny, context.Background(), f.clientA, runtime.MTLS, workloadA)
	// And set 1 lets them in again.
	writeKeys(1)
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	writeBundles(1)
	f.wantAllowed(t, callAny, apiKeyMD(keyB), f.client, runtime.APIKey, "b")
	f.wantAllowed(t, callAny, context.Background(), client2, runtime.MTLS, workloadA)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTransportRequiredOnStreams: TLS_REQUIRED refuses a plaintext stream
// before reading any credential, even one the server would accept in
// plaintext, and lets the same stream through over TLS.
func TestTransportRequiredOnStreams(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithPlaintextCredentials()}})
		token := bearerMD(f.iss.Mint(authtest.Scopes("s")))
		for _, ctx := range []context.Context{context.Background(), token, apiKeyMD(f.exporterKey)} {
			f.wantDenied(t, callSecureWatch, ctx, f.plainClient, codes.Unauthenticated, runtime.ReasonTransportInsecure)
		}
		if err := callSecureWatch.run(token, f.client); err != nil {
			t.Errorf("over TLS: %v", err)
		}
		if err := callSecureWatch.run(context.Background(), f.clientA); err != nil {
			t.Errorf("over mTLS: %v", err)
		}
	})
}
