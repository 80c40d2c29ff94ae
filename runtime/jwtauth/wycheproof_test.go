// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
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

// wycheproofSignatures is a Wycheproof file of signature vectors: a key
// per group (as DER), a message and a signature per test.
type wycheproofSignatures struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		PublicKeyDer string `json:"publicKeyDer"`
		Tests        []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			Msg     string `json:"msg"`
			Sig     string `json:"sig"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofSignatures runs Wycheproof's signature vectors of every
// algorithm a token may use through the verification tokens get: the key
// through the key-set policy (as a JWK of a set of one), keyFitsAlg, then
// the signature over the message as if it were a token's signing input.
// Vectors in a form or with a salt JWS does not use must be refused even
// where Wycheproof calls them valid: ECDSA in DER, PSS salts other than the
// hash's length. (TestSecurity12_Wycheproof checks the same rules with its
// own verifier; this runs them through the package's.) The files come from
// the Wycheproof module, downloaded into the module cache as that test
// does.
func TestWycheproofSignatures(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not available: %v", err)
	}
	cmd := exec.Command(goTool, "mod", "download", "-json", "github.com/c2sp/wycheproof@v0.0.0-20260902155932-3fa63dd0344a")
	cmd.Dir = t.TempDir() // outside any module: go.mod and go.sum stay untouched
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || err != nil || mod.Error != "" || mod.Dir == "" {
		t.Fatalf("go mod download: want the module directory, got %v %s %s", err, mod.Error, out)
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(asymmetric))
	for a := range asymmetric {
		algs = append(algs, a)
	}
	// A vector of a refused form that is a JWS signature after all.
	jwsValid := map[string]int{"rsa_pss_2048_sha256_mgf1_0_test.json": 69} // salt 32, PS256's
	files := []struct {
		alg          string
		name         string
		validRefused bool
	}{
		{"ES256", "ecdsa_secp256r1_sha256_p1363_test.json", false},
		{"ES384", "ecdsa_secp384r1_sha384_p1363_test.json", false},
		{"ES512", "ecdsa_secp521r1_sha512_p1363_test.json", false},
		{"EdDSA", "ed25519_test.json", false},
		{"RS256", "rsa_signature_2048_sha256_test.json", false},
		{"RS256", "rsa_signature_4096_sha256_test.json", false},
		{"RS384", "rsa_signature_3072_sha384_test.json", false},
		{"RS512", "rsa_signature_4096_sha512_test.json", false},
		{"PS256", "rsa_pss_2048_sha256_mgf1_32_test.json", false},
		{"PS256", "rsa_pss_3072_sha256_mgf1_32_test.json", false},
		{"PS384", "rsa_pss_2048_sha384_mgf1_48_test.json", false},
		{"PS512", "rsa_pss_4096_sha512_mgf1_64_test.json", false},
		{"ES256", "ecdsa_secp256r1_sha256_test.json", true},      // DER
		{"PS256", "rsa_pss_2048_sha256_mgf1_0_test.json", true},  // salt 0
		{"PS512", "rsa_pss_4096_sha512_mgf1_32_test.json", true}, // salt 32, not 64
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(mod.Dir, "testvectors_v1", f.name))
			if err != nil {
				t.Fatal(err)
			}
			var vf wycheproofSignatures
			if err := json.Unmarshal(data, &vf); err != nil {
				t.Fatal(err)
			}
			ran, accepted := 0, 0
			for _, g := range vf.TestGroups {
				der, err := hex.DecodeString(g.PublicKeyDer)
				if err != nil {
					t.Fatal(err)
				}
				pub, err := x509.ParsePKIXPublicKey(der)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(jose.JSONWebKey{Key: pub, Use: "sig"})
				if err != nil {
					t.Fatal(err)
				}
				km, skipped, _ := buildKeyMap([]json.RawMessage{raw}, algs)
				if len(km.noKID) != 1 {
					t.Fatalf("the key-set policy refuses the group's key: %+v", skipped)
				}
				key := km.noKID[0]
				for _, tc := range g.Tests {
					msg, err1 := hex.DecodeString(tc.Msg)
					sig, err2 := hex.DecodeString(tc.Sig)
					if err1 != nil || err2 != nil {
						t.Fatalf("tcId %d: bad hex", tc.TcID)
					}
					s := signature{alg: f.alg, input: string(msg), sig: sig}
					got := keyFitsAlg(key, f.alg) && s.verify(key.Key)
					ran++
					if got {
						accepted++
					}
					switch {
					case got && jwsValid[f.name] == tc.TcID:
					case got && (f.validRefused || tc.Result == "invalid"):
						t.Errorf("tcId %d (%s, %s): want refused, got accepted", tc.TcID, tc.Comment, tc.Result)
					case !got && !f.validRefused && tc.Result == "valid":
						t.Errorf("tcId %d (%s): want accepted, got refused", tc.TcID, tc.Comment)
					}
				}
			}
			if ran != vf.NumberOfTests {
				t.Errorf("ran %d vectors; the file has %d", ran, vf.NumberOfTests)
			}
			t.Logf("%s: %d vectors, %d accepted", f.alg, ran, accepted)
		})
	}
}
