#!/usr/bin/env bash
# Installs the pinned code generators, and grpcurl for a test, into .bin/
# (only Go is needed).
# They are kept out of the main module's requirements: users of runtime/ do
# not inherit buf's dependency graph.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=(
  github.com/bufbuild/buf/cmd/buf@v1.75.0
  google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
  google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.33.0
  connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
  github.com/envoyproxy/protoc-gen-validate@v1.3.3
  # For TestGrpcurl: the troubleshooting guide's grpcurl invocation, run.
  github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
)
stamp=".bin/.versions"
want="$(printf '%s\n' "${TOOLS[@]}")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
mkdir -p .bin
for t in "${TOOLS[@]}"; do
  echo "installing $t" >&2
  GOBIN="$PWD/.bin" go install "$t"
done
printf '%s\n' "$want" > "$stamp"
