// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// wycheproofJOSE is a Wycheproof file of JsonWebSignature or JsonWebKey
// vectors (testdata/wycheproof). A group's public key is one JWK
// (signature vectors) or a JWK set (key vectors); a group with only a
// private key has a symmetric one: HMAC, or AES.
type wycheproofJOSE struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Comment string          `json:"comment"`
		Public  json.RawMessage `json:"public"`
		Private json.RawMessage `json:"private"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			JWS     string   `json:"jws"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// wycheproofVerify is the authenticator's verification of a compact JWS
// without its claims (the vectors' payloads are not JWT claims): the
// parse, an asymmetric algorithm, the key of km the kid names, that key
// fitting the algorithm, the signature. It returns the step that refused.
func wycheproofVerify(km *keyMap, jws string) (ok bool, step string) {
	t, _, derr := parseCompact(jws)
	switch {
	case derr != nil:
		return false, "parse: " + derr.Message
	case !asymmetric[jose.SignatureAlgorithm(t.header.alg)]:
		return false, "algorithm " + t.header.alg
	}
	key, err := km.find(t.header.kid)
	switch {
	case err != nil:
		return false, "key: " + err.Error()
	case !keyFitsAlg(key, t.header.alg):
		return false, "the key does not fit " + t.header.alg
	case !t.verify(key.Key):
		return false, "signature"
	}
	return true, ""
}

// TestWycheproofJOSE runs Wycheproof's JWS and JWK vectors through the
// token parser, the key-set policy (every asymmetric algorithm allowed)
// and the signature check. A vector marked valid is accepted and one
// marked invalid refused, but for the groups whose only key is symmetric
// (HMAC, AES: never verified here; their vectors are all refused, and
// counted as skipped) and the few valid vectors whose key the policy
// refuses (listed, with why). The counts are asserted, so that a change
// of coverage shows.
func TestWycheproofJOSE(t *testing.T) {
	algs := make([]jose.SignatureAlgorithm, 0, len(asymmetric))
	for a := range asymmetric {
		algs = append(algs, a)
	}
	// Valid vectors refused on purpose: a key with an alg is only for
	// that alg (RFC 7517 §4.4).
	policy := map[string]map[int]string{
		"json_web_signature_test.json": {
			346: "the key's alg PS256 is not the token's PS384",
			350: "the key's alg PS256 is not the token's PS384",
			347: "the key's alg ES521 is no JOSE algorithm (ES512 is P-521's)",
			351: "the key's alg ES521 is no JOSE algorithm (ES512 is P-521's)",
		},
		"json_web_key_test.json": {},
	}
	type counts struct{ vectors, accepted, refused, policyRefused, skipped int }
	want := map[string]counts{
		"json_web_signature_test.json": {vectors: 401, accepted: 32, refused: 325, policyRefused: 4, skipped: 40},
		"json_web_key_test.json":       {vectors: 26, accepted: 1, refused: 10, policyRefused: 0, skipped: 15},
	}
	for file, wantCounts := range want {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "wycheproof", file))
			if err != nil {
				t.Fatal(err)
			}
			var vf wycheproofJOSE
			if err := json.Unmarshal(data, &vf); err != nil {
				t.Fatal(err)
			}
			var got counts
			for _, g := range vf.TestGroups {
				set := g.Public
				if set == nil {
					set = g.Private
				}
				var raws []json.RawMessage
				var keys struct {
					Keys []json.RawMessage `json:"keys"`
				}
				if err := json.Unmarshal(set, &keys); err == nil && keys.Keys != nil {
					raws = keys.Keys
				} else {
					raws = []json.RawMessage{set}
				}
				km, _, _ := buildKeyMap(raws, algs)
				for _, tc := range g.Tests {
					got.vectors++
					ok, step := wycheproofVerify(km, tc.JWS)
					why, refusedByPolicy := policy[file][tc.TcID]
					switch {
					case ok && tc.Result != "valid":
						t.Errorf("tcId %d (%s, %s %v): want refused, got accepted", tc.TcID, g.Comment, tc.Comment, tc.Flags)
					case g.Public == nil:
						got.skipped++
						if ok {
							t.Errorf("tcId %d (%s): a vector of a symmetric key accepted", tc.TcID, g.Comment)
						}
					case refusedByPolicy:
						got.policyRefused++
						if ok {
							t.Errorf("tcId %d (%s): want refused (%s), got accepted", tc.TcID, tc.Comment, why)
						}
						t.Logf("tcId %d (%s, valid) refused by the key-set policy: %s; refused at: %s", tc.TcID, tc.Comment, why, step)
					case ok:
						got.accepted++
					case tc.Result == "valid":
						t.Errorf("tcId %d (%s, %s): want accepted, got refused at: %s", tc.TcID, g.Comment, tc.Comment, step)
					default:
						got.refused++
					}
				}
			}
			if got.vectors != vf.NumberOfTests {
				t.Errorf("ran %d vectors; the file has %d", got.vectors, vf.NumberOfTests)
			}
			if got != wantCounts {
				t.Errorf("counts: got %+v, want %+v", got, wantCounts)
			}
			t.Logf("%+v", got)
		})
	}
}
