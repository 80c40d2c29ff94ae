// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package peers_test

// cpuTime is not measured here: the rows report no cpu-ns/op.
func cpuTime() int64 { return -1 }
