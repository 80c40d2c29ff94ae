// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1/grpcauthtestv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
)

// ConnectServer is the Connect handler of Kinds, answering as Server does
// and counting on it.
type ConnectServer struct {
	grpcauthtestv1connect.UnimplementedKindsHandler
	S *Server
}

func (c *ConnectServer) unary(ctx context.Context) (*connect.Response[grpcauthtestv1.Msg], error) {
	return connect.NewResponse(c.S.saw(ctx)), nil
}

func (c *ConnectServer) Jwt(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	return c.unary(ctx)
}

func (c *ConnectServer) ApiKey(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) { //nolint:revive // the generated name
	return c.unary(ctx)
}

func (c *ConnectServer) Mtls(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	return c.unary(ctx)
}

func (c *ConnectServer) Any(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	return c.unary(ctx)
}

func (c *ConnectServer) Public(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	return c.unary(ctx)
}

func (c *ConnectServer) Secure(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	return c.unary(ctx)
}

func (c *ConnectServer) WatchAny(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg], s *connect.ServerStream[grpcauthtestv1.Msg]) error {
	return s.Send(c.S.saw(ctx))
}

func (c *ConnectServer) SecureWatch(ctx context.Context, _ *connect.Request[grpcauthtestv1.Msg], s *connect.ServerStream[grpcauthtestv1.Msg]) error {
	return s.Send(c.S.saw(ctx))
}

func (c *ConnectServer) UploadAny(ctx context.Context, s *connect.ClientStream[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error) {
	m := c.S.saw(ctx)
	for s.Receive() {
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(m), nil
}

func (c *ConnectServer) ChatAny(ctx context.Context, s *connect.BidiStream[grpcauthtestv1.Msg, grpcauthtestv1.Msg]) error {
	m := c.S.saw(ctx)
	for {
		if _, err := s.Receive(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := s.Send(m); err != nil {
			return err
		}
	}
}

// Connect is the Call of a Connect client: headers become HTTP headers,
// canonically named.
func Connect(c grpcauthtestv1connect.KindsClient) Call {
	return func(ctx context.Context, method string, headers []Header) Result {
		h := http.Header{}
		for _, kv := range headers {
			h.Add(kv.Key, kv.Value)
		}
		m, err := InvokeConnect(ctx, c, method, h)
		return ConnectResultOf(m, err)
	}
}

// InvokeConnect calls method on c with header h: a unary call, or a stream
// that sends and receives one message.
func InvokeConnect(ctx context.Context, c grpcauthtestv1connect.KindsClient, method string, h http.Header) (*grpcauthtestv1.Msg, error) {
	in := &grpcauthtestv1.Msg{Text: "hello"}
	req := connect.NewRequest(in)
	for k, vs := range h {
		req.Header()[k] = vs
	}
	unary := func(call func(context.Context, *connect.Request[grpcauthtestv1.Msg]) (*connect.Response[grpcauthtestv1.Msg], error)) (*grpcauthtestv1.Msg, error) {
		resp, err := call(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	switch method {
	case "Jwt":
		return unary(c.Jwt)
	case "OAuth2":
		return unary(c.OAuth2)
	case "ApiKey":
		return unary(c.ApiKey)
	case "Mtls":
		return unary(c.Mtls)
	case "Any":
		return unary(c.Any)
	case "Public":
		return unary(c.Public)
	case "Secure":
		return unary(c.Secure)
	case "WatchAny", "SecureWatch":
		open := c.WatchAny
		if method == "SecureWatch" {
			open = c.SecureWatch
		}
		s, err := open(ctx, req)
		if err != nil {
			return nil, err
		}
		defer func() { _ = s.Close() }()
		if !s.Receive() {
			if err := s.Err(); err != nil {
				return nil, err
			}
			return nil, io.ErrUnexpectedEOF
		}
		return s.Msg(), nil
	case "ChatAny":
		s := c.ChatAny(ctx)
		for k, vs := range h {
			s.RequestHeader()[k] = vs
		}
		_ = s.Send(in) // on failure the error comes from Receive
		m, err := s.Receive()
		_ = s.CloseRequest()
		_ = s.CloseResponse()
		return m, err
	case "UploadAny":
		s := c.UploadAny(ctx)
		for k, vs := range h {
			s.RequestHeader()[k] = vs
		}
		_ = s.Send(in)
		resp, err := s.CloseAndReceive()
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("conformance: no method "+method))
}

// ConnectResultOf is the Result of a Connect call's answer.
func ConnectResultOf(m *grpcauthtestv1.Msg, err error) Result {
	if err == nil {
		return Result{Code: codes.OK, Subject: m.GetText()}
	}
	if e, ok := connectauth.FromError(err); ok {
		return Result{Code: e.Code, Reason: e.Reason}
	}
	return Result{Code: codes.Code(connect.CodeOf(err))}
}
