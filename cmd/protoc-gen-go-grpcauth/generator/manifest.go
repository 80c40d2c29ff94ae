// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"

	grpcauthv1 "github.com/grpcauth/protoc-gen-go-grpcauth/authoptions/grpcauth/v1"
)

// ManifestSchema is the "schema" of every manifest this version writes and
// reads.
const ManifestSchema = "grpcauth.manifest.v1"

// ManifestSuffix ends the name of every manifest file: library/v1/library.proto
// has library/v1/library_grpcauth.manifest.json.
const ManifestSuffix = "_grpcauth.manifest.json"

// Manifest is the effective auth rule of every method of one .proto file:
// the JSON document that the parameter manifest=true writes beside the
// generated code, one per file with services. Its schema,
// grpcauth.manifest.v1, is this type (README "Manifest"; as JSON Schema in
// manifest.schema.json):
//
//	{
//	  "schema": "grpcauth.manifest.v1",
//	  "file": "library/v1/library.proto",
//	  "services": [{
//	    "name": "library.v1.LibraryService",
//	    "methods": [{
//	      "name": "library.v1.LibraryService.GetBook",
//	      "full_method": "/library.v1.LibraryService/GetBook",
//	      "type": "UNARY",
//	      "access": "REQUIREMENTS",
//	      "requirements": [{"credentials": ["BEARER_JWT", "MTLS"], "scopes": ["library.read"]}],
//	      "transport": "ANY_TRANSPORT",
//	      "authentication": "REQUIRED",
//	      "dry_run": false,
//	      "source": "library.v1.LibraryService"
//	    }]
//	  }]
//	}
//
// Services and methods are in the order of the .proto file, credential
// kinds and scopes in the order of their requirement; every field of every
// method is computed at generate time with inheritance, exactly as the
// generated rule tables hold it. A manifest is indented with two spaces and
// ends with a newline, so that its diff in a review reads line by line.
//
// The schema changes only by a new version: a reader refuses a schema and a
// field it does not know ([ReadManifest]), so that nothing in a manifest is
// ever silently ignored.
type Manifest struct {
	// Schema is [ManifestSchema].
	Schema string `json:"schema"`
	// File is the .proto file's path as it is imported, such as
	// "library/v1/library.proto".
	File string `json:"file"`
	// Services holds the file's services in declaration order.
	Services []ManifestService `json:"services"`
}

// ManifestService is one service of a [Manifest].
type ManifestService struct {
	// Name is the service's full proto name, such as
	// "library.v1.LibraryService".
	Name string `json:"name"`
	// Methods holds the service's methods in declaration order.
	Methods []ManifestMethod `json:"methods"`
}

// The values of ManifestMethod.Type.
const (
	MethodUnary           = "UNARY"
	MethodServerStreaming = "SERVER_STREAMING"
	MethodClientStreaming = "CLIENT_STREAMING"
	MethodBidiStreaming   = "BIDI_STREAMING"
)

// The values of ManifestMethod.Access.
const (
	// AccessRequirements: a caller is allowed when it meets one of the
	// requirements (and the condition, if any).
	AccessRequirements = "REQUIREMENTS"
	// AccessPublic: anybody may call; credentials are not read.
	AccessPublic = "PUBLIC"
	// AccessUndeclared: no rule was declared and the file was generated
	// with unannotated=deny: every call is denied (METHOD_NOT_DECLARED).
	AccessUndeclared = "UNDECLARED"
)

// The values of ManifestMethod.Authentication.
const (
	// AuthenticationRequired: a call without a credential is refused.
	AuthenticationRequired = "REQUIRED"
	// AuthenticationOptional: a call without any credential is allowed
	// (with no principal); one with a credential is decided by the
	// requirements.
	AuthenticationOptional = "OPTIONAL"
)

// The values of ManifestMethod.Transport.
const (
	TransportAny         = "ANY_TRANSPORT"
	TransportTLSRequired = "TLS_REQUIRED"
)

// ManifestMethod is one method's effective rule.
type ManifestMethod struct {
	// Name is the method's full proto name, such as
	// "library.v1.LibraryService.GetBook".
	Name string `json:"name"`
	// FullMethod is the method as gRPC names it, the key of the rule
	// tables: "/library.v1.LibraryService/GetBook".
	FullMethod string `json:"full_method"`
	// Type is UNARY, SERVER_STREAMING, CLIENT_STREAMING or BIDI_STREAMING.
	Type string `json:"type"`
	// Access is REQUIREMENTS, PUBLIC or UNDECLARED.
	Access string `json:"access"`
	// PublicReason is the reason given for a PUBLIC method; absent
	// otherwise.
	PublicReason string `json:"public_reason,omitempty"`
	// Requirements are the alternatives of a REQUIREMENTS method (any one
	// suffices); empty otherwise.
	Requirements []ManifestRequirement `json:"requirements"`
	// Transport is TLS_REQUIRED or ANY_TRANSPORT.
	Transport string `json:"transport"`
	// Authentication is OPTIONAL when a REQUIREMENTS method lets a call
	// without any credential through (authentication: OPTIONAL), REQUIRED
	// otherwise. A manifest written before the field existed has none,
	// which [ReadManifest] reads as REQUIRED, as those rules were.
	Authentication string `json:"authentication"`
	// Condition is the CEL condition decided after a requirement is met;
	// absent when there is none. Client- and bidi-streaming methods decide
	// it when the stream opens, the others on the decoded request.
	Condition string `json:"condition,omitempty"`
	// DryRun is the rule's `dry_run` after inheritance: its would-be
	// denials are reported and calls proceed (a server may put more methods
	// in dry-run with runtime.WithDryRun, which no manifest can show). The
	// loosening check counts a method turned to dry-run, or added in
	// dry-run, as a loosening.
	DryRun bool `json:"dry_run"`
	// Source is the element the access (requirements or public) was
	// declared on: the method, its service, or its file's path. Absent for
	// an UNDECLARED method.
	Source string `json:"source,omitempty"`
	// TransportSource and ConditionSource are the elements that set the
	// transport and the condition; absent when no level did.
	TransportSource string `json:"transport_source,omitempty"`
	ConditionSource string `json:"condition_source,omitempty"`
	// AuthenticationSource is the element that set authentication:
	// OPTIONAL; absent for REQUIRED.
	AuthenticationSource string `json:"authentication_source,omitempty"`
}

// ManifestRequirement is one alternative: a credential of any of the kinds
// that holds all of the scopes.
type ManifestRequirement struct {
	// Credentials are kinds as the .proto spells them: BEARER_JWT,
	// OAUTH2_TOKEN, API_KEY, MTLS.
	Credentials []string `json:"credentials"`
	// Scopes are all required; [] when none is.
	Scopes []string `json:"scopes"`
	// OnBehalfOf is the end user the workload calls for: with it, the
	// credentials are the workload's (MTLS, API_KEY) and the call carries
	// an end user's bearer token of OnBehalfOf's kinds with all of its
	// scopes too. Absent for a requirement of one credential.
	OnBehalfOf *ManifestEndUser `json:"on_behalf_of,omitempty"`
}

// ManifestEndUser is a requirement's on_behalf_of: a bearer token of any of
// the kinds that holds all of the scopes.
type ManifestEndUser struct {
	// Credentials are BEARER_JWT, OAUTH2_TOKEN.
	Credentials []string `json:"credentials"`
	// Scopes are all required; [] when none is.
	Scopes []string `json:"scopes"`
}

// manifestOf computes the manifest of f from its effective rules.
func manifestOf(f *protogen.File, rules map[*protogen.Method]*effectiveRule) *Manifest {
	out := &Manifest{Schema: ManifestSchema, File: f.Desc.Path(), Services: []ManifestService{}}
	for _, s := range f.Services {
		ms := ManifestService{Name: string(s.Desc.FullName()), Methods: []ManifestMethod{}}
		for _, m := range s.Methods {
			ms.Methods = append(ms.Methods, manifestMethod(s, m, rules[m]))
		}
		out.Services = append(out.Services, ms)
	}
	return out
}

func manifestMethod(s *protogen.Service, m *protogen.Method, r *effectiveRule) ManifestMethod {
	mm := ManifestMethod{
		Name:            string(m.Desc.FullName()),
		FullMethod:      "/" + string(s.Desc.FullName()) + "/" + string(m.Desc.Name()),
		Type:            methodType(m),
		Requirements:    []ManifestRequirement{},
		Transport:       TransportAny,
		Authentication:  AuthenticationRequired,
		Condition:       r.condition,
		DryRun:          r.dryRun,
		Source:          r.source,
		TransportSource: r.transportSource,
		ConditionSource: r.conditionSource,
	}
	switch {
	case r.undeclared:
		mm.Access = AccessUndeclared
	case r.public:
		mm.Access = AccessPublic
		mm.PublicReason = r.publicReason
	default:
		mm.Access = AccessRequirements
		for _, req := range r.requirements {
			mr := ManifestRequirement{Credentials: []string{}, Scopes: append([]string{}, req.scopes...)}
			for _, k := range req.kinds {
				mr.Credentials = append(mr.Credentials, k.String())
			}
			if obo := req.onBehalfOf; obo != nil {
				mr.OnBehalfOf = &ManifestEndUser{Credentials: []string{}, Scopes: append([]string{}, obo.scopes...)}
				for _, k := range obo.kinds {
					mr.OnBehalfOf.Credentials = append(mr.OnBehalfOf.Credentials, k.String())
				}
			}
			mm.Requirements = append(mm.Requirements, mr)
		}
		if r.optional {
			mm.Authentication, mm.AuthenticationSource = AuthenticationOptional, r.optionalSource
		}
	}
	if r.tlsRequired {
		mm.Transport = TransportTLSRequired
	}
	return mm
}

func methodType(m *protogen.Method) string {
	switch cs, ss := m.Desc.IsStreamingClient(), m.Desc.IsStreamingServer(); {
	case cs && ss:
		return MethodBidiStreaming
	case cs:
		return MethodClientStreaming
	case ss:
		return MethodServerStreaming
	}
	return MethodUnary
}

// Marshal returns m as a manifest file holds it: objects indented by two
// spaces, one requirement per line, ending with a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, reflect.ValueOf(*m), ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// writeJSON writes v as encoding/json would, with its field names and
// omitempty, but indents objects and arrays of objects only: an array of
// strings and an object of such arrays (a requirement) stand on one line,
// so that a review's diff shows the requirement that changed.
func writeJSON(b *bytes.Buffer, v reflect.Value, indent string) error {
	flat := flatJSON(v.Type())
	inner, sep, end := indent+"  ", ",\n"+indent+"  ", "\n"+indent
	if flat {
		inner, sep, end = "", ", ", ""
	}
	switch v.Kind() {
	case reflect.Pointer: // omitempty drops a nil one
		return writeJSON(b, v.Elem(), indent)
	case reflect.Struct:
		b.WriteString("{")
		first := true
		for i := 0; i < v.NumField(); i++ {
			name, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			f := v.Field(i)
			if opts == "omitempty" && f.IsZero() {
				continue
			}
			if first && !flat {
				b.WriteString("\n" + inner)
			} else if !first {
				b.WriteString(sep)
			}
			first = false
			b.WriteString(strconv.Quote(name) + ": ")
			if err := writeJSON(b, f, inner); err != nil {
				return err
			}
		}
		b.WriteString(end + "}")
	case reflect.Slice:
		if v.Len() == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[")
		if !flat {
			b.WriteString("\n" + inner)
		}
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			if err := writeJSON(b, v.Index(i), inner); err != nil {
				return err
			}
		}
		b.WriteString(end + "]")
	default:
		var c bytes.Buffer
		enc := json.NewEncoder(&c)
		enc.SetEscapeHTML(false) // conditions hold && and <, to be read as written
		if err := enc.Encode(v.Interface()); err != nil {
			return err
		}
		b.Write(bytes.TrimSuffix(c.Bytes(), []byte("\n")))
	}
	return nil
}

// flatJSON reports whether values of t are written on one line: scalars,
// slices of scalars, and structs of those.
func flatJSON(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Struct && flatJSON(t.Elem())
	case reflect.Pointer:
		return flatJSON(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i).Type; f.Kind() == reflect.Struct || (f.Kind() == reflect.Slice && !flatJSON(f)) {
				return false
			}
		}
		return true
	}
	return false
}

// ReadManifest decodes and checks a manifest: the schema must be
// [ManifestSchema], every field one it defines, every value one it allows.
// Errors name the method (or the field) that is wrong.
func ReadManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var probe struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	if probe.Schema != ManifestSchema {
		return nil, fmt.Errorf("schema %q: this version reads %q only", probe.Schema, ManifestSchema)
	}
	m := &Manifest{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("not a %s manifest: %w", ManifestSchema, err)
	}
	if dec.More() {
		return nil, errors.New("not a manifest: more than one JSON value")
	}
	if m.File == "" {
		return nil, errors.New(`"file" is missing`)
	}
	var errs []error
	for _, s := range m.Services {
		if s.Name == "" {
			errs = append(errs, errors.New(`a service has no "name"`))
		}
		for _, mm := range s.Methods {
			if err := checkManifestMethod(s.Name, mm); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range m.Services {
		for j := range m.Services[i].Methods {
			if mm := &m.Services[i].Methods[j]; mm.Authentication == "" {
				mm.Authentication = AuthenticationRequired // written before the field existed
			}
		}
	}
	return m, nil
}

func checkManifestMethod(service string, mm ManifestMethod) error {
	name := mm.Name
	if name == "" {
		name = service + ".?"
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if mm.Name == "" || !strings.HasPrefix(mm.Name, service+".") {
		fail(`"name" must be the method's full name in service %q`, service)
	}
	if want := "/" + service + "/" + strings.TrimPrefix(mm.Name, service+"."); mm.FullMethod != want {
		fail(`"full_method" is %q, want %q`, mm.FullMethod, want)
	}
	switch mm.Type {
	case MethodUnary, MethodServerStreaming, MethodClientStreaming, MethodBidiStreaming:
	default:
		fail(`unknown "type" %q`, mm.Type)
	}
	switch mm.Transport {
	case TransportAny, TransportTLSRequired:
	default:
		fail(`unknown "transport" %q`, mm.Transport)
	}
	switch mm.Authentication {
	case "", AuthenticationRequired:
	case AuthenticationOptional:
		if mm.Access != AccessRequirements {
			fail(`access %s with authentication OPTIONAL`, mm.Access)
		}
		if mm.Condition != "" {
			fail(`authentication OPTIONAL with a "condition"`)
		}
	default:
		fail(`unknown "authentication" %q`, mm.Authentication)
	}
	switch mm.Access {
	case AccessRequirements:
		if len(mm.Requirements) == 0 {
			fail(`access REQUIREMENTS without "requirements"`)
		}
		for i, r := range mm.Requirements {
			if len(r.Credentials) == 0 {
				fail(`requirements[%d]: no "credentials"`, i)
			}
			for _, k := range r.Credentials {
				if v, ok := grpcauthv1.CredentialKind_value[k]; !ok || v == 0 {
					fail(`requirements[%d]: unknown credential kind %q`, i, k)
				} else if r.OnBehalfOf != nil && k != "MTLS" && k != "API_KEY" {
					fail(`requirements[%d]: credential kind %q is not a workload's (MTLS, API_KEY) beside "on_behalf_of"`, i, k)
				}
			}
			if obo := r.OnBehalfOf; obo != nil {
				if len(obo.Credentials) == 0 {
					fail(`requirements[%d]: on_behalf_of: no "credentials"`, i)
				}
				for _, k := range obo.Credentials {
					if k != "BEARER_JWT" && k != "OAUTH2_TOKEN" {
						fail(`requirements[%d]: on_behalf_of: credential kind %q is not a bearer token's (BEARER_JWT, OAUTH2_TOKEN)`, i, k)
					}
				}
			}
		}
	case AccessPublic, AccessUndeclared:
		if len(mm.Requirements) > 0 {
			fail(`access %s with "requirements"`, mm.Access)
		}
		if mm.Condition != "" && mm.Access == AccessPublic {
			fail(`access PUBLIC with a "condition"`)
		}
	default:
		fail(`unknown "access" %q`, mm.Access)
	}
	return errors.Join(errs...)
}
