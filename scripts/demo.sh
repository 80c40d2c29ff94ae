#!/usr/bin/env bash
# Installs the pinned generators, regenerates, starts the example server and
# runs the client demo against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/generate.sh
go run ./examples/library/demo
