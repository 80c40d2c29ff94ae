// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"testing"

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
