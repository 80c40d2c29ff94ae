// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package loosening

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/grpcauth/protoc-gen-go-grpcauth/cmd/protoc-gen-go-grpcauth/generator"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Name is the command's name, as it prints it.
const Name = "grpcauth-check"

// The exit codes.
const (
	// ExitOK: no loosening, or every one accepted by the allow file.
	ExitOK = 0
	// ExitLoosened: a loosening that no allow file entry accepts.
	ExitLoosened = 1
	// ExitUsage: wrong arguments, or an input that cannot be read (a
	// malformed manifest, an image whose protos do not generate, a bad
	// allow file).
	ExitUsage = 2
	// ExitNoBase: nothing to compare against: the -against-git commit is
	// not in this clone (the first commit, a shallow clone) or holds no
	// manifests.
	ExitNoBase = 3
)

//go:embed manual.txt
var manual string

// Manual returns the user manual, the text -help prints.
func Manual() string { return manual }

// Env is what a run of the command reads and writes.
type Env struct {
	// Args are the command-line arguments, without the program name.
	Args []string
	// Stdout receives the report; Stderr usage and input errors.
	Stdout, Stderr io.Writer
}

// Run runs grpcauth-check as its main does and returns the exit code.
func Run(ctx context.Context, env Env) int {
	flags := flag.NewFlagSet(Name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	against := flags.String("against", "", "")
	againstGit := flags.String("against-git", "", "")
	accept := flags.String("accept", "", "")
	unannotated := flags.String("unannotated", "", "")
	help := flags.Bool("help", false, "")
	version := flags.Bool("version", false, "")
	usage := func(format string, args ...any) int {
		fmt.Fprintf(env.Stderr, "%s: "+format+"\nRun %s -help for the manual.\n", append(append([]any{Name}, args...), Name)...)
		return ExitUsage
	}
	if err := flags.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, manual)
			return ExitOK
		}
		return usage("%v", err)
	}
	switch {
	case *help:
		fmt.Fprint(env.Stdout, manual)
		return ExitOK
	case *version:
		fmt.Fprintln(env.Stdout, Name, runtime.Version)
		return ExitOK
	case flags.NArg() != 1:
		return usage("want one input (a folder of manifests or a buf image), got %d", flags.NArg())
	case (*against == "") == (*againstGit == ""):
		return usage("want one of -against INPUT and -against-git REF")
	case *unannotated != "" && *unannotated != "error" && *unannotated != "deny":
		return usage(`-unannotated %q: want "error" or "deny"`, *unannotated)
	}
	input := flags.Arg(0)

	var allow *AllowFile
	if *accept != "" {
		b, err := os.ReadFile(*accept)
		if err != nil {
			return usage("-accept: %v", err)
		}
		if allow, err = ReadAllowFile(*accept, b); err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", Name, err)
			return ExitUsage
		}
	}
	newSide, err := readInput(input, *unannotated)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", Name, err)
		return ExitUsage
	}
	var oldSide []*generator.Manifest
	base := *against
	if *againstGit != "" {
		if info, err := os.Stat(input); err != nil || !info.IsDir() {
			return usage("-against-git compares a folder of manifests with itself at a commit; %s is not a folder", input)
		}
		oldSide, base, err = readGit(ctx, *againstGit, input)
	} else {
		oldSide, err = readInput(*against, *unannotated)
	}
	var noBase *errNoBase
	switch {
	case errors.As(err, &noBase):
		fmt.Fprintf(env.Stdout, "%s: %s\n", Name, noBase.msg)
		return ExitNoBase
	case err != nil:
		fmt.Fprintf(env.Stderr, "%s: %v\n", Name, err)
		return ExitUsage
	}
	return report(env.Stdout, Compare(oldSide, newSide), allow, *accept, input, base)
}

// report prints the changes, loosenings first, and returns the exit code.
func report(w io.Writer, changes []Change, allow *AllowFile, allowName, input, base string) int {
	used := map[int]bool{}
	var loose, accepted, tight, info []Change
	reasons := map[int]string{}
	for _, c := range changes {
		switch c.Class() {
		case Loosening:
			if i := allow.match(c); i >= 0 {
				used[i] = true
				reasons[len(accepted)] = allow.Accept[i].Reason
				accepted = append(accepted, c)
				continue
			}
			loose = append(loose, c)
		case Tightening:
			tight = append(tight, c)
		default:
			info = append(info, c)
		}
	}
	fmt.Fprintf(w, "%s: %s against %s\n", Name, input, base)
	for _, c := range loose {
		fmt.Fprintln(w, c)
	}
	for i, c := range accepted {
		fmt.Fprintf(w, "accepted %s (%s: %q)\n", c, allowName, reasons[i])
	}
	for _, c := range tight {
		fmt.Fprintln(w, c)
	}
	for _, c := range info {
		fmt.Fprintln(w, c)
	}
	if allow != nil {
		for i, a := range allow.Accept {
			if !used[i] {
				fmt.Fprintf(w, "unused: %s: accept[%d] (%s %s) accepts nothing here; remove it once its change has landed\n", allowName, i, a.Method, a.Change)
			}
		}
	}
	verdict := "ok"
	if len(loose) > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d loosening%s, %d accepted, %d tightening%s, %d other change%s: %s\n", Name,
		len(loose), plural(len(loose)), len(accepted), len(tight), plural(len(tight)), len(info), plural(len(info)), verdict)
	if len(loose) > 0 {
		fmt.Fprintf(w, "%s: to accept an intended loosening, list it with a reason in an allow file passed with -accept (see -help)\n", Name)
		return ExitLoosened
	}
	return ExitOK
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
