// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package loosening

import (
	"bytes"
	"context"
	"flag"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/grpcauth/protoc-gen-go-grpcauth/authoptions"
	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

var update = flag.Bool("update", false, "rewrite manual.txt")

// TestManualIsPackageDoc keeps -help equal to main's package doc comment.
func TestManualIsPackageDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "main.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var p comment.Parser
	text := string((&comment.Printer{TextWidth: 0}).Text(p.Parse(f.Doc.Text())))
	if *update {
		if err := os.WriteFile("manual.txt", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(text, manual); diff != "" {
		t.Errorf("manual.txt is not the package doc; rerun with -update (-doc +manual):\n%s", diff)
	}
	if !strings.Contains(manual, "@"+runtime.Version+"\n") {
		t.Errorf("the manual does not install %s", runtime.Version)
	}
}

func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if dir != "" {
		t.Chdir(dir)
	}
	code := Run(context.Background(), Env{Args: args, Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// writeManifests writes ms into dir as the generator lays them out.
func writeManifests(t *testing.T, dir string, ms []*generator.Manifest) {
	t.Helper()
	for _, m := range ms {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.TrimSuffix(m.File, ".proto")+generator.ManifestSuffix)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunFolders(t *testing.T) {
	dir := t.TempDir()
	o, n := base(), base()
	n.Requirements[0].Scopes = []string{"read"}
	n.Transport = generator.TransportAny
	n.Requirements = append(n.Requirements, generator.ManifestRequirement{Credentials: []string{"API_KEY"}, Scopes: []string{"ops", "audit"}})
	writeManifests(t, filepath.Join(dir, "old"), manifest(o))
	writeManifests(t, filepath.Join(dir, "new"), manifest(n))
	code, out, errs := run(t, dir, "-against", "old", "new")
	want := `grpcauth-check: new against old
loosening: a.v1.S.M: SCOPE_REMOVED "write": requirement BEARER_JWT or OAUTH2_TOKEN with scopes read and write no longer needs write
loosening: a.v1.S.M: TLS_REQUIRED_LIFTED: TLS_REQUIRED lifted: calls in plaintext are accepted
info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement added: API_KEY with scopes ops and audit, which allows nobody the old requirements refused
grpcauth-check: 2 loosenings, 0 accepted, 0 tightenings, 1 other change: FAIL
grpcauth-check: to accept an intended loosening, list it with a reason in an allow file passed with -accept (see -help)
`
	if code != ExitLoosened || errs != "" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	// Accepted: one by kind and detail, one by kind; a stale entry is listed.
	allow := `{"accept": [
  {"method": "a.v1.S.M", "change": "SCOPE_REMOVED", "detail": "write", "reason": "write is implied by read now"},
  {"method": "a.v1.S.M", "change": "TLS_REQUIRED_LIFTED", "reason": "behind a TLS-terminating proxy"},
  {"method": "a.v1.S.M", "change": "SCOPE_REMOVED", "detail": "read", "reason": "not this one"}
]}`
	if err := os.WriteFile("grpcauth-loosening.json", []byte(allow), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "", "-against", "old", "-accept", "grpcauth-loosening.json", "new")
	want = `grpcauth-check: new against old
accepted loosening: a.v1.S.M: SCOPE_REMOVED "write": requirement BEARER_JWT or OAUTH2_TOKEN with scopes read and write no longer needs write (grpcauth-loosening.json: "write is implied by read now")
accepted loosening: a.v1.S.M: TLS_REQUIRED_LIFTED: TLS_REQUIRED lifted: calls in plaintext are accepted (grpcauth-loosening.json: "behind a TLS-terminating proxy")
info: a.v1.S.M: REQUIREMENTS_REWRITTEN: requirement added: API_KEY with scopes ops and audit, which allows nobody the old requirements refused
unused: grpcauth-loosening.json: accept[2] (a.v1.S.M SCOPE_REMOVED) accepts nothing here; remove it once its change has landed
grpcauth-check: 0 loosenings, 2 accepted, 0 tightenings, 1 other change: ok
`
	if code != ExitOK || errs != "" {
		t.Errorf("accepted: exit %d, stderr %q", code, errs)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("accepted report (-want +got):\n%s", diff)
	}

	// An entry of another detail accepts nothing.
	if err := os.WriteFile("other.json", []byte(`{"accept": [{"method": "a.v1.S.M", "change": "SCOPE_REMOVED", "detail": "read", "reason": "r"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "", "-against", "old", "-accept", "other.json", "new")
	if code != ExitLoosened || !strings.Contains(out, "\nloosening: a.v1.S.M: SCOPE_REMOVED \"write\"") || !strings.Contains(out, "unused: other.json: accept[0]") {
		t.Errorf("another detail: exit %d\n%s", code, out)
	}

	// The other way round: tightenings only.
	code, out, _ = run(t, "", "-against", "new", "old")
	if code != ExitOK || !strings.Contains(out, "tightening: a.v1.S.M: SCOPE_ADDED \"write\"") || !strings.HasSuffix(out, "0 loosenings, 0 accepted, 2 tightenings, 1 other change: ok\n") {
		t.Errorf("reversed: exit %d:\n%s", code, out)
	}
}

func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	writeManifests(t, filepath.Join(dir, "m"), manifest(base()))
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	dup := manifest(base())
	dup = append(dup, &generator.Manifest{Schema: generator.ManifestSchema, File: "a/v1/b.proto", Services: dup[0].Services})
	writeManifests(t, filepath.Join(dir, "dup"), dup)
	writeManifests(t, filepath.Join(dir, "bad"), manifest(base()))
	bad := filepath.Join(dir, "bad", "a", "v1", "a"+generator.ManifestSuffix)
	if err := os.WriteFile(bad, []byte(`{"schema": "grpcauth.manifest.v9"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"noreason.json": `{"accept": [{"method": "a.v1.S.M", "change": "MADE_PUBLIC", "reason": " "}]}`,
		"tight.json":    `{"accept": [{"method": "/a.v1.S/M", "change": "SCOPE_ADDED", "reason": "r"}]}`,
		"field.json":    `{"accept": [{"method": "a.v1.S.M", "change": "MADE_PUBLIC", "reason": "r", "until": "2027"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"m"}, ExitUsage, "grpcauth-check: want one of -against INPUT and -against-git REF\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-against", "m", "-against-git", "HEAD", "m"}, ExitUsage, "grpcauth-check: want one of -against INPUT and -against-git REF\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-against", "m"}, ExitUsage, "grpcauth-check: want one input (a folder of manifests or a buf image), got 0\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-frob"}, ExitUsage, "grpcauth-check: flag provided but not defined: -frob\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-against", "m", "-unannotated", "allow", "m"}, ExitUsage, "grpcauth-check: -unannotated \"allow\": want \"error\" or \"deny\"\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-against", "empty", "m"}, ExitUsage, "grpcauth-check: empty: no manifests (*_grpcauth.manifest.json): generate with the parameter manifest=true\n"},
		{[]string{"-against", "missing", "m"}, ExitUsage, "grpcauth-check: stat missing: no such file or directory\n"},
		{[]string{"-against", "m", "dup"}, ExitUsage, "grpcauth-check: a.v1.S.M: in dup/a/v1/a_grpcauth.manifest.json and dup/a/v1/b_grpcauth.manifest.json\n"},
		{[]string{"-against", "bad", "m"}, ExitUsage, "grpcauth-check: bad/a/v1/a_grpcauth.manifest.json: schema \"grpcauth.manifest.v9\": this version reads \"grpcauth.manifest.v1\" only\n"},
		{[]string{"-against", "m", "-accept", "none.json", "m"}, ExitUsage, "grpcauth-check: -accept: open none.json: no such file or directory\nRun grpcauth-check -help for the manual.\n"},
		{[]string{"-against", "m", "-accept", "noreason.json", "m"}, ExitUsage, "grpcauth-check: noreason.json: accept[0]: reason is required: say why the loosening is intended\n"},
		{[]string{"-against", "m", "-accept", "tight.json", "m"}, ExitUsage, "grpcauth-check: tight.json: accept[0]: method \"/a.v1.S/M\": write the method's full proto name, such as \"a.v1.S.M\"\ntight.json: accept[0]: change \"SCOPE_ADDED\" is not a loosening's kind\n"},
		{[]string{"-against", "m", "-accept", "field.json", "m"}, ExitUsage, "grpcauth-check: field.json: json: unknown field \"until\"\n"},
		{[]string{"-against", "m", "noreason.json"}, ExitUsage, "grpcauth-check: noreason.json: only binary images are read: buf build -o image.binpb\n"},
		{[]string{"-against-git", "-x", "m"}, ExitUsage, "grpcauth-check: -against-git \"-x\": not a commit name\n"},
	} {
		code, out, errs := run(t, "", tc.args...)
		if code != tc.code || errs != tc.stderr || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr\n%s\nwant exit %d, stderr\n%s", tc.args, code, out, errs, tc.code, tc.stderr)
		}
	}
	code, out, _ := run(t, "", "-help")
	if code != 0 || out != manual {
		t.Errorf("-help: exit %d", code)
	}
	code, out, _ = run(t, "", "-version")
	if code != 0 || out != "grpcauth-check "+runtime.Version+"\n" {
		t.Errorf("-version: exit %d, %q", code, out)
	}
}

// gitRepo makes a repository in dir with the given commits, each a set of
// manifests under gen/ (nil: a commit without gen/).
func gitRepo(t *testing.T, dir string, commits ...[]*generator.Manifest) {
	t.Helper()
	g := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	g("init", "-q", "-b", "main")
	for i, ms := range commits {
		if err := os.RemoveAll(filepath.Join(dir, "gen")); err != nil {
			t.Fatal(err)
		}
		if ms != nil {
			writeManifests(t, filepath.Join(dir, "gen"), ms)
		}
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte{byte('0' + i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		g("add", "-A")
		g("commit", "-q", "-m", "c")
	}
}

func TestRunGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	o, n := base(), base()
	n.Access, n.PublicReason, n.Requirements, n.Condition = generator.AccessPublic, "open", nil, ""
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, repo, nil, manifest(o), manifest(n))

	// The working tree (the last commit) against the one before, from the
	// repository's root and from a folder below it.
	want := `grpcauth-check: gen against HEAD~1:gen
loosening: a.v1.S.M: MADE_PUBLIC: now public (open); was BEARER_JWT or OAUTH2_TOKEN with scopes read and write; or API_KEY with scope ops, over TLS only, if principal.subject != ''
loosening: a.v1.S.M: CONDITION_REMOVED: condition "principal.subject != ''" removed
grpcauth-check: 2 loosenings, 0 accepted, 0 tightenings, 0 other changes: FAIL
grpcauth-check: to accept an intended loosening, list it with a reason in an allow file passed with -accept (see -help)
`
	code, out, errs := run(t, repo, "-against-git", "HEAD~1", "gen")
	if code != ExitLoosened || errs != "" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	code, out, _ = run(t, filepath.Join(repo, "gen", "a"), "-against-git", "HEAD~1", "..")
	if code != ExitLoosened || !strings.Contains(out, "MADE_PUBLIC") || !strings.HasPrefix(out, "grpcauth-check: .. against HEAD~1:gen\n") {
		t.Errorf("from a subfolder: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name, dir, ref, want string
	}{
		{"a commit without manifests", repo, "HEAD~2", "grpcauth-check: HEAD~2 holds no manifests (*_grpcauth.manifest.json) under gen: nothing to compare against\n"},
		{"before the first commit", repo, "HEAD~3", "grpcauth-check: HEAD~3 is not a commit here (the first commit, or a clone without that history): nothing to compare against\n"},
	} {
		code, out, errs := run(t, tc.dir, "-against-git", tc.ref, "gen")
		if code != ExitNoBase || out != tc.want || errs != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 3, %q", tc.name, code, out, errs, tc.want)
		}
	}

	// A shallow clone, as CI often makes, has no HEAD~1; a full clone has.
	shallow := filepath.Join(root, "shallow")
	if out, err := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+repo, shallow).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	code, out, _ = run(t, shallow, "-against-git", "HEAD~1", "gen")
	if want := "grpcauth-check: HEAD~1 is not a commit here (this clone is shallow: fetch more history (git fetch --deepen=1, or actions/checkout with fetch-depth: 2)): nothing to compare against\n"; code != ExitNoBase || out != want {
		t.Errorf("shallow clone: exit %d, %q", code, out)
	}
	full := filepath.Join(root, "full")
	if out, err := exec.Command("git", "clone", "-q", repo, full).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if code, out, _ = run(t, full, "-against-git", "HEAD~1", "gen"); code != ExitLoosened {
		t.Errorf("full clone: exit %d\n%s", code, out)
	}

	outside := t.TempDir()
	writeManifests(t, outside, manifest(o))
	if code, _, errs = run(t, outside, "-against-git", "HEAD~1", "."); code != ExitUsage || !strings.Contains(errs, ": not in a git repository: git rev-parse: ") {
		t.Errorf("outside a repository: exit %d, %q", code, errs)
	}
}

// buf returns the pinned buf of this repository (scripts/tools.sh
// installs it), or skips the test.
func buf(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "..", ".bin", "buf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s: run scripts/tools.sh", path)
	}
	return path
}

// bufImage builds an image of a workspace holding proto (as shop/v1/shop.proto)
// and the grpcauth options.
func bufImage(t *testing.T, bufPath, dir, proto string) string {
	t.Helper()
	if err := authoptions.Export(filepath.Join(dir, "third_party", "grpcauth")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "proto", "shop", "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proto", "shop", "v1", "shop.proto"), []byte(proto), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "buf.yaml"), []byte("version: v2\nmodules:\n  - path: proto\n  - path: third_party/grpcauth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "image.binpb")
	cmd := exec.Command(bufPath, "build", "-o", image)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, out)
	}
	return image
}

// TestRunImages compares two versions of protos built by real buf into
// images: the manifests are computed in process. The protos have no
// go_package, as with buf's managed mode.
func TestRunImages(t *testing.T) {
	bufPath := buf(t)
	const v1 = `syntax = "proto3";
package shop.v1;
import "grpcauth/v1/auth.proto";
service Shop {
  rpc Get(Req) returns (Res) {
    option (grpcauth.v1.method) = { requirements: { credentials: [BEARER_JWT] scopes: ["shop.read", "shop.admin"] } };
  }
  rpc Legacy(Req) returns (Res);
}
message Req {}
message Res {}
`
	v2 := strings.Replace(v1, `"shop.read", "shop.admin"`, `"shop.read"`, 1)
	v2 = strings.Replace(v2, "rpc Legacy(Req) returns (Res);", `rpc Legacy(Req) returns (Res) {
    option (grpcauth.v1.method) = { public: { reason: "legacy clients" } };
  }`, 1)
	root := t.TempDir()
	old := bufImage(t, bufPath, filepath.Join(root, "old"), v1)
	neu := bufImage(t, bufPath, filepath.Join(root, "new"), v2)

	code, out, errs := run(t, root, "-against", old, "-unannotated", "deny", neu)
	want := `grpcauth-check: ` + neu + ` against ` + old + `
loosening: shop.v1.Shop.Get: SCOPE_REMOVED "shop.admin": requirement BEARER_JWT with scopes shop.read and shop.admin no longer needs shop.admin
loosening: shop.v1.Shop.Legacy: MADE_PUBLIC: now public (legacy clients); was undeclared (every call denied)
grpcauth-check: 2 loosenings, 0 accepted, 0 tightenings, 0 other changes: FAIL
grpcauth-check: to accept an intended loosening, list it with a reason in an allow file passed with -accept (see -help)
`
	if code != ExitLoosened || errs != "" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	// Without unannotated=deny the old protos do not generate.
	code, out, errs = run(t, root, "-against", old, neu)
	if want := "grpcauth-check: " + old + ": the protos do not generate:\n  shop.v1.Shop.Legacy: no auth rule: set (grpcauth.v1.method), (grpcauth.v1.service) or (grpcauth.v1.file), or mark it public with a reason\n"; code != ExitUsage || out != "" || errs != want {
		t.Errorf("findings: exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, want)
	}
	// An image against manifests written from the same protos: no change.
	manifests := filepath.Join(root, "manifests")
	writeManifests(t, manifests, mustImage(t, neu))
	if code, out, _ = run(t, root, "-against", manifests, neu); code != ExitOK || !strings.HasSuffix(out, ": 0 loosenings, 0 accepted, 0 tightenings, 0 other changes: ok\n") {
		t.Errorf("image against its manifests: exit %d\n%s", code, out)
	}
}

func mustImage(t *testing.T, path string) []*generator.Manifest {
	t.Helper()
	ms, err := readImage(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestImageOfThisRepository builds this repository's protos into an image
// and compares it with the checked-in manifests of gen/: the manifests
// computed from an image are those buf generate writes.
func TestImageOfThisRepository(t *testing.T) {
	bufPath := buf(t)
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(t.TempDir(), "image.binpb")
	cmd := exec.Command(bufPath, "build", "-o", image)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, out)
	}
	code, out, errs := run(t, repo, "-against", "gen", image)
	if code != ExitOK || errs != "" || !strings.HasSuffix(out, ": 0 loosenings, 0 accepted, 0 tightenings, 0 other changes: ok\n") {
		t.Errorf("exit %d, stderr %q\n%s", code, errs, out)
	}
	// And every file with services was compared: as many as in gen/.
	fromImage, fromGen := mustImage(t, image), 0
	_ = filepath.WalkDir(filepath.Join(repo, "gen"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, generator.ManifestSuffix) {
			fromGen++
		}
		return nil
	})
	if len(fromImage) != fromGen || fromGen < 3 {
		t.Errorf("%d manifests from the image, %d in gen/", len(fromImage), fromGen)
	}
}
