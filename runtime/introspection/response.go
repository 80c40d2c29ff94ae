// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package introspection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// response is the part of an RFC 7662 §2.2 introspection response the
// authenticator uses. A field of the wrong JSON type makes the whole
// response malformed.
type response struct {
	Active    bool         `json:"active"`
	Scope     string       `json:"scope"`
	ClientID  string       `json:"client_id"`
	Username  string       `json:"username"`
	TokenType string       `json:"token_type"`
	Exp       *numericDate `json:"exp"`
	Iat       *numericDate `json:"iat"`
	Nbf       *numericDate `json:"nbf"`
	Sub       string       `json:"sub"`
	Aud       audience     `json:"aud"`
	Iss       string       `json:"iss"`

	// claims is the whole response, for Principal.Claims. Never modified
	// once decoded.
	claims map[string]any
	// scopes is Scope split by runtime.ParseScope, once; scopeErr is its
	// error, for a scope string outside RFC 6749 §3.3's grammar (the
	// answer is then refused with CLAIMS_INVALID, not as malformed JSON).
	scopes   []string
	scopeErr error
	// sharedUntil is set on an answer taken from the shared cache: when
	// it stops being used there, which bounds its use here too.
	sharedUntil time.Time
}

// errMalformed marks a response body that is not the JSON object it must
// be. Its text never quotes the body.
type errMalformed struct{ what string }

func (e *errMalformed) Error() string { return "malformed JSON response: " + e.what }

// parseResponse decodes an introspection response body.
func parseResponse(body []byte) (*response, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, describeJSONError(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		// The body decoded into a struct, so it is a JSON object, unless
		// it is the literal null.
		return nil, &errMalformed{what: "not a JSON object"}
	}
	r.claims = claims
	r.scopes, r.scopeErr = runtime.ParseScope(r.Scope)
	return &r, nil
}

// describeJSONError says what was wrong with a body without quoting it.
func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var me *errMalformed
	switch {
	case errors.As(err, &me):
		return me
	case errors.As(err, &se):
		return &errMalformed{what: fmt.Sprintf("syntax error at offset %d", se.Offset)}
	case errors.As(err, &te):
		if te.Field == "" {
			return &errMalformed{what: "not a JSON object"}
		}
		return &errMalformed{what: fmt.Sprintf("field %q is not of the right type", te.Field)}
	}
	return &errMalformed{what: "not valid JSON"}
}

// numericDate is a JSON number of seconds since the epoch (RFC 7519 §2).
type numericDate struct{ t time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return &errMalformed{what: "a date claim is not a number"}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	// Beyond ±2^53 seconds (hundreds of millions of years) no date is
	// meant; refusing it keeps the conversion below exact and in range.
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1<<53 {
		return &errMalformed{what: "a date claim is not a usable number"}
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// time returns the date, or the zero time for nil.
func (d *numericDate) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.t
}

// audience is an aud claim: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &errMalformed{what: `field "aud" is not a string or an array of strings`}
	}
	*a = list
	return nil
}

func (a audience) containsAny(want []string) bool {
	for _, got := range a {
		for _, w := range want {
			if got == w {
				return true
			}
		}
	}
	return false
}
