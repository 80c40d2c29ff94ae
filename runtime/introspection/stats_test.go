// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

type backendCalls struct {
	mu    sync.Mutex
	calls []runtime.BackendCall
}

func (b *backendCalls) ObserveBackend(c runtime.BackendCall) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, c)
}

// TestObserverAndCacheStats: every request to the endpoint is observed
// with its result, and the cache counts hits, misses and evictions.
func TestObserverAndCacheStats(t *testing.T) {
	clock := newClock()
	active := `{"active":true,"sub":"alice","exp":` + strconv.FormatInt(clock.Unix(time.Hour), 10) + `}`
	s := newServer(t, clock, reply(active))
	obs := &backendCalls{}
	a := newAuth(t, s, introspection.Observer(obs), introspection.CacheSize(1))
	ctx := context.Background()
	for _, tok := range []string{"t1", "t1", "t2"} { // miss, hit, miss and evict t1
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	s.setAnswer(reply(`{"active":false}`))
	_, _ = a.Authenticate(ctx, "t3")
	s.setAnswer(replyStatus(http.StatusInternalServerError))
	_, _ = a.Authenticate(ctx, "t4")
	var results []string
	for _, c := range obs.calls {
		if c.Backend != "introspection" || c.Kind != runtime.OAuth2Token || c.Duration <= 0 {
			t.Errorf("call %+v", c)
		}
		results = append(results, c.Result)
	}
	if got, want := results, []string{"active", "active", "inactive", "error"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("results %v; want %v", got, want)
	}
	st := a.CacheStats()
	if st.Hits != 1 || st.Misses != 4 || st.Evictions != 1 || st.Entries != 1 || st.Capacity != 1 {
		t.Errorf("stats = %+v; want 1 hit, 4 misses, 1 eviction, 1 entry of 1", st)
	}
	if _, err := introspection.New(introspection.Observer(nil)); err == nil {
		t.Error("Observer(nil) accepted")
	}
}
