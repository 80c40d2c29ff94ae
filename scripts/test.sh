#!/usr/bin/env bash
# Runs every check: regenerate and diff, the loosening check against the
# previous commit, buf lint with the grpcauth plugin, go vet, golangci-lint,
# that the core links no Redis, connect-go, grpc-gateway or validator, all tests with -race (the Redis ones
# against the server at GRPCAUTH_REDIS_ADDR, skipped when it is not set
# outside CI), the peer benchmarks' module (benchmarks/peers: vet, its test,
# each benchmark once), and the consumer test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Redis tests (runtime/redisstore, the demo on Redis) need a Redis 7
# server; nothing kept on disk is needed. Under CI (CI=true, as .ci/run
# sets it) they run against 127.0.0.1:6379 unless GRPCAUTH_REDIS_ADDR says
# otherwise, and fail if it cannot be reached.
redis_note=""
if [[ -z "${GRPCAUTH_REDIS_ADDR:-}" && "${CI:-}" == "true" ]]; then
  export GRPCAUTH_REDIS_ADDR=127.0.0.1:6379
fi
if [[ -n "${GRPCAUTH_REDIS_ADDR:-}" ]]; then
  echo "== Redis tests run against ${GRPCAUTH_REDIS_ADDR} (they fail if it cannot be reached)"
else
  redis_note="SKIPPED: the Redis tests, since GRPCAUTH_REDIS_ADDR is not set. To run them, start a Redis 7 and run: GRPCAUTH_REDIS_ADDR=127.0.0.1:6379 ./scripts/test.sh"
  echo "== $redis_note"
fi

echo "== regenerate and diff"
scripts/generate.sh
if [[ -n "$(git status --porcelain -- authoptions gen cmd)" ]]; then
  git status --porcelain -- authoptions gen cmd
  git --no-pager diff --stat -- authoptions gen cmd
  echo "FAIL: checked-in generated files are stale; run scripts/generate.sh and commit" >&2
  exit 1
fi

echo "== loosening check: gen/ against the previous commit's manifests"
# Accepted loosenings are listed, with a reason, in grpcauth-loosening.json.
# Exit code 3 is "nothing to compare against" (the first commit with
# manifests, or a shallow clone): said plainly, and not a failure here.
# (Built, not go run: go run turns every exit code into 1. The folder also
# holds the lint plugin, below.)
checkbin="$(mktemp -d)"
trap 'rm -rf "$checkbin"' EXIT
go build -o "$checkbin/grpcauth-check" ./cmd/grpcauth-check
rc=0
"$checkbin/grpcauth-check" -against-git HEAD~1 -accept grpcauth-loosening.json gen || rc=$?
case "$rc" in
  0) ;;
  3) echo "(loosening check skipped: no manifests to compare against)" ;;
  *) exit "$rc" ;;
esac

echo "== buf lint with buf-plugin-grpcauth (GRPCAUTH rules only: buf.grpcauth-lint.yaml)"
go build -o "$checkbin/buf-plugin-grpcauth" ./cmd/buf-plugin-grpcauth
PATH="$checkbin:$PWD/.bin:$PATH" buf lint --config buf.grpcauth-lint.yaml

echo "== go vet"
go vet ./...

echo "== golangci-lint"
scripts/lint.sh

echo "== the core links no Redis, connect-go, grpc-gateway or validator (TestLeanCore too)"
core=(./runtime ./runtime/jwtauth ./runtime/introspection ./runtime/apikey ./runtime/mtls ./runtime/celcond ./runtime/revocation)
if go list -deps "${core[@]}" | grep -F 'github.com/redis/go-redis'; then
  echo "FAIL: a core package links go-redis; only runtime/redisstore may" >&2
  exit 1
fi
# A grpc-go user: the core and generated code (gen/library/v1 links the
# buf/validate options' descriptors, as its .proto uses them; no validator).
if go list -deps "${core[@]}" ./gen/library/v1 | grep -E '^(connectrpc\.com/|github\.com/grpc-ecosystem/grpc-gateway/|buf\.build/go/protovalidate|github\.com/envoyproxy/protoc-gen-validate)'; then
  echo "FAIL: a grpc-go user links connect-go, grpc-gateway or a validator; only runtime/connectauth, runtime/gatewayauth and gen/gateway may" >&2
  exit 1
fi

echo "== go test -race"
go test -race -count=1 ./...

echo "== benchmarks/peers: a module of its own, vetted, TestPeers and each benchmark once"
# The peer benchmarks (go-grpc-middleware, golang-jwt) live in a module of
# their own so that the main module does not depend on them: check that it
# does not, and that what the peers' module builds from modules the main
# module also uses is at the main module's versions (a peer's requirements
# must not move grpc or go-jose under the comparison).
if go list -m all | grep -E '^github\.com/(golang-jwt/|grpc-ecosystem/go-grpc-middleware)'; then
  echo "FAIL: the main module requires a peer; only benchmarks/peers may" >&2
  exit 1
fi
main_mods="$(go list -m -f '{{if not .Main}}{{.Path}} {{.Version}}{{end}}' all | sort -u)"
(
  cd benchmarks/peers
  go mod tidy -diff || { echo "FAIL: benchmarks/peers/go.mod is not tidy: (cd benchmarks/peers && go mod tidy)" >&2; exit 1; }
  peer_mods="$(go list -deps -test -f '{{with .Module}}{{if not .Main}}{{if not .Replace}}{{.Path}} {{.Version}}{{end}}{{end}}{{end}}' ./... | sort -u)"
  moved="$(join <(echo "$main_mods") <(echo "$peer_mods") | awk '$2 != $3')"
  if [[ -n "$moved" ]]; then
    echo "$moved"
    echo "FAIL: benchmarks/peers builds a shared module at another version than the main module (path, main, peers above)" >&2
    exit 1
  fi
  go vet ./...
  go test -race -count=1 -bench . -benchtime 1x ./...
)

echo "== consumer test"
scripts/consumer.sh

if [[ -n "$redis_note" ]]; then
  echo "== $redis_note"
fi
