// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package conformance

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// GRPC is the Call of a gRPC client on conn: headers become metadata.
func GRPC(conn grpc.ClientConnInterface) Call {
	c := grpcauthtestv1.NewKindsClient(conn)
	return func(ctx context.Context, method string, headers []Header) Result {
		for _, h := range headers {
			ctx = metadata.AppendToOutgoingContext(ctx, h.Key, h.Value)
		}
		m, err := Invoke(ctx, c, method)
		return ResultOf(m, err)
	}
}

// Invoke calls method on c: a unary call, or a stream that sends and
// receives one message.
func Invoke(ctx context.Context, c grpcauthtestv1.KindsClient, method string) (*grpcauthtestv1.Msg, error) {
	in := &grpcauthtestv1.Msg{Text: "hello"}
	switch method {
	case "Jwt":
		return c.Jwt(ctx, in)
	case "OAuth2":
		return c.OAuth2(ctx, in)
	case "ApiKey":
		return c.ApiKey(ctx, in)
	case "Mtls":
		return c.Mtls(ctx, in)
	case "Any":
		return c.Any(ctx, in)
	case "Public":
		return c.Public(ctx, in)
	case "Secure":
		return c.Secure(ctx, in)
	case "WatchAny", "SecureWatch":
		open := c.WatchAny
		if method == "SecureWatch" {
			open = c.SecureWatch
		}
		s, err := open(ctx, in)
		if err != nil {
			return nil, err
		}
		return s.Recv()
	case "ChatAny":
		s, err := c.ChatAny(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Send(in); err != nil {
			_, err = s.Recv() // the status is on Recv
			return nil, err
		}
		m, err := s.Recv()
		_ = s.CloseSend()
		return m, err
	case "UploadAny":
		s, err := c.UploadAny(ctx)
		if err != nil {
			return nil, err
		}
		_ = s.Send(in) // on failure the status comes from CloseAndRecv
		return s.CloseAndRecv()
	}
	return nil, status.Errorf(codes.Unimplemented, "conformance: no method %q", method)
}

// ResultOf is the Result of a gRPC call's answer.
func ResultOf(m *grpcauthtestv1.Msg, err error) Result {
	if err == nil {
		return Result{Code: codes.OK, Subject: m.GetText()}
	}
	if e, ok := runtime.FromError(err); ok {
		return Result{Code: e.Code, Reason: e.Reason}
	}
	return Result{Code: status.Code(err)}
}
