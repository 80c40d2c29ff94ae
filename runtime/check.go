// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
)

// RegisterService registers impl with s under a copy of desc whose
// handlers enforce rules with e (see [Enforcer.ServiceDesc]), and records
// that s serves desc's service that way, for [CheckServed]. Generated
// RegisterXxxServerWithAuth functions call it. It panics as ServiceDesc
// and s.RegisterService do.
//
// For generated code; applications do not call it.
func (e *Enforcer) RegisterService(s grpc.ServiceRegistrar, desc *grpc.ServiceDesc, rules *ServiceRules, impl any) {
	guarded := e.ServiceDesc(desc, rules)
	s.RegisterService(guarded, impl)
	e.served.add(s, desc.ServiceName)
}

// servedRegistry records, per registrar, the services registered on it
// by [Enforcer.RegisterService].
type servedRegistry struct {
	mu       sync.Mutex
	services map[any]map[string]bool
	// unary and stream are set once the enforcer's interceptors are made.
	unary, stream atomic.Bool
}

func (r *servedRegistry) add(s grpc.ServiceRegistrar, service string) {
	if s == nil || !reflect.TypeOf(s).Comparable() {
		return // cannot be told apart later: CheckServed reports it uncovered
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = map[any]map[string]bool{}
	}
	if r.services[s] == nil {
		r.services[s] = map[string]bool{}
	}
	r.services[s][service] = true
}

func (r *servedRegistry) has(s any, service string) bool {
	if s == nil || !reflect.TypeOf(s).Comparable() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.services[s][service]
}

// ServiceInfoProvider is what [CheckServed] reads of a server, such as a
// *grpc.Server: the services and methods it serves.
type ServiceInfoProvider interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// CheckOption configures [CheckServed].
type CheckOption func(*checkConfig)

type checkConfig struct {
	interceptors bool
	denied       map[string]bool
	allServed    bool
}

// InterceptorsInstalled tells [CheckServed] that the server runs the
// enforcer's [Enforcer.UnaryServerInterceptor] and
// [Enforcer.StreamServerInterceptor]: then every method the enforcer has
// a rule for is covered, whatever registered it. CheckServed cannot see a
// server's options, so it takes the caller's word, and refuses it when
// the enforcer never made both interceptors.
func InterceptorsInstalled() CheckOption {
	return func(c *checkConfig) { c.interceptors = true }
}

// DeniedOnPurpose names services (full proto names) that are served
// without rules on purpose: under the interceptors every call to them is
// denied (METHOD_NOT_DECLARED), and [CheckServed] does not report them as
// undeclared. Without the interceptors such a service is open and is
// reported all the same.
func DeniedOnPurpose(services ...string) CheckOption {
	return func(c *checkConfig) {
		if c.denied == nil {
			c.denied = map[string]bool{}
		}
		for _, s := range services {
			c.denied[s] = true
		}
	}
}

// AllRulesServed makes a rule for a method the server does not serve an
// error of [CheckServed]. Without it such rules are logged as a warning:
// one enforcer may serve several servers, a gateway and a Connect mux, and
// not every one of them serves every service.
func AllRulesServed() CheckOption {
	return func(c *checkConfig) { c.allServed = true }
}

// ServedError is the error of [CheckServed]: every method that nobody
// covers, by why, in order of name.
type ServedError struct {
	// Unguarded are methods served with no enforcement at all: registered
	// raw (or as a typed NewXxxServerWithAuth wrapper, which CheckServed
	// cannot tell from the implementation) on a server whose interceptors
	// were not declared with [InterceptorsInstalled].
	Unguarded []string
	// Undeclared are methods served under enforcement but without a rule:
	// every call to them is denied with METHOD_NOT_DECLARED — a health or
	// reflection service without its exemption, a service whose generated
	// rules were never added.
	Undeclared []string
	// Unserved are rules of the enforcer for methods the server does not
	// serve; an error only with [AllRulesServed].
	Unserved []string
}

func (e *ServedError) Error() string {
	var parts []string
	if len(e.Unguarded) > 0 {
		parts = append(parts, plural(len(e.Unguarded), "method is", "methods are")+" served with no enforcement (register with RegisterXxxServerWithAuth, or install the enforcer's interceptors and pass InterceptorsInstalled): "+strings.Join(e.Unguarded, ", "))
	}
	if len(e.Undeclared) > 0 {
		parts = append(parts, plural(len(e.Undeclared), "method has", "methods have")+" no rule, so every call is denied (add the service's rules with WithRules, or an exemption such as WithHealthExemption): "+strings.Join(e.Undeclared, ", "))
	}
	if len(e.Unserved) > 0 {
		parts = append(parts, plural(len(e.Unserved), "rule is", "rules are")+" for methods this server does not serve: "+strings.Join(e.Unserved, ", "))
	}
	return "grpcauth: " + strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// CheckServed compares what s serves (GetServiceInfo, such as a
// *grpc.Server's) with the rules and exemptions e knows, both ways, and
// returns a *[ServedError] naming every method nobody covers, or nil.
// Call it once every service is registered: at startup, failing to start
// on an error, and from tests.
//
// A method is covered when s serves it through generated registration
// (RegisterXxxServerWithAuth on s itself) with a rule, or, with
// [InterceptorsInstalled], when e has a rule or an exemption for it. A
// service registered raw on a server without the interceptors is
// Unguarded, however many rules e holds for it; a method enforced without
// a rule is Undeclared, unless its service is [DeniedOnPurpose]. Rules of e
// for methods s does not serve are Unserved: a warning logged by e's
// logger, or an error with [AllRulesServed]. Exemptions that s does not
// serve are not reported.
func CheckServed(s ServiceInfoProvider, e *Enforcer, opts ...CheckOption) error {
	if s == nil || e == nil {
		return fmt.Errorf("%w: CheckServed: nil server or enforcer", ErrInvalidOption)
	}
	var cfg checkConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.interceptors && (!e.served.unary.Load() || !e.served.stream.Load()) {
		return fmt.Errorf("%w: CheckServed: InterceptorsInstalled, but this enforcer never made its UnaryServerInterceptor and StreamServerInterceptor", ErrInvalidOption)
	}
	var out ServedError
	served := map[string]bool{}
	for svc, info := range s.GetServiceInfo() {
		generated := e.served.has(s, svc)
		for _, m := range info.Methods {
			full := "/" + svc + "/" + m.Name
			served[full] = true
			switch {
			case !generated && !cfg.interceptors:
				out.Unguarded = append(out.Unguarded, full)
			case e.rule(full) != nil:
			case !generated && cfg.denied[svc]:
			default:
				out.Undeclared = append(out.Undeclared, full)
			}
		}
	}
	for full, r := range *e.table.Load() {
		if !served[full] && r.own.Source != "runtime exemption" {
			out.Unserved = append(out.Unserved, full)
		}
	}
	slices.Sort(out.Unguarded)
	slices.Sort(out.Undeclared)
	slices.Sort(out.Unserved)
	if len(out.Unserved) > 0 && !cfg.allServed {
		if e.logger != nil {
			e.logger.LogAttrs(context.Background(), slog.LevelWarn, "grpcauth: rules for methods this server does not serve",
				slog.String("methods", strings.Join(out.Unserved, ",")))
		}
		out.Unserved = nil
	}
	if len(out.Unguarded)+len(out.Undeclared)+len(out.Unserved) == 0 {
		return nil
	}
	return &out
}
