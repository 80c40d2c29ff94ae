// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package authtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authmatrix"
)

// TB is what [RunMatrix] needs of a test: a *testing.T is one.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// MatrixTarget is the server an auth matrix runs against, and the
// credentials to call it with. The functions mint a credential holding
// exactly the scopes given (none for an empty list); they are called from
// one goroutine, at most once per kind and set of scopes.
type MatrixTarget struct {
	// TLS is a connection to the server over TLS, without a client
	// certificate. Required.
	TLS grpc.ClientConnInterface
	// Plaintext is a connection to the same server without TLS, for the
	// cases of TLS_REQUIRED and public methods over plaintext.
	Plaintext grpc.ClientConnInterface
	// JWT mints a bearer JWT the server accepts, with scopes.
	JWT func(scopes []string) (string, error)
	// OAuth2 issues an opaque OAuth2 token the server's introspection
	// endpoint reports active, with scopes.
	OAuth2 func(scopes []string) (string, error)
	// APIKey returns an API key the server knows, whose client holds scopes.
	APIKey func(scopes []string) (string, error)
	// MTLS returns a TLS connection to the server with a client certificate
	// the server maps to scopes. RunMatrix does not close it.
	MTLS func(scopes []string) (grpc.ClientConnInterface, error)
	// Skip lists the credential kinds this test does not supply: their
	// cases are not run, and RunMatrix logs how many it skipped. A case
	// whose kind has no function and is not listed fails.
	Skip []runtime.CredentialKind
	// SkipPlaintext skips the cases over plaintext (logged), when Plaintext
	// is nil on purpose.
	SkipPlaintext bool
	// Timeout bounds each call; 10 seconds when zero.
	Timeout time.Duration
}

// RunMatrix calls every method of m once per case, through target's
// connections, with the case's credential, and reports with t.Errorf each
// outcome that is not the case's: a call that must be denied and was
// allowed, or denied for another reason; a call that must be allowed and
// was denied.
//
// A method is called generically, by its full name, with an empty request:
// a unary method with Invoke; a stream is opened, a server-streaming one is
// sent its request, and the client side is closed before the first message
// is read. A denial is an error whose google.rpc.ErrorInfo has the grpcauth
// domain and names the method called (the enforcer's answer, not one a
// handler passed on); any other answer means the handler ran, and counts as
// allowed: a handler that returns its own error (Unimplemented, NotFound,
// InvalidArgument for the empty request) was reached. Three answers are no
// outcome and fail the case: Unimplemented "unknown service" or "unknown
// method" (the server does not serve the method), Unavailable and
// DeadlineExceeded (the call did not complete). An allowed case of a
// method with a condition also passes when denied with CONDITION_FAILED:
// the empty request cannot be known to satisfy the condition, and the
// enforcer decides it only once a requirement is met.
//
// It fails on a server that registered the service without auth (every
// denial is allowed) and on one with other rules than the matrix's.
func RunMatrix(t TB, m *authmatrix.Service, target MatrixTarget) {
	t.Helper()
	if m == nil {
		t.Errorf("authtest.RunMatrix: nil matrix")
		return
	}
	if target.TLS == nil {
		t.Errorf("authtest.RunMatrix %s: MatrixTarget.TLS is nil", m.Name)
		return
	}
	r := &matrixRun{target: target, creds: map[string]string{}, conns: map[string]grpc.ClientConnInterface{}}
	ran, skipped := 0, 0
	for _, method := range m.Methods {
		for _, c := range method.Cases {
			if r.skips(c) {
				skipped++
				continue
			}
			ran++
			if msg := r.run(method, c); msg != "" {
				t.Errorf("%s: %s: %s", name(method.FullMethod), c.Name, msg)
			}
		}
	}
	if skipped > 0 {
		t.Logf("authtest.RunMatrix %s: ran %d cases, skipped %d (MatrixTarget.Skip, SkipPlaintext)", m.Name, ran, skipped)
	}
}

// name turns "/pkg.Svc/Method" into "pkg.Svc.Method".
func name(fullMethod string) string {
	return strings.Replace(strings.TrimPrefix(fullMethod, "/"), "/", ".", 1)
}

type matrixRun struct {
	target MatrixTarget
	mu     sync.Mutex
	creds  map[string]string                   // kind and scopes → credential
	conns  map[string]grpc.ClientConnInterface // scopes → MTLS connection
}

func (r *matrixRun) skips(c authmatrix.Case) bool {
	if c.Transport == authmatrix.Plaintext && r.target.SkipPlaintext {
		return true
	}
	return c.Credential != runtime.NoCredential && slices.Contains(r.target.Skip, c.Credential) ||
		c.EndUser != runtime.NoCredential && slices.Contains(r.target.Skip, c.EndUser)
}

// run makes the call of c and returns what is wrong with its outcome, or "".
func (r *matrixRun) run(m authmatrix.Method, c authmatrix.Case) string {
	timeout := r.target.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := r.target.TLS
	if c.Transport == authmatrix.Plaintext {
		if conn = r.target.Plaintext; conn == nil {
			return "MatrixTarget.Plaintext is nil (set it, or SkipPlaintext)"
		}
	}
	switch c.Credential {
	case runtime.NoCredential:
	case runtime.MTLS:
		if c.Transport == authmatrix.Plaintext {
			return "a client certificate cannot be sent over plaintext"
		}
		var err error
		if conn, err = r.mtlsConn(c.Scopes); err != nil {
			return err.Error()
		}
	default:
		cred, err := r.credential(c.Credential, c.Scopes)
		if err != nil {
			return err.Error()
		}
		key, value := runtime.AuthorizationKey, "Bearer "+cred
		if c.Credential == runtime.APIKey {
			key, value = runtime.APIKeyKey, cred
		}
		ctx = metadata.AppendToOutgoingContext(ctx, key, value)
	}
	if c.EndUser != runtime.NoCredential {
		// An end user's token beside the workload's credential.
		token, err := r.credential(c.EndUser, c.EndUserScopes)
		if err != nil {
			return err.Error()
		}
		ctx = metadata.AppendToOutgoingContext(ctx, runtime.AuthorizationKey, "Bearer "+token)
	}
	err := call(ctx, conn, m)
	got, problem := outcome(err, m.FullMethod)
	switch {
	case problem != "":
		return problem
	case c.Want == "" && got == "":
		return ""
	case c.Want == "" && m.Condition && got == runtime.ReasonConditionFailed:
		return "" // the requirement was met; the condition is the user's to test
	case c.Want == "":
		return fmt.Sprintf("denied with %s %s, want allowed", got.Code(), got)
	case got == "":
		return fmt.Sprintf("allowed (the handler ran: %s), want %s %s", handlerAnswer(err), c.Want.Code(), c.Want)
	case got != c.Want:
		return fmt.Sprintf("denied with %s %s, want %s %s", got.Code(), got, c.Want.Code(), c.Want)
	}
	return ""
}

// call calls m on conn as its type needs and returns the call's error:
// nil or io.EOF when the handler answered without one.
func call(ctx context.Context, conn grpc.ClientConnInterface, m authmatrix.Method) error {
	if m.Type == authmatrix.Unary {
		return conn.Invoke(ctx, m.FullMethod, m.NewRequest(), m.NewResponse())
	}
	desc := &grpc.StreamDesc{
		ServerStreams: m.Type == authmatrix.ServerStreaming || m.Type == authmatrix.BidiStreaming,
		ClientStreams: m.Type == authmatrix.ClientStreaming || m.Type == authmatrix.BidiStreaming,
	}
	s, err := conn.NewStream(ctx, desc, m.FullMethod)
	if err != nil {
		return err
	}
	if m.Type == authmatrix.ServerStreaming {
		// A send error (the server already ended the stream) is read
		// back by RecvMsg, with the status.
		_ = s.SendMsg(m.NewRequest())
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	err = s.RecvMsg(m.NewResponse())
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// outcome returns the grpcauth reason err denies the call with, "" when the
// handler ran, or a problem when the call has no outcome.
func outcome(err error, fullMethod string) (runtime.Reason, string) {
	if err == nil {
		return "", ""
	}
	if d, ok := runtime.FromError(err); ok {
		if m := d.Metadata["method"]; m == "" || m == fullMethod {
			return d.Reason, ""
		}
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		if msg := st.Message(); strings.HasPrefix(msg, "unknown service ") || strings.HasPrefix(msg, "unknown method ") {
			return "", "not served: " + msg
		}
	case codes.Unavailable, codes.DeadlineExceeded:
		return "", fmt.Sprintf("the call did not complete: %s: %s", st.Code(), st.Message())
	}
	return "", ""
}

func handlerAnswer(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(err).String()
}

func (r *matrixRun) credential(kind runtime.CredentialKind, scopes []string) (string, error) {
	var mint func([]string) (string, error)
	field := ""
	switch kind {
	case runtime.BearerJWT:
		mint, field = r.target.JWT, "JWT"
	case runtime.OAuth2Token:
		mint, field = r.target.OAuth2, "OAuth2"
	case runtime.APIKey:
		mint, field = r.target.APIKey, "APIKey"
	}
	if mint == nil {
		return "", fmt.Errorf("MatrixTarget.%s is nil (set it, or list %s in MatrixTarget.Skip)", field, kind)
	}
	key := kind.String() + " " + strings.Join(scopes, " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.creds[key]; ok {
		return c, nil
	}
	c, err := mint(slices.Clone(scopes))
	if err != nil {
		return "", fmt.Errorf("MatrixTarget.%s: %w", field, err)
	}
	r.creds[key] = c
	return c, nil
}

func (r *matrixRun) mtlsConn(scopes []string) (grpc.ClientConnInterface, error) {
	if r.target.MTLS == nil {
		return nil, errors.New("MatrixTarget.MTLS is nil (set it, or list MTLS in MatrixTarget.Skip)")
	}
	key := strings.Join(scopes, " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.conns[key]; ok {
		return c, nil
	}
	c, err := r.target.MTLS(slices.Clone(scopes))
	if err != nil {
		return nil, fmt.Errorf("MatrixTarget.MTLS: %w", err)
	}
	r.conns[key] = c
	return c, nil
}
