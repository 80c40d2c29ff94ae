// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package connectauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"connectrpc.com/connect"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// NewClientInterceptor returns the interceptor of Connect clients of the
// server at baseURL (the URL given to NewXxxClient) that attaches to each
// call the credential of creds its procedure's rule accepts, chosen as the
// generated gRPC client chooses (the first kind, in the rule's order, that
// creds holds; none for a public method or a client certificate, which the
// http.Client's TLS config presents). A call fails before anything is sent
// when creds holds none of the kinds, when its procedure has no rule among
// rules (METHOD_NOT_DECLARED), and when a token or key would go to an
// http:// baseURL without AllowPlaintext (TRANSPORT_INSECURE). Tokens are
// refreshed ahead of expiry; a unary call the server refuses with
// TOKEN_EXPIRED is retried once with a fresh token; streams never are.
// Local refusals are *connect.Error values around a *runtime.Error
// (Local true); read either kind of denial with [FromError]. The
// interceptor refuses calls to any other host than baseURL's.
func NewClientInterceptor(baseURL string, creds *runtime.ClientCredentials, rules ...*runtime.ServiceRules) (connect.Interceptor, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("connectauth: NewClientInterceptor: baseURL %q is not an http or https URL", baseURL)
	}
	if creds == nil {
		return nil, errors.New("connectauth: NewClientInterceptor: nil credentials")
	}
	c := &clientInterceptor{host: u.Host, secure: u.Scheme == "https", methods: map[string]*runtime.MethodCredentials{}}
	for _, sr := range rules {
		if sr == nil {
			return nil, errors.New("connectauth: NewClientInterceptor: nil rule table")
		}
		for _, r := range sr.Methods {
			c.methods[r.FullMethod] = creds.ForMethod(r)
		}
	}
	return c, nil
}

type clientInterceptor struct {
	host    string
	secure  bool
	methods map[string]*runtime.MethodCredentials // read-only once built
}

// method returns the credentials of a call, or its local refusal.
func (c *clientInterceptor) method(spec connect.Spec, peer connect.Peer) (*runtime.MethodCredentials, error) {
	if peer.Addr != c.host {
		return nil, fmt.Errorf("connectauth: the client interceptor for %s is used for %s", c.host, peer.Addr)
	}
	m, ok := c.methods[spec.Procedure]
	if !ok {
		e := runtime.NewError(runtime.ReasonMethodNotDeclared, "no auth rule is known for this procedure; pass its service's rules to NewClientInterceptor")
		e.Local = true
		return nil, ConnectError(e)
	}
	if err := m.Preflight(); err != nil {
		return nil, ConnectError(err)
	}
	return m, nil
}

func (c *clientInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			return next(ctx, req)
		}
		m, err := c.method(req.Spec(), req.Peer())
		if err != nil {
			return nil, err
		}
		var resp connect.AnyResponse
		err = m.RetryExpired(ctx, func(ctx context.Context) error {
			name, value, err := m.Header(ctx, c.secure)
			if err != nil {
				return ConnectError(err)
			}
			if name != "" {
				req.Header().Set(name, value)
			}
			resp, err = next(ctx, req)
			return err
		}, FromError)
		return resp, err
	}
}

func (c *clientInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		m, err := c.method(spec, conn.Peer())
		if err != nil {
			return &refusedConn{StreamingClientConn: conn, err: err}
		}
		name, value, err := m.Header(ctx, c.secure)
		if err != nil {
			return &refusedConn{StreamingClientConn: conn, err: ConnectError(err)}
		}
		if name != "" {
			conn.RequestHeader().Set(name, value)
		}
		return conn
	}
}

func (c *clientInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// refusedConn is a stream refused before anything is sent: every
// operation fails with err, and nothing reaches the network (connect-go
// sends a stream's request only on its first Send or CloseRequest).
type refusedConn struct {
	connect.StreamingClientConn
	err error
}

func (c *refusedConn) Send(any) error       { return c.err }
func (c *refusedConn) Receive(any) error    { return c.err }
func (c *refusedConn) CloseRequest() error  { return c.err }
func (c *refusedConn) CloseResponse() error { return nil }
