// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"google.golang.org/grpc"
)

// WithDryRun puts methods in dry-run from server configuration, as
// `dry_run: true` in a rule does: the method's would-be denials are
// reported (metrics, log line, audit, span: outcome would_deny with the
// reason) and the call proceeds as it would without the rule. The handler
// sees a principal only when the credential verified (a would-be denial
// for a missing scope or a failed condition keeps it; a failed
// authentication attaches none). The caller sees what success looks like.
//
// Each name is a full method ("/pkg.Service/Method") or every method of a
// service ("/pkg.Service/*"). A method named here that has no rule is
// observed rather than denied too: naming it asks for it. Methods without
// a rule are otherwise denied; see [WithUndeclaredDryRun].
//
// The enforcer logs at startup, once per method, which methods run in
// dry-run (when it is built, and as rules are added).
func WithDryRun(fullMethods ...string) Option {
	return func(e *Enforcer) error {
		for _, m := range fullMethods {
			svc, method, ok := splitMethod(m)
			if !ok {
				return fmt.Errorf("%w: WithDryRun: %q is not \"/pkg.Service/Method\" or \"/pkg.Service/*\"", ErrInvalidOption, m)
			}
			if e.dryRunMethods == nil {
				e.dryRunMethods = map[string]bool{}
			}
			if method == "*" {
				e.dryRunMethods["/"+svc+"/*"] = true
			} else {
				e.dryRunMethods[m] = true
			}
		}
		return nil
	}
}

// WithUndeclaredDryRun observes rather than denies the methods that have no
// rule — services registered raw under the interceptors, health and
// reflection without their exemptions, methods generated with
// unannotated=deny: each call is reported as would_deny with
// METHOD_NOT_DECLARED and proceeds, with no principal. It is for rolling
// deny-by-default out on an existing service: run with it, read which
// undeclared methods are called, declare their rules, then remove it. Only
// when asked for: without it every method without a rule is denied.
func WithUndeclaredDryRun() Option {
	return func(e *Enforcer) error {
		e.undeclaredDryRun = true
		return nil
	}
}

// splitMethod splits "/pkg.Service/Method" into its service and method.
func splitMethod(m string) (svc, method string, ok bool) {
	if !strings.HasPrefix(m, "/") {
		return "", "", false
	}
	svc, method, ok = strings.Cut(m[1:], "/")
	if !ok || svc == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return svc, method, true
}

// dryRunNamed reports whether the server options put fullMethod in
// dry-run.
func (e *Enforcer) dryRunNamed(fullMethod string) bool {
	if len(e.dryRunMethods) == 0 {
		return false
	}
	if e.dryRunMethods[fullMethod] {
		return true
	}
	if svc, _, ok := splitMethod(fullMethod); ok {
		return e.dryRunMethods["/"+svc+"/*"]
	}
	return false
}

// dryRunOf reports whether a call to the method of rule (e's own copy, or
// nil) that would be denied proceeds instead. It is asked on the denial
// path only: an allowed call costs nothing for dry-run.
func (e *Enforcer) dryRunOf(ctx context.Context, rule *Rule) bool {
	if rule != nil && (rule.DryRun || e.dryRunNamed(rule.FullMethod)) {
		// A rule never added to e (Authorize with a table's rule) is
		// named by the options too.
		return true
	}
	if rule == nil || rule.Undeclared {
		if e.undeclaredDryRun {
			return true
		}
		if rule == nil {
			m, _ := grpc.Method(ctx)
			return e.dryRunNamed(m)
		}
	}
	return false
}

// applyDryRun puts in dry-run the rules that options added before every
// option was read, and logs every rule in dry-run; from then on AddRules
// logs each as it is added.
func (e *Enforcer) applyDryRun() {
	table := *e.table.Load()
	methods := make([]string, 0, len(table))
	for m := range table {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		own := table[m].own
		if !own.DryRun && e.dryRunNamed(own.FullMethod) {
			own.DryRun, own.dryRunByOption = true, true
		}
		if own.DryRun {
			e.logDryRunRule(own, !own.dryRunByOption)
		}
	}
	e.built = true
}

// logDryRunConfig logs, when the enforcer is built, what its options put in
// dry-run.
func (e *Enforcer) logDryRunConfig() {
	if e.logger == nil {
		return
	}
	for m := range e.dryRunMethods {
		e.logger.LogAttrs(context.Background(), slog.LevelWarn, "grpcauth: dry-run: would-be denials are reported, calls proceed",
			slog.String("methods", m), slog.String("by", "server option WithDryRun"))
	}
	if e.undeclaredDryRun {
		e.logger.LogAttrs(context.Background(), slog.LevelWarn, "grpcauth: dry-run: methods without a rule are observed, not denied",
			slog.String("by", "server option WithUndeclaredDryRun"))
	}
}

// logDryRunRule logs that a rule just added runs in dry-run.
func (e *Enforcer) logDryRunRule(own *Rule, byRule bool) {
	if e.logger == nil {
		return
	}
	by := "server option WithDryRun"
	if byRule {
		by = "rule (dry_run: true)"
	}
	e.logger.LogAttrs(context.Background(), slog.LevelWarn, "grpcauth: dry-run: would-be denials are reported, calls proceed",
		slog.String("method", own.FullMethod), slog.String("by", by), slog.String("source", own.Source))
}
