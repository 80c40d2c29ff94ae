// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// retryKey marks the context of a unary call's one retry; its value is the
// server's denial (*Error) that caused it.
type retryKey struct{}

// refused reports a preflight refusal (or, in dry-run, one not made).
func (c *ClientCredentials) refused(ctx context.Context, m *MethodCredentials, err *Error, dryRun bool) {
	if c == nil {
		return
	}
	if c.Observer != nil {
		c.Observer.ObserveClient(ctx, ClientEvent{Type: ClientPreflightRefused, FullMethod: m.rule.FullMethod, Reason: err.Reason, Kind: m.kind, DryRun: dryRun})
	}
	if c.Logger == nil {
		return
	}
	msg := "grpcauth: call refused before sending"
	if dryRun {
		msg = "grpcauth: call would be refused before sending (dry-run; sent without the credential)"
	}
	attrs := []slog.Attr{
		slog.String("method", m.rule.FullMethod),
		slog.String("reason", string(err.Reason)),
		slog.String("message", err.Message),
	}
	if k := err.Metadata["accepted_kinds"]; k != "" {
		attrs = append(attrs, slog.String("accepted_kinds", k))
	}
	if m.kind != NoCredential {
		attrs = append(attrs, slog.String("kind", m.kind.String()))
	}
	c.Logger.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
}

// retried reports the one retry of a unary call the server refused.
func (c *ClientCredentials) retried(ctx context.Context, m *MethodCredentials, denial *Error) {
	ev := ClientEvent{Type: ClientRetried, FullMethod: m.rule.FullMethod, Reason: ReasonTokenExpired, Kind: m.kind}
	if denial != nil {
		ev.DecisionID = denial.DecisionID()
	}
	if c.Observer != nil {
		c.Observer.ObserveClient(ctx, ev)
	}
	if c.Logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", ev.FullMethod),
		slog.String("reason", string(ev.Reason)),
		slog.String("kind", ev.Kind.String()),
	}
	if ev.DecisionID != "" {
		// The server's id of the refusal: its log line has the same.
		attrs = append(attrs, slog.String("decision_id", ev.DecisionID))
	}
	c.Logger.LogAttrs(ctx, slog.LevelInfo, "grpcauth: retrying once with a fresh token", attrs...)
}

// fetched reports a token fetch from the token source.
func (c *ClientCredentials) fetched(tok *oauth2.Token, err error, took time.Duration, now func() time.Time) {
	failed := err != nil || tok == nil || tok.AccessToken == "" || (!tok.Expiry.IsZero() && !now().Before(tok.Expiry))
	if c.Observer != nil {
		c.Observer.ObserveClient(context.Background(), ClientEvent{Type: ClientTokenFetched, Failed: failed, Duration: took})
	}
	if c.Logger == nil {
		return
	}
	if failed {
		why := "the token source returned an expired or empty token"
		if err != nil {
			why = tokenSourceError(err)
		}
		c.Logger.LogAttrs(context.Background(), slog.LevelWarn, "grpcauth: token fetch failed",
			slog.String("error", why), slog.Duration("took", took))
		return
	}
	attrs := []slog.Attr{slog.Duration("took", took)}
	if !tok.Expiry.IsZero() {
		attrs = append(attrs, slog.Duration("expires_in", tok.Expiry.Sub(now()).Round(time.Second)))
	}
	c.Logger.LogAttrs(context.Background(), slog.LevelInfo, "grpcauth: token fetched", attrs...)
}

// tokenSourceError describes a token source's error without what it may
// quote: an OAuth2 token endpoint's answer body (*oauth2.RetrieveError) or
// a request URL (*url.Error, whose query may hold a client secret). Other
// errors are cut to 200 bytes.
func tokenSourceError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "the token endpoint refused"
		if re.Response != nil {
			s += ": status " + strconv.Itoa(re.Response.StatusCode)
		}
		if re.ErrorCode != "" {
			s += ", error " + strconv.Quote(re.ErrorCode)
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "token request: " + ue.Op + ": " + ue.Err.Error()
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
