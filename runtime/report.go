// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
)

// verdict is one decision as it is reported: to the observer, the audit
// sinks, the log, and (for a denial) the caller's ErrorInfo.
type verdict struct {
	rule    *Rule // e's own copy, or nil
	c       caller
	err     *Error // nil when allowed
	outcome Outcome
	dryRun  bool
	spent   time.Duration // the decision's time, when an observer is set
}

// observing reports whether anything wants allowed decisions: when not, an
// allowed call reads no clock and reports nothing.
func (e *Enforcer) observing() bool {
	return e.observer != nil || e.auditCond.wants(OutcomeAllow)
}

// deny reports a denial made now (a stream's end, a condition). Its
// signature is what the stream code calls.
func (e *Enforcer) deny(ctx context.Context, rule *Rule, c caller, err *Error) {
	e.report(ctx, &verdict{rule: rule, c: c, err: err, outcome: OutcomeDeny})
}

// report tells the observer, the audit sinks and the log of v. A denial's
// error gets the method and the decision id in its metadata.
func (e *Enforcer) report(ctx context.Context, v *verdict) {
	if v.err == nil && !e.observing() {
		return
	}
	id := newDecisionID()
	method := ""
	if v.rule != nil {
		method = v.rule.FullMethod
	}
	if v.err != nil && v.outcome == OutcomeDeny {
		m := method
		if m == "" {
			m, _ = grpc.Method(ctx)
		}
		// The denied method, so that a client tells the enforcer's answer
		// to its own call from one a handler passed on; and the id that
		// finds the server's log line.
		_ = v.err.WithMetadata("method", m).WithMetadata(DecisionIDKey, id.String())
	}
	code, reason := codes.OK, Reason("")
	if v.err != nil {
		code, reason = v.err.Code, v.err.Reason
	}
	if e.observer != nil {
		e.observer.ObserveDecision(ctx, Observation{
			ID: id, FullMethod: method, Outcome: v.outcome, Code: code, Reason: reason,
			Kind: v.c.kind, DryRun: v.dryRun, Duration: v.spent,
		})
	}
	if e.auditCond.wants(v.outcome) {
		ev := AuditEvent{
			DecisionID: id, Time: time.Now(), FullMethod: method, Outcome: v.outcome,
			Code: code, Reason: reason, Kind: v.c.kind, DryRun: v.dryRun,
		}
		if ev.FullMethod == "" {
			ev.FullMethod, _ = grpc.Method(ctx)
		}
		if v.rule != nil {
			ev.Source = v.rule.Source
		}
		if v.c.principal != nil {
			ev.Subject = v.c.principal.Subject
		}
		if w := v.c.workload; w != nil {
			ev.Workload, ev.WorkloadSubject = w.Kind, w.Subject
		}
		for _, s := range e.sinks {
			s.Audit(ev)
		}
	}
	if v.err != nil {
		e.logDenial(ctx, id, method, v)
	}
}

// logDenial writes a denial's or would-be denial's one line.
func (e *Enforcer) logDenial(ctx context.Context, id DecisionID, method string, v *verdict) {
	if e.logger == nil {
		return
	}
	level := slog.LevelInfo
	if v.err.Code == codes.Unavailable {
		level = slog.LevelWarn
	}
	if !e.logger.Enabled(ctx, level) {
		return
	}
	if method == "" {
		method, _ = grpc.Method(ctx)
	}
	msg := "grpcauth: call denied"
	if v.outcome == OutcomeWouldDeny {
		msg = "grpcauth: call would be denied (dry-run; it proceeds)"
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("code", v.err.Code.String()),
		slog.String("reason", string(v.err.Reason)),
		slog.String("kind", v.c.kind.String()),
		slog.String("decision_id", id.String()),
	)
	if v.dryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	if p := v.c.principal; p != nil && p.Subject != "" {
		attrs = append(attrs, slog.String("subject", p.Subject))
	}
	if w := v.c.workload; w != nil {
		attrs = append(attrs, slog.String("workload_kind", w.Kind.String()), slog.String("workload_subject", w.Subject))
	}
	if v.err.Detail != "" {
		attrs = append(attrs, slog.String("detail", v.err.Detail))
	}
	if hc, ok := ConnectionFrom(ctx); ok {
		if hc.RemoteAddr != nil {
			attrs = append(attrs, slog.String("peer", hc.RemoteAddr.String()))
		}
	} else if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		attrs = append(attrs, slog.String("peer", pr.Addr.String()))
	}
	e.logger.LogAttrs(ctx, level, msg, attrs...)
}
