#!/usr/bin/env bash
# Regenerates every checked-in generated file: buf generate for authoptions/
# and gen/, the generator's golden files and manual, and grpcauth-check's
# manual.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
PATH="$PWD/.bin:$PATH" buf generate
go test ./cmd/protoc-gen-go-grpcauth/generator -run 'TestGolden|TestManualIsPackageDoc' -update >/dev/null
go test ./cmd/grpcauth-check/loosening -run TestManualIsPackageDoc -update >/dev/null
