// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestManifestRoundTrip reads every golden manifest back: ReadManifest
// accepts what the generator writes, and Marshal writes it byte for byte.
func TestManifestRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "want", "*"+ManifestSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("%d golden manifests; want at least 2", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(b), string(out)); diff != "" {
			t.Errorf("%s: Marshal(ReadManifest) differs (-file +marshal):\n%s", f, diff)
		}
		// The layout is encoding/json's, up to white space.
		var viaJSON, viaOurs any
		std, _ := json.Marshal(m)
		if err := json.Unmarshal(std, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &viaOurs); err != nil {
			t.Fatalf("%s: not JSON: %v", f, err)
		}
		if diff := cmp.Diff(viaJSON, viaOurs); diff != "" {
			t.Errorf("%s: differs from encoding/json (-json +ours):\n%s", f, diff)
		}
	}
}

func TestReadManifestRefuses(t *testing.T) {
	method := func(fields string) string {
		return `{"schema": "grpcauth.manifest.v1", "file": "a.proto", "services": [{"name": "a.v1.S", "methods": [{` + fields + `}]}]}`
	}
	const ok = `"name": "a.v1.S.M", "full_method": "/a.v1.S/M", "type": "UNARY", "transport": "ANY_TRANSPORT", "dry_run": false`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not json", `{`, "not a manifest: unexpected end of JSON input"},
		{"other schema", `{"schema": "grpcauth.manifest.v2"}`, `schema "grpcauth.manifest.v2": this version reads "grpcauth.manifest.v1" only`},
		{"no schema", `{"file": "a.proto"}`, `schema "": this version reads "grpcauth.manifest.v1" only`},
		{"unknown field", `{"schema": "grpcauth.manifest.v1", "file": "a.proto", "services": [], "extra": 1}`, `not a grpcauth.manifest.v1 manifest: json: unknown field "extra"`},
		{"unknown method field", method(ok + `, "access": "PUBLIC", "public_reason": "r", "requirements": [], "mode": "x"`), `not a grpcauth.manifest.v1 manifest: json: unknown field "mode"`},
		{"no file", `{"schema": "grpcauth.manifest.v1", "services": []}`, `"file" is missing`},
		{"two values", `{"schema": "grpcauth.manifest.v1", "file": "a.proto", "services": []} {}`, "not a manifest: invalid character '{' after top-level value"},
		{"unknown access", method(ok + `, "access": "OPEN", "requirements": []`), `a.v1.S.M: unknown "access" "OPEN"`},
		{"unknown type", method(`"name": "a.v1.S.M", "full_method": "/a.v1.S/M", "type": "STREAM", "transport": "ANY_TRANSPORT", "access": "UNDECLARED", "requirements": []`), `a.v1.S.M: unknown "type" "STREAM"`},
		{"unknown transport", method(`"name": "a.v1.S.M", "full_method": "/a.v1.S/M", "type": "UNARY", "transport": "MAYBE_TLS", "access": "UNDECLARED", "requirements": []`), `a.v1.S.M: unknown "transport" "MAYBE_TLS"`},
		{"unknown kind", method(ok + `, "access": "REQUIREMENTS", "requirements": [{"credentials": ["PASSWORD"], "scopes": []}]`), `a.v1.S.M: requirements[0]: unknown credential kind "PASSWORD"`},
		{"unspecified kind", method(ok + `, "access": "REQUIREMENTS", "requirements": [{"credentials": ["CREDENTIAL_KIND_UNSPECIFIED"], "scopes": []}]`), `a.v1.S.M: requirements[0]: unknown credential kind "CREDENTIAL_KIND_UNSPECIFIED"`},
		{"no credentials", method(ok + `, "access": "REQUIREMENTS", "requirements": [{"credentials": [], "scopes": []}]`), `a.v1.S.M: requirements[0]: no "credentials"`},
		{"no requirements", method(ok + `, "access": "REQUIREMENTS", "requirements": []`), `a.v1.S.M: access REQUIREMENTS without "requirements"`},
		{"public with requirements", method(ok + `, "access": "PUBLIC", "public_reason": "r", "requirements": [{"credentials": ["MTLS"], "scopes": []}]`), `a.v1.S.M: access PUBLIC with "requirements"`},
		{"public with condition", method(ok + `, "access": "PUBLIC", "public_reason": "r", "requirements": [], "condition": "true"`), `a.v1.S.M: access PUBLIC with a "condition"`},
		{"wrong full method", method(`"name": "a.v1.S.M", "full_method": "/a.v1.S/N", "type": "UNARY", "transport": "ANY_TRANSPORT", "access": "UNDECLARED", "requirements": []`), `a.v1.S.M: "full_method" is "/a.v1.S/N", want "/a.v1.S/M"`},
		{"name of another service", method(`"name": "a.v1.T.M", "full_method": "/a.v1.S/M", "type": "UNARY", "transport": "ANY_TRANSPORT", "access": "UNDECLARED", "requirements": []`), "a.v1.T.M: \"name\" must be the method's full name in service \"a.v1.S\"\na.v1.T.M: \"full_method\" is \"/a.v1.S/M\", want \"/a.v1.S/a.v1.T.M\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifest([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}

// TestManifestSchemaFile keeps manifest.schema.json equal to the Go types:
// the same properties, the same required ones (those without omitempty),
// and the same values as the constants.
func TestManifestSchemaFile(t *testing.T) {
	b, err := os.ReadFile("manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Title      string                     `json:"title"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Title != ManifestSchema {
		t.Errorf("title %q, want %q", schema.Title, ManifestSchema)
	}
	check := func(name string, typ reflect.Type, required []string, props map[string]json.RawMessage) {
		var all, req []string
		for i := 0; i < typ.NumField(); i++ {
			tag, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			all = append(all, tag)
			if opts != "omitempty" {
				req = append(req, tag)
			}
		}
		var got []string
		for p := range props {
			got = append(got, p)
		}
		sort.Strings(all)
		sort.Strings(got)
		sort.Strings(req)
		sort.Strings(required)
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("%s: properties differ from %s (-go +schema):\n%s", name, typ, diff)
		}
		if diff := cmp.Diff(req, required); diff != "" {
			t.Errorf("%s: required differs from %s (-go +schema):\n%s", name, typ, diff)
		}
	}
	check("manifest", reflect.TypeFor[Manifest](), schema.Required, schema.Properties)
	check("service", reflect.TypeFor[ManifestService](), schema.Defs["service"].Required, schema.Defs["service"].Properties)
	check("method", reflect.TypeFor[ManifestMethod](), schema.Defs["method"].Required, schema.Defs["method"].Properties)
	check("requirement", reflect.TypeFor[ManifestRequirement](), schema.Defs["requirement"].Required, schema.Defs["requirement"].Properties)
	enum := func(raw json.RawMessage) []string {
		var e struct {
			Enum  []string `json:"enum"`
			Items struct {
				Enum []string `json:"enum"`
			} `json:"items"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		return append(e.Enum, e.Items.Enum...)
	}
	method := schema.Defs["method"].Properties
	for _, tc := range []struct {
		field string
		raw   json.RawMessage
		want  []string
	}{
		{"type", method["type"], []string{MethodUnary, MethodServerStreaming, MethodClientStreaming, MethodBidiStreaming}},
		{"access", method["access"], []string{AccessRequirements, AccessPublic, AccessUndeclared}},
		{"transport", method["transport"], []string{TransportAny, TransportTLSRequired}},
		{"credentials", schema.Defs["requirement"].Properties["credentials"], []string{"BEARER_JWT", "OAUTH2_TOKEN", "API_KEY", "MTLS"}},
	} {
		if diff := cmp.Diff(tc.want, enum(tc.raw)); diff != "" {
			t.Errorf("%s: values differ (-go +schema):\n%s", tc.field, diff)
		}
	}
}
