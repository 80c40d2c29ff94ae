// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"unsafe"
)

// Outcome is what a decision came to.
type Outcome uint8

// The outcomes.
const (
	// OutcomeAllow: the call is allowed; the handler runs.
	OutcomeAllow Outcome = iota + 1
	// OutcomeDeny: the call is refused with the denial's status.
	OutcomeDeny
	// OutcomeWouldDeny: the method runs in dry-run and the call would have
	// been refused; it proceeds as it would without the rule.
	OutcomeWouldDeny
)

// String returns "allow", "deny" or "would_deny".
func (o Outcome) String() string {
	switch o {
	case OutcomeAllow:
		return "allow"
	case OutcomeDeny:
		return "deny"
	case OutcomeWouldDeny:
		return "would_deny"
	}
	return "unknown"
}

// DecisionIDKey is the google.rpc.ErrorInfo metadata key of a denial's
// decision id (see [Error.DecisionID]); the server's log line names the
// same id in its decision_id field, and audit events and spans carry it too.
const DecisionIDKey = "decision_id"

// DecisionID identifies one decision of one process: the caller's error,
// the server's log line, the audit event and the span of a decision carry
// the same id, so that one search finds them all. Its text is a random
// prefix drawn once per process and a counter, such as
// "3f9a1c0e77b2-0000001f". The zero DecisionID is no decision.
//
// Making one is an atomic increment; it is formatted only where it is
// shown (a denial, an audit event, a span, a log line).
type DecisionID uint64

// String formats the id; "" for the zero id.
func (id DecisionID) String() string {
	if id == 0 {
		return ""
	}
	b := make([]byte, id.Len())
	id.put(b)
	return unsafe.String(&b[0], len(b)) //nolint:gosec // G103: b is new, full and never written again: the string owns it
}

// AppendText appends the id's text to b, as [encoding.TextAppender]
// says; nothing for the zero id. An observer that keeps the id next to
// other data formats it into its own memory with it.
func (id DecisionID) AppendText(b []byte) ([]byte, error) {
	if id == 0 {
		return b, nil
	}
	n := len(b)
	b = append(b, make([]byte, id.Len())...)
	id.put(b[n:])
	return b, nil
}

// Len is the length of the id's text: 21 bytes for the first 4 billion
// ids of a process.
func (id DecisionID) Len() int {
	if id == 0 {
		return 0
	}
	// The counter in lowercase hex, at least 8 digits, so that no id is
	// the prefix of another in the first 4 billion.
	digits := 8
	for v := uint64(id) >> 32; v != 0; v >>= 4 {
		digits++
	}
	return len(decisionPrefix) + 1 + digits
}

// put writes the id's text into b, which is id.Len() long.
func (id DecisionID) put(b []byte) {
	copy(b, decisionPrefix[:])
	b[len(decisionPrefix)] = '-'
	v := uint64(id)
	for i := len(b) - 1; i > len(decisionPrefix); i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

const hexDigits = "0123456789abcdef"

// decisionPrefix is drawn once per process: ids of two processes differ
// while their counters overlap.
var decisionPrefix = func() (p [12]byte) {
	var r [6]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read does not fail (Go 1.24+)
	hex.Encode(p[:], r[:])
	return p
}()

var decisionCounter atomic.Uint64

// newDecisionID returns the next id of this process.
func newDecisionID() DecisionID { return DecisionID(decisionCounter.Add(1)) }
