// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/introspection"
)

// The parts of an introspection endpoint's URL that may hold a secret.
const (
	secretEndpointPath  = "SECRET-PATH-VALUE-999"
	secretEndpointQuery = "SECRET-QUERY-VALUE-456"
)

// unreachableEndpoints are introspection endpoints that fail at the
// network: none listening, a connection closed at once, a certificate
// the client does not trust, no answer in time. Each URL holds secrets
// in its path and query.
func unreachableEndpoints(t *testing.T) map[string]string {
	t.Helper()
	withSecrets := func(hostport string) string {
		return "https://" + hostport + "/" + secretEndpointPath + "/introspect?api_key=" + secretEndpointQuery
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	refused := listen()
	refusedAddr := refused.Addr().String()
	refused.Close()

	reset := listen()
	go func() {
		for {
			c, err := reset.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	hang := listen()
	held := make(chan net.Conn, 16)
	accepting := make(chan struct{})
	t.Cleanup(func() {
		// The listener first, and the accept loop gone, before the channel
		// it sends on is closed.
		hang.Close()
		<-accepting
		close(held)
		for c := range held {
			c.Close()
		}
	})
	go func() {
		defer close(accepting)
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c:
			default:
				c.Close()
			}
		}
	}()

	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"active":true,"sub":"mallory","scope":"s"}`)
	}))
	tlsCfg, err := newTestCA(t, "untrusted endpoint CA").ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	untrusted.TLS = tlsCfg
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)

	return map[string]string{
		"refused":               withSecrets(refusedAddr),
		"closed_at_once":        withSecrets(reset.Addr().String()),
		"no_answer":             withSecrets(hang.Addr().String()),
		"untrusted_certificate": withSecrets(untrusted.Listener.Addr().String()),
	}
}

// TestIntrospectionEndpointURLNotLogged: when the introspection endpoint
// cannot be reached, the call fails closed (14 AUTH_BACKEND_UNAVAILABLE)
// and neither the log, the audit detail nor the status holds the
// endpoint's URL, whose path or query may hold a secret (net/http's
// errors quote it).
func TestIntrospectionEndpointURLNotLogged(t *testing.T) {
	for name, endpoint := range unreachableEndpoints(t) {
		t.Run(name, func(t *testing.T) {
			f := newKindsFixture(t, modeRegister, kindsOptions{introspectionOpts: []introspection.Option{
				introspection.Endpoint(endpoint),
				introspection.Timeout(500 * time.Millisecond),
			}})
			token := f.in.Issue("bob", []string{"s"}, "library", time.Hour, nil)
			for _, k := range withStreams(callOAuth2) {
				err := f.wantDenied(t, k, bearerMD(token), f.client, codes.Unavailable, runtime.ReasonAuthBackendUnavailable)
				sent := fmt.Sprint(status.Convert(err).Proto())
				for _, s := range []string{secretEndpointPath, secretEndpointQuery} {
					if strings.Contains(sent, s) {
						t.Errorf("%s: the status holds the endpoint URL: %s", k.name, sent)
					}
				}
			}
			f.noSecrets(t, secretEndpointPath, secretEndpointQuery, token)
			if log := f.log.String(); !strings.Contains(log, "detail=") {
				t.Errorf("no log line's detail says why:\n%s", log)
			}
		})
	}
}
