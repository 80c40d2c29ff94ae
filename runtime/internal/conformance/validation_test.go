// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	validatedgw "github.com/grpcauth/protoc-gen-go-grpcauth/gen/gateway/grpcauthtest/validated/v1"
	validatedv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/validated/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/validated/v1/validatedv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/gatewayauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/internal/conformance"
)

// A validator: protovalidate or protoc-gen-validate's generated Validate.
type validator struct {
	name     string
	validate func(any) error
	// field is what its error says of an invalid name.
	field string
}

var validators = func() []validator {
	pv, err := protovalidate.New()
	if err != nil {
		panic(err)
	}
	return []validator{
		{"protovalidate", func(m any) error {
			pm, ok := m.(proto.Message)
			if !ok {
				return nil
			}
			return pv.Validate(pm)
		}, "name: must be at least 5 characters"},
		{"protoc-gen-validate", func(m any) error {
			v, ok := m.(interface{ Validate() error })
			if !ok {
				return nil
			}
			return v.Validate()
		}, "invalid CreateRequest.Name: value length must be at least 5 runes"},
	}
}()

// invalidArgument is a validation failure as interceptors answer it.
func invalidArgument(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

func (v validator) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := v.validate(req); err != nil {
			return nil, invalidArgument(err)
		}
		return handler(ctx, req)
	}
}

func (v validator) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatingStream{ServerStream: ss, v: v})
	}
}

type validatingStream struct {
	grpc.ServerStream
	v validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.v.validate(m); err != nil {
		return invalidArgument(err)
	}
	return nil
}

// connectInterceptor validates what Connect handlers receive.
func (v validator) connectInterceptor() connect.Interceptor { return connectValidator{v} }

type connectValidator struct{ v validator }

func (c connectValidator) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := c.v.validate(req.Any()); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		return next(ctx, req)
	}
}

func (c connectValidator) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (c connectValidator) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &connectValidatingConn{StreamingHandlerConn: conn, v: c.v})
	}
}

type connectValidatingConn struct {
	connect.StreamingHandlerConn
	v validator
}

func (c *connectValidatingConn) Receive(m any) error {
	if err := c.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	if err := c.v.validate(m); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return nil
}

// validated is the Validated service; with v set it validates in the
// handler, as a gateway in process must.
type validated struct {
	validatedv1.UnimplementedValidatedServer
	v     *validator
	calls atomic.Int64
}

func (s *validated) Create(ctx context.Context, req *validatedv1.CreateRequest) (*validatedv1.CreateResponse, error) {
	if s.v != nil {
		if err := s.v.validate(req); err != nil {
			return nil, invalidArgument(err)
		}
	}
	s.calls.Add(1)
	return &validatedv1.CreateResponse{Name: req.GetName()}, nil
}

func (s *validated) CreateOwn(ctx context.Context, req *validatedv1.CreateRequest) (*validatedv1.CreateResponse, error) {
	return s.Create(ctx, req)
}

func (s *validated) Watch(req *validatedv1.CreateRequest, stream grpc.ServerStreamingServer[validatedv1.CreateResponse]) error {
	s.calls.Add(1)
	return stream.Send(&validatedv1.CreateResponse{Name: req.GetName()})
}

// connectValidated is the Connect handler of the same service.
type connectValidated struct {
	validatedv1connect.UnimplementedValidatedHandler
	s *validated
}

func (c *connectValidated) Create(ctx context.Context, req *connect.Request[validatedv1.CreateRequest]) (*connect.Response[validatedv1.CreateResponse], error) {
	r, err := c.s.Create(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

func (c *connectValidated) CreateOwn(ctx context.Context, req *connect.Request[validatedv1.CreateRequest]) (*connect.Response[validatedv1.CreateResponse], error) {
	return c.Create(ctx, req)
}

func (c *connectValidated) Watch(ctx context.Context, req *connect.Request[validatedv1.CreateRequest], s *connect.ServerStream[validatedv1.CreateResponse]) error {
	c.s.calls.Add(1)
	return s.Send(&validatedv1.CreateResponse{Name: req.Msg.GetName()})
}

// vcase is a row of the validation-order table.
type vcase struct {
	name    string
	method  string // Create, CreateOwn, Watch
	token   bool   // send a JWT of Alice with scope s
	req     *validatedv1.CreateRequest
	code    codes.Code
	reason  runtime.Reason // for denials
	invalid bool           // the validator's field message expected
}

var (
	invalidReq = &validatedv1.CreateRequest{Name: "x", Email: "not-an-email"}
	validReq   = &validatedv1.CreateRequest{Name: "alice-book", Email: "alice@example.com"}
	otherReq   = &validatedv1.CreateRequest{Name: "bobby", Email: "not-an-email"} // fails CreateOwn's condition, and validation
)

var vcases = []vcase{
	{"no credential, invalid request", "Create", false, invalidReq, codes.Unauthenticated, runtime.ReasonCredentialsMissing, false},
	{"allowed, invalid request", "Create", true, invalidReq, codes.InvalidArgument, "", true},
	{"allowed, valid request", "Create", true, validReq, codes.OK, "", false},
	{"condition fails, invalid request", "CreateOwn", true, otherReq, codes.PermissionDenied, runtime.ReasonConditionFailed, false},
	{"condition holds, valid request", "CreateOwn", true, validReq, codes.OK, "", false},
	{"stream, no credential, invalid request", "Watch", false, invalidReq, codes.Unauthenticated, runtime.ReasonCredentialsMissing, false},
	{"stream, allowed, invalid request", "Watch", true, invalidReq, codes.InvalidArgument, "", true},
}

// outcome is what a call ended with: its code, reason and error text.
type outcome struct {
	code   codes.Code
	reason runtime.Reason
	text   string
}

func runValidation(t *testing.T, w *conformance.World, v validator, s *validated, unary bool, call func(ctx context.Context, c vcase, token string) outcome) {
	t.Helper()
	for _, c := range vcases {
		if unary && c.method == "Watch" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			tok := ""
			if c.token {
				tok = w.Token("s")
			}
			before := s.calls.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := call(ctx, c, tok)
			if got.code != c.code || got.reason != c.reason {
				t.Errorf("got %v %s (%s), want %v %s", got.code, got.reason, got.text, c.code, c.reason)
			}
			if c.invalid != strings.Contains(got.text, v.field) {
				t.Errorf("validation message %q in %q: %v, want %v", v.field, got.text, !c.invalid, c.invalid)
			}
			for _, leak := range []string{"name", "email", "Name", "Email", "not-an-email"} {
				if c.reason != "" && strings.Contains(got.text, leak) {
					t.Errorf("a denial tells %q: %s", leak, got.text)
				}
			}
			if c.code != codes.OK && s.calls.Load() != before {
				t.Error("a refused call reached the handler")
			}
		})
	}
}

func grpcOutcome(err error) outcome {
	if err == nil {
		return outcome{code: codes.OK}
	}
	o := outcome{code: status.Code(err), text: err.Error()}
	if e, ok := runtime.FromError(err); ok {
		o.reason = e.Reason
	}
	return o
}

func grpcCall(conn *grpc.ClientConn) func(ctx context.Context, c vcase, token string) outcome {
	client := validatedv1.NewValidatedClient(conn)
	return func(ctx context.Context, c vcase, token string) outcome {
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		var err error
		switch c.method {
		case "Create":
			_, err = client.Create(ctx, c.req)
		case "CreateOwn":
			_, err = client.CreateOwn(ctx, c.req)
		case "Watch":
			var s grpc.ServerStreamingClient[validatedv1.CreateResponse]
			if s, err = client.Watch(ctx, c.req); err == nil {
				_, err = s.Recv()
			}
		}
		return grpcOutcome(err)
	}
}

// TestAuthBeforeValidation: with protovalidate and protoc-gen-validate in
// the chain, in the recommended order, a denied call never reaches
// validation on any path, so a caller who may not call learns nothing of
// what is wrong with its request; an allowed call's validation error keeps
// its code, INVALID_ARGUMENT.
func TestAuthBeforeValidation(t *testing.T) {
	w := conformance.NewWorld(t)
	serverTLS, err := w.CA.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	newEnf := func(t *testing.T, opts ...runtime.Option) *runtime.Enforcer {
		enf, err := runtime.NewEnforcer(append(w.Options(nil), opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return enf
	}
	serveGRPC := func(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) *grpc.ClientConn {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(append(opts, grpc.Creds(credentials.NewTLS(serverTLS)))...)
		register(s)
		go func() { _ = s.Serve(l) }() // ends with Stop
		t.Cleanup(s.Stop)
		tc := w.CA.ClientTLS()
		tc.ServerName = "localhost"
		conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	for _, v := range validators {
		t.Run(v.name, func(t *testing.T) {
			t.Run("grpc, generated registration", func(t *testing.T) {
				enf, impl := newEnf(t), &validated{}
				conn := serveGRPC(t, func(s *grpc.Server) { validatedv1.RegisterValidatedServerWithAuth(s, impl, enf) },
					grpc.ChainUnaryInterceptor(v.unary()), grpc.ChainStreamInterceptor(v.stream()))
				runValidation(t, w, v, impl, false, grpcCall(conn))
			})
			t.Run("grpc, interceptors: auth first", func(t *testing.T) {
				enf, impl := newEnf(t, runtime.WithRules(validatedv1.ValidatedAuthRules)), &validated{}
				conn := serveGRPC(t, func(s *grpc.Server) { validatedv1.RegisterValidatedServer(s, impl) },
					grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor(), v.unary()),
					grpc.ChainStreamInterceptor(enf.StreamServerInterceptor(), v.stream()))
				runValidation(t, w, v, impl, false, grpcCall(conn))
			})
			t.Run("grpc, typed wrapper under the auth interceptors", func(t *testing.T) {
				enf, impl := newEnf(t), &validated{}
				wrapped := validatedv1.NewValidatedServerWithAuth(impl, enf)
				conn := serveGRPC(t, func(s *grpc.Server) { validatedv1.RegisterValidatedServer(s, wrapped) },
					grpc.ChainUnaryInterceptor(enf.UnaryServerInterceptor(), v.unary()),
					grpc.ChainStreamInterceptor(enf.StreamServerInterceptor(), v.stream()))
				runValidation(t, w, v, impl, false, grpcCall(conn))
			})
			t.Run("grpc-gateway in process, validating in the handler", func(t *testing.T) {
				enf, impl := newEnf(t), &validated{v: &v}
				mux := gwruntime.NewServeMux(gatewayauth.ServeMuxOption())
				if err := validatedgw.RegisterValidatedHandlerServer(context.Background(), mux, validatedv1.NewValidatedServerWithAuth(impl, enf)); err != nil {
					t.Fatal(err)
				}
				hs := httptest.NewUnstartedServer(mux)
				hs.TLS = serverTLS.Clone()
				hs.StartTLS()
				t.Cleanup(hs.Close)
				tc := w.CA.ClientTLS()
				tc.ServerName = "localhost"
				hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
				runValidation(t, w, v, impl, true, func(ctx context.Context, c vcase, token string) outcome {
					path := map[string]string{"Create": "/v1/items", "CreateOwn": "/v1/own-items"}[c.method]
					body, _ := json.Marshal(map[string]string{"name": c.req.GetName(), "email": c.req.GetEmail()})
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+path, bytes.NewReader(body))
					if token != "" {
						req.Header.Set("Authorization", "Bearer "+token)
					}
					resp, err := hc.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode == http.StatusOK {
						return outcome{code: codes.OK}
					}
					var st struct {
						Code    int
						Message string
						Details []struct {
							Reason string
							Domain string
						}
					}
					_ = json.Unmarshal(b, &st)
					o := outcome{code: codes.Code(st.Code), text: st.Message}
					for _, d := range st.Details {
						if d.Domain == runtime.ErrorDomain {
							o.reason = runtime.Reason(d.Reason)
						}
					}
					if want := gwruntime.HTTPStatusFromCode(o.code); resp.StatusCode != want {
						t.Errorf("HTTP %d for %v, want %d", resp.StatusCode, o.code, want)
					}
					return o
				})
			})
			t.Run("connect, auth option first", func(t *testing.T) {
				enf, impl := newEnf(t, runtime.WithRules(validatedv1.ValidatedAuthRules)), &validated{}
				a := connectauth.New(enf)
				mux := http.NewServeMux()
				mux.Handle(a.Handle(validatedv1connect.NewValidatedHandler(&connectValidated{s: impl},
					a.HandlerOption(), connect.WithInterceptors(v.connectInterceptor()))))
				hs := httptest.NewUnstartedServer(mux)
				tlsCfg := serverTLS.Clone()
				tlsCfg.NextProtos = []string{"h2"}
				hs.TLS = tlsCfg
				hs.EnableHTTP2 = true
				hs.StartTLS()
				t.Cleanup(hs.Close)
				tc := w.CA.ClientTLS()
				tc.ServerName = "localhost"
				hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
				for _, p := range []struct {
					name string
					opts []connect.ClientOption
				}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}, {"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}} {
					t.Run(p.name, func(t *testing.T) {
						client := validatedv1connect.NewValidatedClient(hc, hs.URL, p.opts...)
						runValidation(t, w, v, impl, false, func(ctx context.Context, c vcase, token string) outcome {
							req := connect.NewRequest(c.req)
							if token != "" {
								req.Header().Set("Authorization", "Bearer "+token)
							}
							var err error
							switch c.method {
							case "Create":
								_, err = client.Create(ctx, req)
							case "CreateOwn":
								_, err = client.CreateOwn(ctx, req)
							case "Watch":
								var s *connect.ServerStreamForClient[validatedv1.CreateResponse]
								if s, err = client.Watch(ctx, req); err == nil {
									if !s.Receive() {
										err = s.Err()
									}
									s.Close()
								}
							}
							if err == nil {
								return outcome{code: codes.OK}
							}
							var ce *connect.Error
							o := outcome{code: codes.Code(connect.CodeOf(err)), text: err.Error()}
							if errors.As(err, &ce) {
								o.text = ce.Message()
							}
							if e, ok := connectauth.FromError(err); ok {
								o.reason = e.Reason
							}
							return o
						})
					})
				}
			})
		})
	}
}
