#!/usr/bin/env bash
# Runs every check: regenerate and diff, go vet, golangci-lint, all tests
# with -race, and the consumer test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== regenerate and diff"
scripts/generate.sh
if [[ -n "$(git status --porcelain -- authoptions gen cmd/protoc-gen-go-grpcauth)" ]]; then
  git status --porcelain -- authoptions gen cmd/protoc-gen-go-grpcauth
  git --no-pager diff --stat -- authoptions gen cmd/protoc-gen-go-grpcauth
  echo "FAIL: checked-in generated files are stale; run scripts/generate.sh and commit" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== golangci-lint"
scripts/lint.sh

echo "== go test -race"
go test -race -count=1 ./...

echo "== consumer test"
scripts/consumer.sh
