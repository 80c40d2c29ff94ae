// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

// servedRegistry is filled by CheckServed's companion in check.go.
type servedRegistry struct{}
