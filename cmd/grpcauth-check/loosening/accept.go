// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package loosening

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// AllowFile lists loosenings accepted on purpose. It is JSON, checked into
// the repository (grpcauth-loosening.json by convention), so that accepting
// a loosening is a line in the same pull request as the loosening:
//
//	{
//	  "accept": [
//	    {
//	      "method": "library.v1.LibraryService.GetBook",
//	      "change": "SCOPE_REMOVED",
//	      "detail": "library.read",
//	      "reason": "reading is open to every signed-in user (ticket 42)"
//	    }
//	  ]
//	}
//
// An entry accepts the loosenings of its method and change kind, and when
// it has a detail only the one with that detail (the quoted text the check
// prints after the kind). The reason is required. An entry that accepts
// nothing in a comparison is reported, so that the file is emptied once
// the change has landed and an old acceptance does not wave a later
// loosening through.
type AllowFile struct {
	Accept []Acceptance `json:"accept"`
}

// Acceptance is one entry of an [AllowFile].
type Acceptance struct {
	// Method is the method's full proto name: "library.v1.LibraryService.GetBook".
	Method string `json:"method"`
	// Change is a loosening's kind, such as "SCOPE_REMOVED".
	Change Kind `json:"change"`
	// Detail, when set, is the change's detail, such as the scope.
	Detail string `json:"detail,omitempty"`
	// Reason says why the loosening is intended. Required.
	Reason string `json:"reason"`
}

// ReadAllowFile decodes and checks an allow file; name is used in errors.
func ReadAllowFile(name string, data []byte) (*AllowFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	f := &AllowFile{}
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", name)
	}
	var errs []error
	for i, a := range f.Accept {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: accept[%d]: "+format, append([]any{name, i}, args...)...))
		}
		switch {
		case a.Method == "":
			fail("method is required")
		case strings.HasPrefix(a.Method, "/"):
			fail("method %q: write the method's full proto name, such as %q", a.Method, strings.ReplaceAll(strings.TrimPrefix(a.Method, "/"), "/", "."))
		}
		if ClassOf(a.Change) != Loosening {
			fail("change %q is not a loosening's kind", a.Change)
		}
		if strings.TrimSpace(a.Reason) == "" {
			fail("reason is required: say why the loosening is intended")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// match returns the index of the first entry that accepts c, or -1.
func (f *AllowFile) match(c Change) int {
	if f == nil {
		return -1
	}
	for i, a := range f.Accept {
		if a.Method == c.Method && a.Change == c.Kind && (a.Detail == "" || a.Detail == c.Detail) {
			return i
		}
	}
	return -1
}
