// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestMoveMessage: a message received into a fresh one and moved into the
// caller's is what decoding into the caller's would have made: every
// field (scalars, maps, repeated and nested messages, unknown fields), and
// nothing of what the caller's held before.
func TestMoveMessage(t *testing.T) {
	unknown := protowire.AppendTag(nil, 99, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	srcs := []proto.Message{
		&errdetails.ErrorInfo{Reason: "R", Domain: "d", Metadata: map[string]string{"a": "1", "b": "2"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "f", Description: "x"}, {Field: "g"}}},
		&errdetails.Help{Links: []*errdetails.Help_Link{{Url: "u"}}},
	}
	for _, want := range srcs {
		want.ProtoReflect().SetUnknown(unknown)
		wire, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		fresh, ok := freshMessage(want)
		if !ok {
			t.Fatalf("%T: no fresh message", want)
		}
		if err := proto.Unmarshal(wire, fresh.(proto.Message)); err != nil {
			t.Fatal(err)
		}
		dst := want.ProtoReflect().New().Interface()
		if ei, ok := dst.(*errdetails.ErrorInfo); ok {
			ei.Reason, ei.Metadata = "stale", map[string]string{"c": "3"}
		}
		dst.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 98, protowire.VarintType), 1))
		moveMessage(dst, fresh)
		if !proto.Equal(dst, want) {
			t.Errorf("%T: moved %v; want %v", want, dst, want)
		}
	}

	type plain struct{ A, B string }
	dst := &plain{A: "stale"}
	fresh, ok := freshMessage(dst)
	if !ok {
		t.Fatal("*plain: no fresh message")
	}
	fresh.(*plain).B = "b"
	moveMessage(dst, fresh)
	if *dst != (plain{B: "b"}) {
		t.Errorf("moved %+v; want {B:b}", *dst)
	}
	if _, ok := freshMessage(plain{}); ok {
		t.Error("freshMessage of a non-pointer succeeded")
	}
}

// TestGuardDerivesOnDemand: the stream guard, the handler's context,
// derives a cancellable context and sets a timer only when something
// waits on it, asks for its error or the guard trips. A stream whose
// handler only reads its values, receives, sends and returns has neither,
// and is checked by the clock instead; once it returned its context is
// done. A context derived from the handler's is cancelled with the denial
// as its cause; a guard that trips before anything waited is done with it.
func TestGuardDerivesOnDemand(t *testing.T) {
	e, err := NewEnforcer(WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	open := func(expiresIn time.Duration) *streamGuard {
		t.Helper()
		p := &Principal{Kind: BearerJWT, Subject: "s", ExpiresAt: time.Now().Add(expiresIn)}
		g := new(streamGuard)
		if !g.open(withState(parent, authState{rule: &Rule{FullMethod: "/t.S/M"}, principal: p, enf: e})) {
			t.Fatal("no guard for an expiring principal")
		}
		return g
	}
	isExpired := func(err error) bool {
		var d *Error
		return errors.As(err, &d) && d.Reason == ReasonTokenExpired
	}

	g := open(time.Hour)
	if p, ok := PrincipalFrom(g); !ok || p.Subject != "s" {
		t.Fatalf("PrincipalFrom(the guard's context) = %v, %v", p, ok)
	}
	if _, ok := g.Deadline(); ok {
		t.Error("a deadline the parent has not")
	}
	for range 3 {
		if err := g.check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.finish(nil); err != nil {
		t.Fatal(err)
	}
	if g.derived.Load() != nil || g.timer != nil {
		t.Error("a stream that nothing waited on derived a context or set a timer")
	}
	if !errors.Is(g.Err(), context.Canceled) {
		t.Errorf("Err after the handler returned = %v; want context.Canceled", g.Err())
	}
	if g.timer != nil {
		t.Error("a timer set after the handler returned")
	}

	g = open(time.Hour)
	child, cancelChild := context.WithCancel(g)
	defer cancelChild()
	if g.derived.Load() == nil || g.timer == nil {
		t.Fatal("a context derived from the handler's did not derive the guard's or set its timer")
	}
	if err := child.Err(); err != nil {
		t.Fatalf("child.Err() = %v before anything ended", err)
	}
	if d := g.trip(tokenExpired()); d == nil {
		t.Fatal("trip returned nil")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the child context was not cancelled when the guard tripped")
	}
	if c := context.Cause(child); !isExpired(c) {
		t.Errorf("context.Cause(child) = %v; want the TOKEN_EXPIRED denial", c)
	}
	_ = g.finish(nil)

	g = open(time.Hour)
	_ = g.trip(tokenExpired())
	if c := context.Cause(g); !isExpired(c) {
		t.Errorf("context.Cause of a guard tripped before anything waited = %v; want the denial", c)
	}
	if g.timer != nil {
		t.Error("a timer set by a guard that had tripped")
	}
	if err := g.finish(nil); !isExpired(err) {
		t.Errorf("finish = %v; want the denial", err)
	}

	// Expired before anything asked: the first Done is already closed.
	g = open(-time.Second)
	select {
	case <-g.Done():
	default:
		t.Error("Done of a stream whose credential had expired is not closed")
	}
	if c := context.Cause(g); !isExpired(c) {
		t.Errorf("context.Cause = %v; want the TOKEN_EXPIRED denial", c)
	}
	_ = g.finish(nil)
}
