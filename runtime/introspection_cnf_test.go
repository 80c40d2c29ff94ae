// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	grpcauthtestv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/grpcauthtest/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// TestSecurity47_CertificateBoundOpaqueToken: an opaque token whose
// introspection answer binds it to a client certificate (RFC 8705 §3.2,
// cnf.x5t#S256) is accepted over a connection that presented that
// certificate, and refused, 16, over one that presented another or none;
// a confirmation method the server cannot verify (cnf.jkt, DPoP), a cnf
// that is not an object and a thumbprint that is not a canonical base64url
// SHA-256 are refused with the reasons jwtauth gives them. Unary and
// streaming.
func TestSecurity47_CertificateBoundOpaqueToken(t *testing.T) {
	kindsModes(t, func(t *testing.T, m mode) {
		f := newKindsFixture(t, m, kindsOptions{})
		thumbA := runtime.CertificateThumbprint(f.certA.Leaf)
		issue := func(cnf any) string {
			return f.in.Issue("bob", []string{"s"}, "library", time.Hour, map[string]any{"cnf": cnf})
		}
		// The same 32 bytes as thumbA, spelled another way: the last
		// character with its two unused low bits set, and with padding.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		loose := thumbA[:len(thumbA)-1] + string(alphabet[strings.IndexByte(alphabet, thumbA[len(thumbA)-1])|3])
		for _, k := range append(withStreams(callOAuth2), callAny) {
			// A fresh token per call, so that each case is decided on
			// the endpoint's answer, not the cache (tested below).
			t.Run("same_certificate/"+k.name, func(t *testing.T) {
				f.wantAllowed(t, k, bearerMD(issue(map[string]any{"x5t#S256": thumbA})), f.clientA, runtime.OAuth2Token, "bob")
			})
			for _, c := range []struct {
				name   string
				cnf    any
				client grpcauthtestv1.KindsClient
				reason runtime.Reason
			}{
				{"other_certificate", map[string]any{"x5t#S256": thumbA}, f.clientB, runtime.ReasonCredentialsInvalid},
				{"no_certificate", map[string]any{"x5t#S256": thumbA}, f.client, runtime.ReasonCredentialsInvalid},
				{"dpop_jkt", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"x5t_and_jkt", map[string]any{"x5t#S256": thumbA, "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"empty_cnf", map[string]any{}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"cnf_not_object", "x5t#S256", f.clientA, runtime.ReasonClaimsInvalid},
				{"cnf_null", json.RawMessage("null"), f.clientA, runtime.ReasonClaimsInvalid},
				{"thumbprint_not_string", map[string]any{"x5t#S256": 7}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"thumbprint_padding_bits", map[string]any{"x5t#S256": loose}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"thumbprint_padded", map[string]any{"x5t#S256": thumbA + "="}, f.clientA, runtime.ReasonCredentialsInvalid},
				{"thumbprint_std_alphabet_hex", map[string]any{"x5t#S256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, f.clientA, runtime.ReasonCredentialsInvalid},
			} {
				t.Run(c.name+"/"+k.name, func(t *testing.T) {
					f.wantDenied(t, k, bearerMD(issue(c.cnf)), c.client, codes.Unauthenticated, c.reason)
				})
			}
		}

		t.Run("cache_hit_on_another_connection", func(t *testing.T) {
			token := issue(map[string]any{"x5t#S256": thumbA})
			f.wantAllowed(t, callOAuth2, bearerMD(token), f.clientA, runtime.OAuth2Token, "bob")
			requests := f.in.Requests()
			for _, k := range append(withStreams(callOAuth2), callAny) {
				f.wantDenied(t, k, bearerMD(token), f.clientB, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
				f.wantDenied(t, k, bearerMD(token), f.client, codes.Unauthenticated, runtime.ReasonCredentialsInvalid)
				f.wantAllowed(t, k, bearerMD(token), f.clientA, runtime.OAuth2Token, "bob")
			}
			if n := f.in.Requests() - requests; n != 0 {
				t.Errorf("%d introspection requests after the first call; want 0 (every later call is a cache hit)", n)
			}
		})
	})
}
