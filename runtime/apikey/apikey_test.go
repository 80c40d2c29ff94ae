// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/apikey"
)

// Fixed keys, in the format NewKey returns.
const (
	keyExporter  = "gak_exporterAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	keyExporter2 = "gak_exporterBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	keyReader    = "gak_readerCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
	keyUnknown   = "gak_unknownDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
)

func mustNew(t testing.TB, clients ...apikey.Client) *apikey.Store {
	t.Helper()
	s, err := apikey.New(clients)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// wantPrincipal asserts that key authenticates as subject with scopes.
func wantPrincipal(t testing.TB, s *apikey.Store, key, subject string, scopes ...string) {
	t.Helper()
	p, err := s.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatalf("Authenticate(%s): %v", label(key), err)
	}
	if p == nil || p.Kind != runtime.APIKey || p.Subject != subject || !slices.Equal(p.Scopes, scopes) {
		t.Fatalf("Authenticate(%s) = %+v; want kind API_KEY, subject %q, scopes %q", label(key), p, subject, scopes)
	}
}

// wantDenied asserts that key is refused with reason, and that nothing the
// caller or the log sees holds the key or its digest.
func wantDenied(t testing.TB, s *apikey.Store, key string, reason runtime.Reason) {
	t.Helper()
	p, err := s.Authenticate(context.Background(), key)
	if p != nil {
		t.Fatalf("Authenticate(%s) = %+v; want no principal", label(key), p)
	}
	var e *runtime.Error
	if !errors.As(err, &e) {
		t.Fatalf("Authenticate(%s) error = %v (%T); want *runtime.Error", label(key), err, err)
	}
	if e.Reason != reason {
		t.Fatalf("Authenticate(%s) reason = %s; want %s", label(key), e.Reason, reason)
	}
	if e.Code != reason.Code() {
		t.Fatalf("Authenticate(%s) code = %s; want %s", label(key), e.Code, reason.Code())
	}
	assertNoSecret(t, key, e.Error(), e.Message, e.Detail, fmt.Sprint(e.Metadata))
}

// assertNoSecret fails if any text holds key (when it is long enough to be
// told from ordinary words) or its digest.
func assertNoSecret(t testing.TB, key string, texts ...string) {
	t.Helper()
	digest := apikey.Hash(key)
	for _, text := range texts {
		if strings.Contains(text, digest) || (len(key) >= 12 && strings.Contains(text, key)) {
			t.Fatalf("%q holds the key or its digest", text)
		}
	}
}

func label(key string) string {
	if len(key) > 16 {
		return fmt.Sprintf("%.16q… (%d bytes)", key, len(key))
	}
	return fmt.Sprintf("%q", key)
}

func wantConfigError(t testing.TB, err error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want one wrapping ErrInvalidOption")
	}
	if !errors.Is(err, apikey.ErrInvalidOption) {
		t.Fatalf("error %q does not wrap ErrInvalidOption", err)
	}
	if !strings.HasPrefix(err.Error(), "apikey: invalid option: ") {
		t.Fatalf("error %q does not start with the package's sentinel text", err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q does not contain %q", err, c)
		}
	}
}

// SECURITY-CASES 38: missing → 16 (MALFORMED), unknown → 16
// (CREDENTIALS_INVALID), known → the client's principal.
func TestAuthenticate(t *testing.T) {
	s := mustNew(t,
		apikey.Client{Name: "exporter", Scopes: []string{"export", "library.read"}, KeySHA256: []string{apikey.Hash(keyExporter)}},
		apikey.Client{Name: "reader", KeySHA256: []string{apikey.Hash(keyReader)}},
	)
	wantPrincipal(t, s, keyExporter, "exporter", "export", "library.read")
	wantPrincipal(t, s, keyReader, "reader")
	wantDenied(t, s, "", runtime.ReasonCredentialsMalformed)
	wantDenied(t, s, keyUnknown, runtime.ReasonCredentialsInvalid)
	wantDenied(t, s, keyExporter+" ", runtime.ReasonCredentialsInvalid)
	wantDenied(t, s, keyExporter[:len(keyExporter)-1], runtime.ReasonCredentialsInvalid)
	wantDenied(t, s, strings.ToUpper(keyExporter), runtime.ReasonCredentialsInvalid)
	wantDenied(t, s, apikey.Hash(keyExporter), runtime.ReasonCredentialsInvalid) // the digest is not the key
	wantDenied(t, s, strings.Repeat("k", apikey.MaxKeySize+1), runtime.ReasonCredentialsMalformed)
	wantDenied(t, s, strings.Repeat("k", apikey.MaxKeySize), runtime.ReasonCredentialsInvalid)

	// Each principal has its own copy of the scopes.
	p, _ := s.Authenticate(context.Background(), keyExporter)
	p.Scopes[0] = "admin"
	wantPrincipal(t, s, keyExporter, "exporter", "export", "library.read")

	wantDenied(t, &apikey.Store{}, keyExporter, runtime.ReasonCredentialsInvalid) // the zero store has no clients
}

// New copies its input: changing the caller's slices afterwards changes
// nothing.
func TestNewCopiesClients(t *testing.T) {
	clients := []apikey.Client{{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter)}}}
	s := mustNew(t, clients...)
	clients[0].Name = "root"
	clients[0].Scopes[0] = "admin"
	clients[0].KeySHA256[0] = apikey.Hash(keyUnknown)
	wantPrincipal(t, s, keyExporter, "exporter", "export")
	wantDenied(t, s, keyUnknown, runtime.ReasonCredentialsInvalid)
}

// SECURITY-CASES 39: no keys configured → every call 16; an empty key never
// matches, and the digest of the empty key is refused at setup.
func TestNoClients(t *testing.T) {
	for _, clients := range [][]apikey.Client{nil, {}} {
		s := mustNew(t, clients...)
		for _, key := range []string{keyExporter, keyUnknown, "x", " ", "\x00"} {
			wantDenied(t, s, key, runtime.ReasonCredentialsInvalid)
		}
		wantDenied(t, s, "", runtime.ReasonCredentialsMalformed)
	}
	path := writeFile(t, t.TempDir(), `{"clients":[]}`)
	s, err := apikey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantDenied(t, s, keyExporter, runtime.ReasonCredentialsInvalid)

	_, err = apikey.New([]apikey.Client{{Name: "anyone", KeySHA256: []string{apikey.Hash("")}}})
	wantConfigError(t, err, `client "anyone"`, "digest of the empty key")
	assertNoSecret(t, "", err.Error())
}

// SECURITY-CASES 41: fixed-length digests, checked at setup; the store
// holds no key.
func TestHash(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, key := range []string{"", "a", keyExporter, strings.Repeat("x", 5000)} {
		if h := apikey.Hash(key); !hexRE.MatchString(h) {
			t.Errorf("Hash(%s) = %q; want 64 lowercase hex characters", label(key), h)
		}
	}
	// The well-known SHA-256 of "abc": the same value as sha256sum.
	if got, want := apikey.Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash(abc) = %s; want %s", got, want)
	}
	if apikey.Hash(keyExporter) == apikey.Hash(keyExporter2) {
		t.Error("two keys have the same digest")
	}
}

func TestNewKey(t *testing.T) {
	keyRE := regexp.MustCompile(`^gak_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 100 {
		k, err := apikey.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !keyRE.MatchString(k) {
			t.Fatalf("NewKey() = %q; want gak_ and 43 base64url characters", k)
		}
		if seen[k] {
			t.Fatalf("NewKey returned %q twice", k)
		}
		seen[k] = true
	}
	k, _ := apikey.NewKey()
	s := mustNew(t, apikey.Client{Name: "fresh", KeySHA256: []string{apikey.Hash(k)}})
	wantPrincipal(t, s, k, "fresh")
}

func TestSetupErrors(t *testing.T) {
	good := apikey.Hash(keyExporter)
	tests := []struct {
		name     string
		clients  []apikey.Client
		contains []string
	}{
		{"empty name", []apikey.Client{{KeySHA256: []string{good}}}, []string{"clients[0]", "empty name"}},
		{"control character in name", []apikey.Client{{Name: "a\nb", KeySHA256: []string{good}}}, []string{`"a\nb"`, "control character"}},
		{"invalid UTF-8 name", []apikey.Client{{Name: "a\xff", KeySHA256: []string{good}}}, []string{"clients[0]", "UTF-8"}},
		{"duplicate name", []apikey.Client{
			{Name: "exporter", KeySHA256: []string{good}},
			{Name: "exporter", KeySHA256: []string{apikey.Hash(keyReader)}},
		}, []string{`client "exporter"`, "used twice"}},
		{"empty scope", []apikey.Client{{Name: "exporter", Scopes: []string{"a", ""}, KeySHA256: []string{good}}}, []string{`client "exporter"`, "scopes[1] is empty"}},
		{"scope with a space", []apikey.Client{{Name: "exporter", Scopes: []string{"a b"}, KeySHA256: []string{good}}}, []string{`client "exporter"`, `"a b"`, "whitespace"}},
		{"scope with a tab", []apikey.Client{{Name: "exporter", Scopes: []string{"a\tb"}, KeySHA256: []string{good}}}, []string{`client "exporter"`, "whitespace"}},
		{"no digest", []apikey.Client{{Name: "exporter"}}, []string{`client "exporter"`, "no key digest"}},
		{"three digests", []apikey.Client{{Name: "exporter", KeySHA256: []string{good, apikey.Hash(keyExporter2), apikey.Hash(keyReader)}}}, []string{`client "exporter"`, "3 key digests", "at most 2"}},
		{"short digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{good[:63]}}}, []string{`client "exporter"`, "key_sha256[0]", "63 characters", "want 64"}},
		{"long digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{good + "0"}}}, []string{`client "exporter"`, "65 characters"}},
		{"plaintext key instead of digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{keyExporter}}}, []string{`client "exporter"`, "want 64"}},
		{"upper-case digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{strings.ToUpper(good)}}}, []string{`client "exporter"`, "not lowercase hex"}},
		{"non-hex digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{"g" + good[1:]}}}, []string{`client "exporter"`, "not lowercase hex"}},
		{"same digest twice", []apikey.Client{{Name: "exporter", KeySHA256: []string{good, good}}}, []string{`client "exporter"`, "listed twice"}},
		{"digest shared by two clients", []apikey.Client{
			{Name: "exporter", KeySHA256: []string{good}},
			{Name: "reader", KeySHA256: []string{apikey.Hash(keyReader), good}},
		}, []string{`client "reader"`, `client "exporter"`, "key_sha256[1]"}},
		{"empty key digest", []apikey.Client{{Name: "exporter", KeySHA256: []string{apikey.Hash("")}}}, []string{`client "exporter"`, "empty key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := apikey.New(tt.clients)
			if s != nil {
				t.Errorf("New returned a store with error %v", err)
			}
			wantConfigError(t, err, tt.contains...)
			for _, c := range tt.clients {
				for _, h := range c.KeySHA256 {
					if len(h) > 8 && strings.Contains(err.Error(), h) {
						t.Errorf("error %q holds a configured digest", err)
					}
				}
			}
			assertNoSecret(t, keyExporter, err.Error())

			// Replace refuses the same set and keeps the one in use.
			s = mustNew(t, apikey.Client{Name: "keep", KeySHA256: []string{apikey.Hash(keyUnknown)}})
			wantConfigError(t, s.Replace(tt.clients), tt.contains...)
			wantPrincipal(t, s, keyUnknown, "keep")
		})
	}
}

// Rotation: both keys of a client work; a third is a setup error that
// names the client.
func TestRotation(t *testing.T) {
	old := apikey.Client{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter)}}
	s := mustNew(t, old)
	// Step 1: add the new key next to the old one.
	both := old
	both.KeySHA256 = []string{apikey.Hash(keyExporter), apikey.Hash(keyExporter2)}
	if err := s.Replace([]apikey.Client{both}); err != nil {
		t.Fatal(err)
	}
	wantPrincipal(t, s, keyExporter, "exporter", "export")
	wantPrincipal(t, s, keyExporter2, "exporter", "export")
	// A third key is refused, naming the client; the two keep working.
	three := both
	three.KeySHA256 = append(slices.Clone(both.KeySHA256), apikey.Hash(keyReader))
	wantConfigError(t, s.Replace([]apikey.Client{three}), `client "exporter"`, "3 key digests")
	_, err := apikey.New([]apikey.Client{three})
	wantConfigError(t, err, `client "exporter"`)
	wantPrincipal(t, s, keyExporter, "exporter", "export")
	wantPrincipal(t, s, keyExporter2, "exporter", "export")
	wantDenied(t, s, keyReader, runtime.ReasonCredentialsInvalid)
	// Step 2: drop the old key.
	newOnly := old
	newOnly.KeySHA256 = []string{apikey.Hash(keyExporter2)}
	if err := s.Replace([]apikey.Client{newOnly}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, s, keyExporter, runtime.ReasonCredentialsInvalid)
	wantPrincipal(t, s, keyExporter2, "exporter", "export")
}

// SECURITY-CASES 41 and 64: the store holds digests only. Every string and
// byte reachable from the store, unexported fields and atomic pointers
// included, is searched for the plaintext keys.
func TestStoreHoldsNoKey(t *testing.T) {
	clients := []apikey.Client{
		{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter), apikey.Hash(keyExporter2)}},
		{Name: "reader", KeySHA256: []string{apikey.Hash(keyReader)}},
	}
	fromNew := mustNew(t, clients...)
	fromFile, err := apikey.LoadFile(writeFile(t, t.TempDir(), fileJSON(clients...)))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*apikey.Store{"New": fromNew, "LoadFile": fromFile} {
		// Authenticate first: nothing may be kept from a presented key.
		for _, k := range []string{keyExporter, keyExporter2, keyReader} {
			if _, err := s.Authenticate(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		var strs []string
		var raw []byte
		collect(reflect.ValueOf(s), map[uintptr]bool{}, &strs, &raw)
		if len(strs) == 0 || len(raw) < 3*32 {
			t.Fatalf("%s: the walk found %d strings and %d bytes; it does not see the store's content", name, len(strs), len(raw))
		}
		if !slices.Contains(strs, "exporter") {
			t.Fatalf("%s: the walk did not find the client names in %q", name, strs)
		}
		all := strings.Join(strs, "\x00") + "\x00" + string(raw) + "\x00" + fmt.Sprintf("%+v %#v", s, s)
		for _, k := range []string{keyExporter, keyExporter2, keyReader} {
			if strings.Contains(all, k) || strings.Contains(all, k[4:20]) {
				t.Errorf("%s: the store holds the plaintext key %s", name, label(k))
			}
		}
	}
}

// collect gathers every string and every byte of byte arrays and slices
// reachable from v, following pointers, including those inside
// sync/atomic.Pointer.
func collect(v reflect.Value, seen map[uintptr]bool, strs *[]string, raw *[]byte) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		collect(v.Elem(), seen, strs, raw)
	case reflect.Interface:
		if !v.IsNil() {
			collect(v.Elem(), seen, strs, raw)
		}
	case reflect.Struct:
		typ := v.Type()
		if typ.PkgPath() == "sync/atomic" && strings.HasPrefix(typ.Name(), "Pointer[") {
			// atomic.Pointer[T] is {_ [0]*T; _ noCopy; v unsafe.Pointer}.
			elem := typ.Field(0).Type.Elem() // *T
			for i := range typ.NumField() {
				if f := v.Field(i); f.Kind() == reflect.UnsafePointer && f.UnsafePointer() != nil {
					collect(reflect.NewAt(elem.Elem(), f.UnsafePointer()), seen, strs, raw)
				}
			}
			return
		}
		for i := range v.NumField() {
			collect(v.Field(i), seen, strs, raw)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			for i := range v.Len() {
				*raw = append(*raw, byte(v.Index(i).Uint()))
			}
			return
		}
		for i := range v.Len() {
			collect(v.Index(i), seen, strs, raw)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			collect(it.Key(), seen, strs, raw)
			collect(it.Value(), seen, strs, raw)
		}
	case reflect.String:
		*strs = append(*strs, v.String())
	}
}

// writeFile writes content to keys.json in dir, atomically (write and
// rename), so that a concurrent reader sees the old file or the new one.
// It returns the path.
func writeFile(t testing.TB, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "keys.json")
	tmp, err := os.CreateTemp(dir, "keys-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileJSON renders clients in the key file format.
func fileJSON(clients ...apikey.Client) string {
	var b strings.Builder
	b.WriteString(`{"clients": [`)
	for i, c := range clients {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  {\"name\": %q, \"scopes\": [%s], \"key_sha256\": [%s]}", c.Name, quoteAll(c.Scopes), quoteAll(c.KeySHA256))
	}
	b.WriteString("\n]}\n")
	return b.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Sets A and B of the reload tests: "exporter" rotates from keyExporter to
// keyExporter2, "reader" is in both, "legacy" only in A.
var (
	setA = []apikey.Client{
		{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter)}},
		{Name: "reader", Scopes: []string{"library.read"}, KeySHA256: []string{apikey.Hash(keyReader)}},
		{Name: "legacy", KeySHA256: []string{apikey.Hash(keyUnknown)}},
	}
	setB = []apikey.Client{
		{Name: "exporter", Scopes: []string{"export", "library.read"}, KeySHA256: []string{apikey.Hash(keyExporter2)}},
		{Name: "reader", Scopes: []string{"library.read"}, KeySHA256: []string{apikey.Hash(keyReader)}},
	}
)

func TestLoadFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), `{"clients": [
	  {"name": "exporter", "scopes": ["export"], "key_sha256": ["`+apikey.Hash(keyExporter)+`", "`+apikey.Hash(keyExporter2)+`"]},
	  {"name": "reader", "key_sha256": ["`+apikey.Hash(keyReader)+`"]}
	]}`)
	s, err := apikey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantPrincipal(t, s, keyExporter, "exporter", "export")
	wantPrincipal(t, s, keyExporter2, "exporter", "export")
	wantPrincipal(t, s, keyReader, "reader")
	wantDenied(t, s, keyUnknown, runtime.ReasonCredentialsInvalid)

	missing := filepath.Join(t.TempDir(), "nope.json")
	_, err = apikey.LoadFile(missing)
	wantConfigError(t, err, fmt.Sprintf("%q", missing))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap fs.ErrNotExist", err)
	}

	// Reload and Watch need a file.
	fromNew := mustNew(t, setA...)
	wantConfigError(t, fromNew.Reload(), "not loaded from a file")
	var watchErr error
	fromNew.Watch(context.Background(), time.Millisecond, func(err error) { watchErr = err })
	wantConfigError(t, watchErr, "not loaded from a file")
}

// brokenFiles are key files Reload must refuse, with what the error says.
func brokenFiles() []struct{ name, content, contains string } {
	return []struct{ name, content, contains string }{
		{"truncated JSON", `{"clients": [`, "invalid JSON: the file ends too early"},
		{"invalid JSON", "{\"clients\": [\n  {\"name\": \"exporter\",}\n]}", "invalid JSON at line 2, column 24"},
		{"not JSON at all", "exporter=" + keyExporter2, "invalid JSON"},
		{"empty file", "", "the file is empty"},
		{"unknown field", `{"clients": [{"name": "exporter", "key_sha256": ["` + apikey.Hash(keyExporter) + `"], "role": "admin"}]}`, `unknown field "role"`},
		{"unknown top-level field", `{"clients": [], "keys": []}`, `unknown field "keys"`},
		{"no clients field", `{}`, `no "clients" array`},
		{"trailing data", fileJSON(setA...) + `{}`, "data after the JSON object"},
		{"wrong type", `{"clients": [{"name": "exporter", "key_sha256": "` + apikey.Hash(keyExporter) + `"}]}`, "cannot unmarshal"},
		{"duplicate name", fileJSON(setB[0], setB[0]), `client "exporter": the name is used twice`},
		{"bad digest", fileJSON(apikey.Client{Name: "exporter", KeySHA256: []string{apikey.Hash(keyExporter)[1:]}}), `client "exporter": key_sha256[0] is 63 characters`},
		{"plaintext key", fileJSON(apikey.Client{Name: "exporter", KeySHA256: []string{keyExporter}}), `client "exporter": key_sha256[0]`},
		{"three digests", fileJSON(apikey.Client{Name: "exporter", KeySHA256: []string{apikey.Hash("1"), apikey.Hash("2"), apikey.Hash("3")}}), `client "exporter": 3 key digests`},
		{"empty key digest", fileJSON(apikey.Client{Name: "exporter", KeySHA256: []string{apikey.Hash("")}}), "digest of the empty key"},
	}
}

// Reload swaps file A for file B whole; a broken file is refused whole and
// B stays in use.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, fileJSON(setA...))
	s, err := apikey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantPrincipal(t, s, keyExporter, "exporter", "export")
	wantPrincipal(t, s, keyUnknown, "legacy")
	wantDenied(t, s, keyExporter2, runtime.ReasonCredentialsInvalid)

	writeFile(t, dir, fileJSON(setB...))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	wantB := func(t *testing.T) {
		t.Helper()
		wantPrincipal(t, s, keyExporter2, "exporter", "export", "library.read")
		wantPrincipal(t, s, keyReader, "reader", "library.read")
		wantDenied(t, s, keyExporter, runtime.ReasonCredentialsInvalid)
		wantDenied(t, s, keyUnknown, runtime.ReasonCredentialsInvalid)
	}
	wantB(t)

	for _, tt := range brokenFiles() {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, dir, tt.content)
			err := s.Reload()
			wantConfigError(t, err, fmt.Sprintf("%q", path), tt.contains)
			for _, k := range []string{keyExporter, keyExporter2, keyReader, keyUnknown} {
				assertNoSecret(t, k, err.Error())
			}
			wantB(t)
		})
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err = s.Reload()
	wantConfigError(t, err, fmt.Sprintf("%q", path))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap fs.ErrNotExist", err)
	}
	wantB(t)

	// Fixed again: the file is used.
	writeFile(t, dir, fileJSON(setA...))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	wantPrincipal(t, s, keyExporter, "exporter", "export")
}

// Watch picks up a changed file within a few polls, reports a broken one
// through onError and keeps the last good set, and stops with ctx.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, fileJSON(setA...))
	s, err := apikey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 20*time.Millisecond, func(err error) { errs <- err })
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after its context was cancelled")
		}
	}()

	// eventually polls for up to 5s until key authenticates as subject.
	eventually := func(key, subject string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			p, err := s.Authenticate(context.Background(), key)
			if err == nil && p.Subject == subject {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 5s, Authenticate(%s) = %v, %v; want subject %q", label(key), p, err, subject)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	writeFile(t, dir, fileJSON(setB...))
	eventually(keyExporter2, "exporter")
	wantDenied(t, s, keyExporter, runtime.ReasonCredentialsInvalid)

	writeFile(t, dir, `{"clients": [{"name": "exporter", "key_sha256": ["`+apikey.Hash(keyExporter)+`"], "admin": true}]}`)
	select {
	case err := <-errs:
		wantConfigError(t, err, fmt.Sprintf("%q", path), `unknown field "admin"`)
		assertNoSecret(t, keyExporter, err.Error())
	case <-time.After(5 * time.Second):
		t.Fatal("after 5s, onError was not called for a broken file")
	}
	// The old set is still in use, and the broken file is reported once.
	time.Sleep(100 * time.Millisecond)
	wantPrincipal(t, s, keyExporter2, "exporter", "export", "library.read")
	wantDenied(t, s, keyExporter, runtime.ReasonCredentialsInvalid)
	select {
	case err := <-errs:
		t.Fatalf("the same broken file was reported again: %v", err)
	default:
	}

	// A removed file is reported and the set kept; its return is used.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		wantConfigError(t, err, fmt.Sprintf("%q", path))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %q does not wrap fs.ErrNotExist", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("after 5s, onError was not called for a removed file")
	}
	wantPrincipal(t, s, keyExporter2, "exporter", "export", "library.read")
	writeFile(t, dir, fileJSON(setA...))
	eventually(keyExporter, "exporter")
	eventually(keyUnknown, "legacy")
}

// Reload under load: whatever the interleaving, every call's result is
// that of set A or of set B, never a mix or a half-loaded set.
func TestReplaceUnderLoad(t *testing.T) {
	s := mustNew(t, setA...)
	type outcome struct {
		ok      bool
		subject string
		scopes  string
	}
	outcomeIn := func(set []apikey.Client, key string) outcome {
		for _, c := range set {
			if slices.Contains(c.KeySHA256, apikey.Hash(key)) {
				return outcome{true, c.Name, strings.Join(c.Scopes, " ")}
			}
		}
		return outcome{}
	}
	keys := []string{keyExporter, keyExporter2, keyReader, keyUnknown, "gak_neither"}
	allowed := make(map[string][]outcome, len(keys))
	for _, k := range keys {
		allowed[k] = []outcome{outcomeIn(setA, k), outcomeIn(setB, k)}
	}

	var stop atomic.Bool
	var calls, successes, exporterOK, exporterDenied atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan string, 1)
	for g := range 100 {
		wg.Go(func() {
			for i := g; !stop.Load(); i++ {
				k := keys[i%len(keys)]
				p, err := s.Authenticate(context.Background(), k)
				var got outcome
				if err == nil {
					if p == nil {
						got.subject = "<nil principal>"
					} else {
						got = outcome{true, p.Subject, strings.Join(p.Scopes, " ")}
					}
					successes.Add(1)
				} else if e, ok := runtime.FromError(err); !ok || e.Reason != runtime.ReasonCredentialsInvalid {
					got.subject = "<unexpected error " + err.Error() + ">"
				}
				calls.Add(1)
				if k == keyExporter {
					if got.ok {
						exporterOK.Add(1)
					} else {
						exporterDenied.Add(1)
					}
				}
				if !slices.Contains(allowed[k], got) {
					select {
					case errc <- fmt.Sprintf("key %s: got %+v; want one of %+v", label(k), got, allowed[k]):
					default:
					}
					return
				}
				// Yield, or 100 busy goroutines starve the one replacing
				// the set for whole scheduler time slices.
				goruntime.Gosched()
			}
		})
	}
	// Alternate B and A 200 times, letting at least 500 calls run against
	// each set (waiting on a count, not a timer, which a busy machine
	// stretches).
	for i := range 200 {
		set := setA
		if i%2 == 0 {
			set = setB
		}
		if err := s.Replace(set); err != nil {
			t.Fatal(err)
		}
		for start := calls.Load(); calls.Load()-start < 500 && len(errc) == 0; {
			goruntime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case msg := <-errc:
		t.Fatal(msg)
	default:
	}
	// Both sets were in use: the key only A has both passed and failed.
	if a, b := exporterOK.Load(), exporterDenied.Load(); a == 0 || b == 0 {
		t.Fatalf("keyExporter passed %d times and failed %d times; want both", a, b)
	}
	t.Logf("%d calls during 200 replacements, %d successes", calls.Load(), successes.Load())
}

// Authenticate allocates the principal and its scopes, nothing else.
func TestAuthenticateAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters change allocation counts")
	}
	clients := make([]apikey.Client, 0, 50)
	for i := range 50 {
		clients = append(clients, apikey.Client{Name: fmt.Sprint("c", i), Scopes: []string{"a", "b"}, KeySHA256: []string{apikey.Hash(fmt.Sprint("k", i))}})
	}
	clients = append(clients, apikey.Client{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter)}})
	s := mustNew(t, clients...)
	ctx := context.Background()
	long := strings.Repeat("x", apikey.MaxKeySize)
	var sink *runtime.Principal
	for _, key := range []string{keyExporter, "k7"} {
		allocs := testing.AllocsPerRun(200, func() {
			p, err := s.Authenticate(ctx, key)
			if err != nil {
				panic(err)
			}
			sink = p
		})
		if allocs > 2 {
			t.Errorf("Authenticate(%s) allocates %v times; want at most 2", label(key), allocs)
		}
	}
	if allocs := testing.AllocsPerRun(200, func() { _, _ = s.Authenticate(ctx, long) }); allocs > 1 {
		t.Errorf("a refused key allocates %v times; want at most 1 (the error)", allocs)
	}
	_ = sink
}

// FuzzAuthenticate: Authenticate never panics, returns a principal or a
// denial (never both, never neither), with the right reason, and a denial
// never holds the key's digest.
func FuzzAuthenticate(f *testing.F) {
	for _, seed := range []string{"", keyExporter, keyExporter2, keyReader, keyUnknown, " ", "\x00", "gak_", strings.Repeat("a", apikey.MaxKeySize+1), apikey.Hash(keyExporter), "\xff\xfe"} {
		f.Add(seed)
	}
	s := mustNew(f, setB...)
	f.Fuzz(func(t *testing.T, key string) {
		p, err := s.Authenticate(context.Background(), key)
		if (p == nil) == (err == nil) {
			t.Fatalf("Authenticate(%s) = %v, %v; want exactly one of principal and error", label(key), p, err)
		}
		known := key == keyExporter2 || key == keyReader
		if known != (err == nil) {
			t.Fatalf("Authenticate(%s): known = %v but error = %v", label(key), known, err)
		}
		if err == nil {
			return
		}
		e, ok := runtime.FromError(err)
		if !ok {
			t.Fatalf("Authenticate(%s) error %v is not a denial", label(key), err)
		}
		want := runtime.ReasonCredentialsInvalid
		if key == "" || len(key) > apikey.MaxKeySize {
			want = runtime.ReasonCredentialsMalformed
		}
		if e.Reason != want {
			t.Fatalf("Authenticate(%s) reason = %s; want %s", label(key), e.Reason, want)
		}
		assertNoSecret(t, key, e.Error(), e.Detail)
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	clients := make([]apikey.Client, 0, 101)
	for i := range 100 {
		clients = append(clients, apikey.Client{Name: fmt.Sprint("c", i), KeySHA256: []string{apikey.Hash(fmt.Sprint("k", i))}})
	}
	clients = append(clients, apikey.Client{Name: "exporter", Scopes: []string{"export"}, KeySHA256: []string{apikey.Hash(keyExporter)}})
	s := mustNew(b, clients...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, keyExporter); err != nil {
			b.Fatal(err)
		}
	}
}
