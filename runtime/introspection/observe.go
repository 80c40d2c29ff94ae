// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Observer tells o of every request to the endpoint — how long it took and
// whether the token was active, inactive, or no answer came ("error") —
// for metrics (an *otelauth.Telemetry). o is called on the goroutine that
// made the request, which serves every call sharing it, after the answer:
// it must not block (see runtime.BackendObserver).
func Observer(o runtime.BackendObserver) Option {
	return func(c *config) error {
		if o == nil {
			return errorf("Observer: nil observer")
		}
		c.observer = o
		return nil
	}
}

// introspectObserved is introspect, told to the observer.
func (a *Authenticator) introspectObserved(token string) (*response, error) {
	if a.cfg.observer == nil {
		return a.introspect(token)
	}
	start := time.Now()
	r, err := a.introspect(token)
	call := runtime.BackendCall{Backend: "introspection", Kind: runtime.OAuth2Token, Duration: time.Since(start), Result: "active"}
	switch {
	case err != nil:
		call.Result = "error"
	case !r.Active:
		call.Result = "inactive"
	}
	a.cfg.observer.ObserveBackend(call)
	return r, err
}
