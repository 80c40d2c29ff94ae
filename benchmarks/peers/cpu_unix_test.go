// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

//go:build unix

package peers_test

import "syscall"

// cpuTime is the process's CPU time so far, user and system, in
// nanoseconds (getrusage RUSAGE_SELF); -1 if it cannot be read.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
