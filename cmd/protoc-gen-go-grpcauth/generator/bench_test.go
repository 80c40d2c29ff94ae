// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// benchMethods is the size of the generated service.
const benchMethods = 1000

// benchProto returns a .proto with one service of n methods: mostly unary,
// with every 10th method of each streaming kind (server, client, bidi); a
// file-level default rule; and every 7th method with its own rule (every
// 49th public, every 21st with two requirements, the others one).
func benchProto(n int) string {
	var b strings.Builder
	b.WriteString(`syntax = "proto3";
package bench.v1;
import "grpcauth/v1/auth.proto";
option go_package = "example.com/bench/v1;benchv1";
option (grpcauth.v1.file) = { requirements: { credentials: [BEARER_JWT] scopes: ["s"] } };

message Req0 { string name = 1; }
message Req1 { string name = 1; int64 size = 2; }
message Req2 { repeated string ids = 1; }
message Resp0 { string name = 1; }
message Resp1 { bytes data = 1; }
message Resp2 { repeated Resp0 items = 1; }

service Big {
`)
	for i := 0; i < n; i++ {
		in, out := fmt.Sprintf("Req%d", i%3), fmt.Sprintf("Resp%d", (i/3)%3)
		switch i % 10 {
		case 1: // server streaming
			out = "stream " + out
		case 2: // client streaming
			in = "stream " + in
		case 3: // bidi
			in, out = "stream "+in, "stream "+out
		}
		fmt.Fprintf(&b, "  rpc M%04d(%s) returns (%s)", i, in, out)
		switch {
		case i%7 != 0:
			b.WriteString(";\n")
			continue
		case i%49 == 0:
			fmt.Fprintf(&b, " {\n    option (grpcauth.v1.method) = { public: { reason: \"public %d\" } };\n  }\n", i)
		case i%21 == 0:
			fmt.Fprintf(&b, " {\n    option (grpcauth.v1.method) = {\n"+
				"      requirements: { credentials: [API_KEY] scopes: [\"m%d.key\"] }\n"+
				"      requirements: { credentials: [BEARER_JWT, OAUTH2_TOKEN] scopes: [\"m%d.read\", \"m%d.write\"] }\n"+
				"    };\n  }\n", i, i, i)
		default:
			fmt.Fprintf(&b, " {\n    option (grpcauth.v1.method) = { requirements: { credentials: [BEARER_JWT, MTLS] scopes: [\"m%d\"] } };\n  }\n", i)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// bench1000Request writes the 1,000-method .proto into a temporary folder
// and returns the request protoc would send for it, as wire bytes.
func bench1000Request(tb testing.TB) []byte {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.proto"), []byte(benchProto(benchMethods)), 0o644); err != nil {
		tb.Fatal(err)
	}
	b, err := proto.Marshal(request(tb, dir, "paths=source_relative"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// generateInProcess is what main does with the request bytes, short of
// writing the response: decode, generate, collect the response.
func generateInProcess(data []byte) (*pluginpb.CodeGeneratorResponse, error) {
	req := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		return nil, err
	}
	resp := Generate(req)
	if resp.Error != nil {
		return nil, errors.New(resp.GetError())
	}
	return resp, nil
}

// execPlugin runs the plugin binary with the request bytes on standard
// input, as protoc does, and decodes its response.
func execPlugin(bin string, data []byte) (*pluginpb.CodeGeneratorResponse, error) {
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(bin), err, stderr.String())
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out, resp); err != nil {
		return nil, fmt.Errorf("%s: response: %w", filepath.Base(bin), err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%s: %s", filepath.Base(bin), resp.GetError())
	}
	if len(resp.File) == 0 {
		return nil, fmt.Errorf("%s: no file generated", filepath.Base(bin))
	}
	return resp, nil
}

// TestGenerate1000 checks the benchmark's input generates what it should.
func TestGenerate1000(t *testing.T) {
	resp, err := generateInProcess(bench1000Request(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatalf("generation failed: %s", resp.GetError())
	}
	if len(resp.File) != 1 {
		t.Fatalf("%d files generated, want 1", len(resp.File))
	}
	f := resp.File[0]
	if want := "big_grpcauth.pb.go"; f.GetName() != want {
		t.Errorf("generated %q, want %q", f.GetName(), want)
	}
	if got := strings.Count(f.GetContent(), "_AuthRule = &runtime.Rule{"); got != benchMethods {
		t.Errorf("%d rule declarations, want %d", got, benchMethods)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), f.GetName(), f.GetContent(), parser.SkipObjectResolution); err != nil {
		t.Errorf("generated file does not parse: %v", err)
	}
}

// BenchmarkGenerate1000 generates a service of 1,000 methods. The
// requirement is that protoc-gen-go-grpcauth takes no more than twice as
// long as protoc-gen-go-grpc on the same input; compare the two exec-based
// rows, which both include process start, reading the request from stdin
// and writing the response to stdout. The in-process row is the plugin's
// own work (decode, generate, gofmt) without process start or output.
func BenchmarkGenerate1000(b *testing.B) {
	data := bench1000Request(b)

	b.Run("grpcauth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := generateInProcess(data)
			if err != nil {
				b.Fatal(err)
			}
			if resp.Error != nil {
				b.Fatal(resp.GetError())
			}
		}
	})

	grpcBin, err := filepath.Abs(filepath.Join("..", "..", "..", ".bin", "protoc-gen-go-grpc"))
	if err != nil {
		b.Fatal(err)
	}
	haveGRPC := true
	if _, err := os.Stat(grpcBin); err != nil {
		haveGRPC = false
	}
	ownBin := ""
	if haveGRPC {
		ownBin = filepath.Join(b.TempDir(), PluginName)
		cmd := exec.Command("go", "build", "-o", ownBin, "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}

	for _, c := range []struct{ name, bin string }{
		{"protoc-gen-go-grpc", grpcBin},
		{"protoc-gen-go-grpcauth_binary", ownBin},
	} {
		b.Run(c.name, func(b *testing.B) {
			if !haveGRPC {
				b.Skipf("%s is missing: run scripts/tools.sh to install the pinned protoc-gen-go-grpc", grpcBin)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := execPlugin(c.bin, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
