// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
)

// UnaryServerInterceptor enforces the rules added to e (by [WithRules],
// [Enforcer.AddRules] or generated registration) on every unary call, and
// denies every method without a rule with METHOD_NOT_DECLARED. Use it when
// services are registered with their plain RegisterXxxServer.
func (e *Enforcer) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	e.served.unary.Store(true) // for CheckServed's InterceptorsInstalled
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
// opens, before any message is read; the stream ends when its credential
// expires (see [WithoutStreamExpiry]).
func (e *Enforcer) StreamServerInterceptor() grpc.StreamServerInterceptor {
	e.served.stream.Store(true) // for CheckServed's InterceptorsInstalled
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return e.serveStream(srv, ss, e.rule(info.FullMethod), info.IsClientStream, handler)
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
//
// For generated code; applications do not call it.
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
		h, clientStreams := s.Handler, s.ClientStreams
		s.Handler = func(srv any, ss grpc.ServerStream) error {
			return e.serveStream(srv, ss, rule, clientStreams, h)
		}
		out.Streams[i] = s
	}
	return &out
}

// serveStream decides a stream to the method of rule, e's own, and runs
// handler on ss if it is allowed: with the guard's context and its result
// through the guard, when the stream has one. clientStreams is false for a
// server-streaming method: its one request is received by grpc-go's
// generated handler before the method's own code runs, so the guard
// receives it in place (see streamGuard.inPlace).
func (e *Enforcer) serveStream(srv any, ss grpc.ServerStream, rule *Rule, clientStreams bool, handler grpc.StreamHandler) error {
	sc := new(streamCall)
	ctx, err := e.authorizeIn(ss.Context(), rule, &sc.auth)
	if err != nil {
		return err
	}
	st := &sc.auth.st
	if ctx != context.Context(&sc.auth) {
		st = stateFrom(ctx) // decided before, by an interceptor of e's
	}
	sc.stream = contextStream{ServerStream: ss, st: st}
	sc.stream.ctx, sc.stream.g = guardIn(ctx, st, &sc.guard)
	if sc.stream.g != nil {
		sc.stream.g.inPlace = !clientStreams
	}
	return sc.stream.g.finish(handler(srv, &sc.stream))
}

// streamCall is what a stream that the enforcer serves allocates, in one
// allocation: the context the decision leaves, the guard, and the stream
// the handler gets. A unary call allocates the first alone.
type streamCall struct {
	auth   authContext
	guard  streamGuard
	stream contextStream
}

// contextStream is a server stream whose context carries the decision and
// whose messages go through the stream's guard, if it has one.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
	st  *authState // the decision's, in ctx
	g   *streamGuard
}

func (s *contextStream) Context() context.Context { return s.ctx }

func (s *contextStream) RecvMsg(m any) error {
	var err error
	switch g := s.g; {
	case g == nil:
		err = s.ServerStream.RecvMsg(m)
	case g.inPlace:
		// g.recvMsg's in-place receive, inlined (the one request of a
		// server-streaming method): checked when it returns.
		err = s.ServerStream.RecvMsg(m)
		if !g.quiet() {
			if derr := g.checkSlow(); derr != nil {
				err = derr
			}
		}
	default:
		err = g.recvMsg(s.ServerStream, m)
	}
	if err != nil {
		return err
	}
	// A server-streaming method's condition is decided on its request.
	if st := s.st; st != nil && st.pending {
		return st.enf.CheckRequest(s.ctx, m)
	}
	return nil
}

func (s *contextStream) SendMsg(m any) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.ServerStream.SendMsg(m)
}

// ServeServerStream runs handler, a server-streaming method of a typed
// server, for a call that [Enforcer.Authorize] allowed with ctx. handler
// gets stream with the context it must run with, and its sends guarded:
// when the credential expires the context is cancelled with the denial as
// its cause, every later send returns the denial, and handler's result is
// replaced by it. The generated typed server wrappers (NewXxxServerWithAuth)
// call it.
//
// For generated code; applications do not call it.
func ServeServerStream[Res any](ctx context.Context, stream grpc.ServerStreamingServer[Res], handler func(grpc.ServerStreamingServer[Res]) error) error {
	w := &serverStreaming[Res]{ServerStreamingServer: stream}
	w.ctx, w.g = guardIn(ctx, stateFrom(ctx), &w.guard)
	return w.g.finish(handler(w))
}

// ServeClientStream is [ServeServerStream] for a client-streaming method:
// a receive waiting when the credential expires returns the denial then.
//
// For generated code; applications do not call it.
func ServeClientStream[Req, Res any](ctx context.Context, stream grpc.ClientStreamingServer[Req, Res], handler func(grpc.ClientStreamingServer[Req, Res]) error) error {
	w := &clientStreaming[Req, Res]{ClientStreamingServer: stream}
	w.ctx, w.g = guardIn(ctx, stateFrom(ctx), &w.guard)
	return w.g.finish(handler(w))
}

// ServeBidiStream is [ServeServerStream] for a bidi-streaming method: a
// receive waiting when the credential expires returns the denial then.
//
// For generated code; applications do not call it.
func ServeBidiStream[Req, Res any](ctx context.Context, stream grpc.BidiStreamingServer[Req, Res], handler func(grpc.BidiStreamingServer[Req, Res]) error) error {
	w := &bidiStreaming[Req, Res]{BidiStreamingServer: stream}
	w.ctx, w.g = guardIn(ctx, stateFrom(ctx), &w.guard)
	return w.g.finish(handler(w))
}

// recvTyped is a typed Recv through g.
func recvTyped[Req any](g *streamGuard, recv func() (*Req, error)) (*Req, error) {
	if g == nil {
		return recv()
	}
	// m is written by the receive; it is read only when the receive's
	// result was taken, never after receive returned early.
	var m *Req
	if err := g.receive(func() (err error) { m, err = recv(); return err }); err != nil {
		return nil, err
	}
	return m, nil
}

// recvMsgThrough is RecvMsg of ss through g.
func recvMsgThrough(g *streamGuard, ss grpc.ServerStream, m any) error {
	if g == nil {
		return ss.RecvMsg(m)
	}
	return g.recvMsg(ss, m)
}

type serverStreaming[Res any] struct {
	grpc.ServerStreamingServer[Res]
	ctx   context.Context
	g     *streamGuard // &guard when the stream has one
	guard streamGuard
}

func (s *serverStreaming[Res]) Context() context.Context { return s.ctx }

func (s *serverStreaming[Res]) Send(m *Res) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.ServerStreamingServer.Send(m)
}

func (s *serverStreaming[Res]) SendMsg(m any) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.ServerStreamingServer.SendMsg(m)
}

func (s *serverStreaming[Res]) RecvMsg(m any) error {
	return recvMsgThrough(s.g, s.ServerStreamingServer, m)
}

type clientStreaming[Req, Res any] struct {
	grpc.ClientStreamingServer[Req, Res]
	ctx   context.Context
	g     *streamGuard // &guard when the stream has one
	guard streamGuard
}

func (s *clientStreaming[Req, Res]) Context() context.Context { return s.ctx }

func (s *clientStreaming[Req, Res]) Recv() (*Req, error) {
	return recvTyped(s.g, s.ClientStreamingServer.Recv)
}

func (s *clientStreaming[Req, Res]) RecvMsg(m any) error {
	return recvMsgThrough(s.g, s.ClientStreamingServer, m)
}

func (s *clientStreaming[Req, Res]) SendAndClose(m *Res) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.ClientStreamingServer.SendAndClose(m)
}

func (s *clientStreaming[Req, Res]) SendMsg(m any) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.ClientStreamingServer.SendMsg(m)
}

type bidiStreaming[Req, Res any] struct {
	grpc.BidiStreamingServer[Req, Res]
	ctx   context.Context
	g     *streamGuard // &guard when the stream has one
	guard streamGuard
}

func (s *bidiStreaming[Req, Res]) Context() context.Context { return s.ctx }

func (s *bidiStreaming[Req, Res]) Recv() (*Req, error) {
	return recvTyped(s.g, s.BidiStreamingServer.Recv)
}

func (s *bidiStreaming[Req, Res]) RecvMsg(m any) error {
	return recvMsgThrough(s.g, s.BidiStreamingServer, m)
}

func (s *bidiStreaming[Req, Res]) Send(m *Res) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.BidiStreamingServer.Send(m)
}

func (s *bidiStreaming[Req, Res]) SendMsg(m any) error {
	if g := s.g; !g.quiet() {
		if err := g.checkSlow(); err != nil {
			return err
		}
	}
	return s.BidiStreamingServer.SendMsg(m)
}
