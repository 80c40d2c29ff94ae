// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"
)

// TestAuditConditions: each condition audits what gRFC A59 says, to every
// sink, in order.
func TestAuditConditions(t *testing.T) {
	for _, c := range []struct {
		cond                runtime.AuditCondition
		wantAllow, wantDeny bool
	}{
		{runtime.AuditNone, false, false},
		{runtime.AuditOnDeny, false, true},
		{runtime.AuditOnAllow, true, false},
		{runtime.AuditOnDenyAndAllow, true, true},
	} {
		t.Run(fmt.Sprint(c.cond), func(t *testing.T) {
			a, b := &decisionLog{}, &decisionLog{}
			f := newKindsFixture(t, modeRegister, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithAudit(c.cond, a, b)}})
			token := bearerMD(f.iss.Mint(authtest.Subject("alice"), authtest.Scopes("s")))
			if _, err := f.client.Jwt(token, &grpcauthtestv1.Msg{}); err != nil {
				t.Fatal(err)
			}
			_, err := f.client.Jwt(context.Background(), &grpcauthtestv1.Msg{})
			wantDenied(t, err, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
			var want []runtime.Outcome
			if c.wantAllow {
				want = append(want, runtime.OutcomeAllow)
			}
			if c.wantDeny {
				want = append(want, runtime.OutcomeDeny)
			}
			for name, l := range map[string]*decisionLog{"a": a, "b": b} {
				var got []runtime.Outcome
				for _, ev := range l.all() {
					got = append(got, ev.Outcome)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("sink %s saw %v; want %v", name, got, want)
				}
			}
		})
	}
	for _, bad := range []runtime.Option{
		runtime.WithAudit(runtime.AuditOnDeny),
		runtime.WithAudit(runtime.AuditOnDeny, nil),
		runtime.WithAudit(runtime.AuditCondition(9), &decisionLog{}),
	} {
		if _, err := runtime.NewEnforcer(bad); !errors.Is(err, runtime.ErrInvalidOption) {
			t.Errorf("NewEnforcer = %v; want ErrInvalidOption", err)
		}
	}
}

// TestDecisionID: a denial's id is in the caller's ErrorInfo
// (Error.DecisionID), the server's log line and the audit event; ids
// differ between decisions.
func TestDecisionID(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			f := newKindsFixture(t, m, kindsOptions{})
			seen := map[string]bool{}
			for _, k := range anyCalls {
				err := f.wantDenied(t, k, context.Background(), f.client, codes.Unauthenticated, runtime.ReasonCredentialsMissing)
				e, ok := runtime.FromError(err)
				if !ok || e.DecisionID() == "" {
					t.Fatalf("%s: no decision id in %v", k.name, err)
				}
				id := e.DecisionID()
				if seen[id] {
					t.Errorf("%s: id %s given twice", k.name, id)
				}
				seen[id] = true
				ev, _ := f.lastDecision(k.method)
				if ev.DecisionID.String() != id {
					t.Errorf("%s: audit id %s; the caller's %s", k.name, ev.DecisionID, id)
				}
				if line := logLine(f.log.String(), "decision_id="+id); !strings.Contains(line, "reason=CREDENTIALS_MISSING") {
					t.Errorf("%s: no log line with decision_id=%s:\n%s", k.name, id, f.log.String())
				}
			}
		})
	}
}

// TestDecisionIDFormat: a process prefix and a counter of at least 8 hex
// digits, so that no id is a prefix of another.
func TestDecisionIDFormat(t *testing.T) {
	a, b := runtime.DecisionID(0x1f).String(), runtime.DecisionID(0x1f0).String()
	if len(a) != 21 || a[12] != '-' || !strings.HasSuffix(a, "-0000001f") || strings.HasPrefix(b, a) {
		t.Errorf("ids %q, %q", a, b)
	}
	if c := runtime.DecisionID(1 << 40).String(); !strings.HasSuffix(c, "-10000000000") {
		t.Errorf("id %q", c)
	}
	if runtime.DecisionID(0).String() != "" {
		t.Error("the zero id is not empty")
	}
}

// TestAuditEventHoldsNoSecret: the event's fields are typed; the only
// strings are the method, the reason, the subject and the rule's source,
// none of which is a credential, a request field or a claim value other
// than the documented subject.
func TestAuditEventHoldsNoSecret(t *testing.T) {
	allowed := map[string]reflect.Type{
		"DecisionID": reflect.TypeFor[runtime.DecisionID](),
		"Time":       reflect.TypeFor[time.Time](),
		"FullMethod": reflect.TypeFor[string](),
		"Outcome":    reflect.TypeFor[runtime.Outcome](),
		"Code":       reflect.TypeFor[codes.Code](),
		"Reason":     reflect.TypeFor[runtime.Reason](),
		"Kind":       reflect.TypeFor[runtime.CredentialKind](),
		"Subject":    reflect.TypeFor[string](),
		// The workload acting for an end user: its kind and subject.
		"Workload":        reflect.TypeFor[runtime.CredentialKind](),
		"WorkloadSubject": reflect.TypeFor[string](),
		"Source":          reflect.TypeFor[string](),
		"DryRun":          reflect.TypeFor[bool](),
	}
	typ := reflect.TypeFor[runtime.AuditEvent]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if want, ok := allowed[f.Name]; !ok || f.Type != want {
			t.Errorf("AuditEvent.%s %s: not one of the reviewed fields; a new field must not be able to hold a secret", f.Name, f.Type)
		}
	}
	if typ.NumField() != len(allowed) {
		t.Errorf("AuditEvent has %d fields; reviewed %d", typ.NumField(), len(allowed))
	}
}

// blockingSink blocks until released, counting what it got.
type blockingSink struct {
	release chan struct{}
	entered chan struct{} // gets a value each time Audit starts
	mu      sync.Mutex
	got     int
}

func (s *blockingSink) Audit(runtime.AuditEvent) {
	s.entered <- struct{}{}
	<-s.release
	s.mu.Lock()
	s.got++
	s.mu.Unlock()
}

// TestAsyncAuditSink: a slow sink never blocks the call: events beyond the
// queue are dropped and counted; Close delivers what is queued.
func TestAsyncAuditSink(t *testing.T) {
	slow := &blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 10)}
	async := runtime.AsyncAuditSink(slow, 2)
	f := newKindsFixture(t, modeRegister, kindsOptions{enforcerOpts: []runtime.Option{runtime.WithAudit(runtime.AuditOnDeny, async)}})
	_, _ = f.client.Jwt(context.Background(), &grpcauthtestv1.Msg{})
	<-slow.entered // the first event is in the slow sink
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			_, _ = f.client.Jwt(context.Background(), &grpcauthtestv1.Msg{})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("calls blocked on a slow audit sink")
	}
	// One event is in the slow sink, two are queued, three dropped.
	if got := async.Dropped(); got != 3 {
		t.Errorf("Dropped = %d; want 3", got)
	}
	close(slow.release)
	async.Close()
	if slow.got != 3 {
		t.Errorf("the sink got %d events; want 3", slow.got)
	}
	async.Audit(runtime.AuditEvent{})
	if async.Dropped() != 4 {
		t.Errorf("an event after Close was not counted as dropped")
	}
	async.Close() // again: nothing happens
}

// TestLogAuditSink: one line per event, with its fields.
func TestLogAuditSink(t *testing.T) {
	var buf bytes.Buffer
	sink := runtime.LogAuditSink(slog.New(slog.NewTextHandler(&buf, nil)))
	sink.Audit(runtime.AuditEvent{DecisionID: 7, FullMethod: "/a.B/C", Outcome: runtime.OutcomeWouldDeny, Code: codes.PermissionDenied,
		Reason: runtime.ReasonScopeInsufficient, Kind: runtime.BearerJWT, Subject: "alice", Source: "a.B", DryRun: true})
	for _, want := range []string{"grpcauth: audit", "decision_id=" + runtime.DecisionID(7).String(), "method=/a.B/C", "outcome=would_deny",
		"code=PermissionDenied", "reason=SCOPE_INSUFFICIENT", "kind=BEARER_JWT", "subject=alice", "source=a.B", "dry_run=true"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("line %q lacks %q", buf.String(), want)
		}
	}
}
