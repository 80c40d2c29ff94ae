#!/usr/bin/env bash
# Runs golangci-lint with the repository's .golangci.yml, installing the
# pinned version into .bin/ first (it is not a module requirement).
set -euo pipefail
cd "$(dirname "$0")/.."
version=v2.15.0
if [[ "$(.bin/golangci-lint version --short 2>/dev/null || true)" != "${version#v}" ]]; then
  echo "installing golangci-lint $version" >&2
  GOBIN="$PWD/.bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
fi
.bin/golangci-lint run ./...
# benchmarks/peers is a module of its own, which ./... leaves out; the same
# configuration (.golangci.yml, found from the parent folders) applies.
(cd benchmarks/peers && ../../.bin/golangci-lint run ./...)
