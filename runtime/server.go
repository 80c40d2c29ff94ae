// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"
)

// UnaryServerInterceptor enforces the rules added to e (by [WithRules],
// [Enforcer.AddRules] or generated registration) on every unary call, and
// denies every method without a rule with METHOD_NOT_DECLARED. Use it when
// services are registered with their plain RegisterXxxServer.
func (e *Enforcer) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := e.authorize(ctx, e.rule(info.FullMethod))
		if err != nil {
			return nil, err
		}
		if err := e.CheckRequest(ctx, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// [Enforcer.UnaryServerInterceptor]. The decision is made when the stream
// opens, before any message is read.
func (e *Enforcer) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := e.authorize(ss.Context(), e.rule(info.FullMethod))
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// ServiceDesc returns a copy of desc whose handlers enforce rules with e
// before anything else runs: before the request is decoded, before any
// interceptor of a unary call, before a stream's first message is read. A
// method of desc that has no rule in rules is denied with
// METHOD_NOT_DECLARED. The rules are added to e (see [Enforcer.AddRules]);
// ServiceDesc panics if they conflict with rules already added, as
// registering a service twice does.
//
// Generated RegisterXxxServerWithAuth functions call it.
func (e *Enforcer) ServiceDesc(desc *grpc.ServiceDesc, rules *ServiceRules) *grpc.ServiceDesc {
	if e == nil {
		panic("grpcauth: nil *runtime.Enforcer for service " + desc.ServiceName + "; build one with runtime.NewEnforcer")
	}
	if rules == nil || rules.Service != desc.ServiceName {
		panic(fmt.Sprintf("grpcauth: rules do not belong to service %q", desc.ServiceName))
	}
	if err := e.AddRules(rules); err != nil {
		panic(err.Error())
	}
	out := *desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		rule := e.own(rules.Lookup("/" + desc.ServiceName + "/" + m.MethodName))
		h := m.Handler
		out.Methods[i] = grpc.MethodDesc{
			MethodName: m.MethodName,
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				ctx, err := e.authorize(ctx, rule)
				if err != nil {
					return nil, err
				}
				if rule != nil && rule.Condition != "" {
					// Decide the condition as soon as the request is decoded.
					inner := dec
					dec = func(v any) error {
						if err := inner(v); err != nil {
							return err
						}
						return e.CheckRequest(ctx, v)
					}
				}
				return h(srv, ctx, dec, interceptor)
			},
		}
	}
	out.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, s := range desc.Streams {
		rule := e.own(rules.Lookup("/" + desc.ServiceName + "/" + s.StreamName))
		h := s.Handler
		s.Handler = func(srv any, ss grpc.ServerStream) error {
			ctx, err := e.authorize(ss.Context(), rule)
			if err != nil {
				return err
			}
			return h(srv, &contextStream{ServerStream: ss, ctx: ctx})
		}
		out.Streams[i] = s
	}
	return &out
}

// streamCheck is run before every message a stream receives or sends: it
// ends a stream whose credential expired after it opened.
func streamCheck(ctx context.Context) error {
	st := stateFrom(ctx)
	if st == nil || st.principal == nil || st.enf == nil || st.enf.noStreamExpiry || st.principal.ExpiresAt.IsZero() {
		return nil
	}
	if st.enf.now().Before(st.principal.ExpiresAt) {
		return nil
	}
	err := NewError(ReasonTokenExpired, "the credential expired during the stream; reopen it with a fresh one")
	if st.dryRun {
		// Dry-run: the stream goes on; its end is reported once.
		if atomic.CompareAndSwapUint32(&st.expiryReported, 0, 1) {
			st.enf.report(ctx, &verdict{rule: st.rule, kind: st.principal.Kind, p: st.principal, err: err, outcome: OutcomeWouldDeny, dryRun: true})
		}
		return nil
	}
	st.enf.deny(ctx, st.rule, st.principal.Kind, st.principal, err)
	return err
}

// contextStream is a server stream whose context carries the decision and
// whose messages check the credential's expiry.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func (s *contextStream) RecvMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	// A server-streaming method's condition is decided on its request.
	if st := stateFrom(s.ctx); st != nil && st.pending {
		return st.enf.CheckRequest(s.ctx, m)
	}
	return nil
}

func (s *contextStream) SendMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

// ServerStreamingServer returns s with its Context replaced by ctx and
// expiry checks on every message. The generated typed server wrappers use it.
func ServerStreamingServer[Res any](s grpc.ServerStreamingServer[Res], ctx context.Context) grpc.ServerStreamingServer[Res] {
	return &serverStreaming[Res]{ServerStreamingServer: s, ctx: ctx}
}

type serverStreaming[Res any] struct {
	grpc.ServerStreamingServer[Res]
	ctx context.Context
}

func (s *serverStreaming[Res]) Context() context.Context { return s.ctx }

func (s *serverStreaming[Res]) Send(m *Res) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.ServerStreamingServer.Send(m)
}

func (s *serverStreaming[Res]) SendMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.ServerStreamingServer.SendMsg(m)
}

// ClientStreamingServer returns s with its Context replaced by ctx and
// expiry checks on every message. The generated typed server wrappers use it.
func ClientStreamingServer[Req, Res any](s grpc.ClientStreamingServer[Req, Res], ctx context.Context) grpc.ClientStreamingServer[Req, Res] {
	return &clientStreaming[Req, Res]{ClientStreamingServer: s, ctx: ctx}
}

type clientStreaming[Req, Res any] struct {
	grpc.ClientStreamingServer[Req, Res]
	ctx context.Context
}

func (s *clientStreaming[Req, Res]) Context() context.Context { return s.ctx }

func (s *clientStreaming[Req, Res]) Recv() (*Req, error) {
	if err := streamCheck(s.ctx); err != nil {
		return nil, err
	}
	return s.ClientStreamingServer.Recv()
}

func (s *clientStreaming[Req, Res]) SendAndClose(m *Res) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.ClientStreamingServer.SendAndClose(m)
}

func (s *clientStreaming[Req, Res]) RecvMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.ClientStreamingServer.RecvMsg(m)
}

// BidiStreamingServer returns s with its Context replaced by ctx and
// expiry checks on every message. The generated typed server wrappers use it.
func BidiStreamingServer[Req, Res any](s grpc.BidiStreamingServer[Req, Res], ctx context.Context) grpc.BidiStreamingServer[Req, Res] {
	return &bidiStreaming[Req, Res]{BidiStreamingServer: s, ctx: ctx}
}

type bidiStreaming[Req, Res any] struct {
	grpc.BidiStreamingServer[Req, Res]
	ctx context.Context
}

func (s *bidiStreaming[Req, Res]) Context() context.Context { return s.ctx }

func (s *bidiStreaming[Req, Res]) Recv() (*Req, error) {
	if err := streamCheck(s.ctx); err != nil {
		return nil, err
	}
	return s.BidiStreamingServer.Recv()
}

func (s *bidiStreaming[Req, Res]) RecvMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.BidiStreamingServer.RecvMsg(m)
}

func (s *bidiStreaming[Req, Res]) Send(m *Res) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.BidiStreamingServer.Send(m)
}

func (s *bidiStreaming[Req, Res]) SendMsg(m any) error {
	if err := streamCheck(s.ctx); err != nil {
		return err
	}
	return s.BidiStreamingServer.SendMsg(m)
}
