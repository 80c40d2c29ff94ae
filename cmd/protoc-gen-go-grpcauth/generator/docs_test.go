// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import "testing"

// TestMarkdownEscapes: text from the .proto never becomes markup in the
// reference, and a code span holds any expression whole.
func TestMarkdownEscapes(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{code("a || b"), "`a || b`"},
		{code("has `tick`"), "`` has `tick` ``"},
		{code("`x"), "`` `x ``"},
		{escape("<script>*bold* _x_ [link](u) a|b `c` \\"), `&lt;script&gt;\*bold\* \_x\_ \[link](u) a\|b \` + "`c\\` " + `\\`},
		{escape("two\n  lines"), "two lines"},
		{cell(code("a || b")), "`a \\|\\| b`"},
		{cell(escape("a|b")), `a\|b`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
