// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// AuditCondition says which decisions are audited, as gRFC A59's
// audit_condition does.
type AuditCondition uint8

// The audit conditions.
const (
	// AuditNone audits nothing.
	AuditNone AuditCondition = iota
	// AuditOnDeny audits denials, and would-be denials of methods in
	// dry-run.
	AuditOnDeny
	// AuditOnAllow audits allowed calls (dry-run methods' allowed calls
	// included).
	AuditOnAllow
	// AuditOnDenyAndAllow audits every decision.
	AuditOnDenyAndAllow
)

func (c AuditCondition) wants(o Outcome) bool {
	switch o {
	case OutcomeAllow:
		return c == AuditOnAllow || c == AuditOnDenyAndAllow
	case OutcomeDeny, OutcomeWouldDeny:
		return c == AuditOnDeny || c == AuditOnDenyAndAllow
	}
	return false
}

// AuditSink receives audit events, as gRFC A59's audit logger does.
//
// Contract: Audit is invoked in the RPC path, on the call's goroutine,
// after the decision and before the handler runs, and therefore must not
// block: a sink that writes to a file, a socket or a remote service must
// hand the event over to another goroutine and drop it rather than wait
// ([AsyncAuditSink] does that with a bounded queue). It is called
// concurrently from many calls: it must be safe for concurrent use. The
// event is passed by value; the sink owns its copy.
type AuditSink interface {
	Audit(ev AuditEvent)
}

// AuditEvent is what an [AuditSink] receives of one decision. Its fields
// are typed and come from the rule tables, the enforcer or the status of
// the decision: by its type it cannot hold a credential, a request field or
// a claim value, and it holds no free-form text from an authenticator (the
// server's log line carries the denial's safe detail). The one identity
// field is Subject.
type AuditEvent struct {
	// DecisionID is the decision's id, as in the caller's error
	// ([Error.DecisionID]) and the server's log line.
	DecisionID DecisionID
	// Time is when the decision was made.
	Time time.Time
	// FullMethod is "/pkg.Service/Method".
	FullMethod string
	// Outcome is allow, deny or would_deny (dry-run).
	Outcome Outcome
	// Code is the denial's status code (for would_deny, the one the caller
	// would have seen), OK when allowed.
	Code codes.Code
	// Reason is the denial's reason, empty when allowed.
	Reason Reason
	// Kind is the kind of credential presented, NoCredential if none.
	Kind CredentialKind
	// Subject is the authenticated caller (a JWT's sub, an API key's name,
	// a certificate's SPIFFE ID; on a call made on behalf of an end user,
	// the end user's), empty when the credential did not verify or the
	// method is public. With WorkloadSubject, it is what identifies a
	// person or workload: a sink that must not keep personal data drops
	// or hashes them.
	Subject string
	// Workload is the kind of the workload's credential on a call made on
	// behalf of an end user (Kind is then the end user's), NoCredential on
	// other calls; WorkloadSubject is the workload's authenticated subject.
	Workload        CredentialKind
	WorkloadSubject string
	// Source is the proto element the method's rule was declared on (such
	// as "library.v1.LibraryService"), "runtime exemption" for
	// WithHealthExemption and WithReflectionExemption, empty for a method
	// without a rule.
	Source string
	// DryRun is true when the method runs in dry-run.
	DryRun bool
}

// WithAudit sends every decision that meets cond to each of sinks, in
// order, as gRFC A59 does. Sinks must not block (see [AuditSink]); wrap a
// slow one in [AsyncAuditSink]. Given again, the last one stands
// (WithAudit(AuditNone) turns audit off).
func WithAudit(cond AuditCondition, sinks ...AuditSink) Option {
	return func(e *Enforcer) error {
		if cond > AuditOnDenyAndAllow {
			return fmt.Errorf("%w: WithAudit: unknown condition %d", ErrInvalidOption, cond)
		}
		for i, s := range sinks {
			if s == nil {
				return fmt.Errorf("%w: WithAudit: sink %d is nil", ErrInvalidOption, i)
			}
		}
		if cond != AuditNone && len(sinks) == 0 {
			return fmt.Errorf("%w: WithAudit: no sink", ErrInvalidOption)
		}
		e.auditCond = cond
		e.sinks = append([]AuditSink(nil), sinks...)
		return nil
	}
}

// AsyncSink is an [AuditSink] that queues events for another sink, on a
// goroutine of its own, and drops them when the queue is full. Build it
// with [AsyncAuditSink].
type AsyncSink struct {
	next    AuditSink
	mu      sync.RWMutex // held for reading while sending, for writing to close
	ch      chan AuditEvent
	closed  bool
	done    chan struct{}
	dropped atomic.Uint64
}

// AsyncAuditSink returns a sink that hands each event to next on a
// goroutine of its own through a queue of size events. Audit never blocks:
// an event that finds the queue full is dropped and counted
// ([AsyncSink.Dropped]). next is called from that one goroutine only.
// Close it to deliver what is queued and stop the goroutine.
func AsyncAuditSink(next AuditSink, size int) *AsyncSink {
	if size < 1 {
		size = 1
	}
	s := &AsyncSink{next: next, ch: make(chan AuditEvent, size), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for ev := range s.ch {
			next.Audit(ev)
		}
	}()
	return s
}

// Audit queues ev, or drops and counts it when the queue is full or the
// sink is closed.
func (s *AsyncSink) Audit(ev AuditEvent) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Add(1)
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.dropped.Add(1)
	}
}

// Dropped reports how many events were dropped: the queue was full, or
// the sink was closed.
func (s *AsyncSink) Dropped() uint64 { return s.dropped.Load() }

// Close stops taking events, hands those queued to the next sink, and
// returns when it has. Calling it again does nothing.
func (s *AsyncSink) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
	<-s.done
}

// LogAuditSink returns a sink that writes each event as one line to l
// ("grpcauth: audit", with the event's fields). Writing a line may block
// on l's writer: wrap it in [AsyncAuditSink] unless l's handler never
// blocks.
func LogAuditSink(l *slog.Logger) AuditSink {
	return logSink{l: l}
}

type logSink struct{ l *slog.Logger }

func (s logSink) Audit(ev AuditEvent) {
	attrs := []slog.Attr{
		slog.String("decision_id", ev.DecisionID.String()),
		slog.Time("decided_at", ev.Time),
		slog.String("method", ev.FullMethod),
		slog.String("outcome", ev.Outcome.String()),
		slog.String("code", ev.Code.String()),
	}
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", string(ev.Reason)))
	}
	attrs = append(attrs, slog.String("kind", ev.Kind.String()))
	if ev.Subject != "" {
		attrs = append(attrs, slog.String("subject", ev.Subject))
	}
	if ev.Workload != NoCredential {
		attrs = append(attrs, slog.String("workload_kind", ev.Workload.String()), slog.String("workload_subject", ev.WorkloadSubject))
	}
	if ev.Source != "" {
		attrs = append(attrs, slog.String("source", ev.Source))
	}
	if ev.DryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	s.l.LogAttrs(context.Background(), slog.LevelInfo, "grpcauth: audit", attrs...)
}
