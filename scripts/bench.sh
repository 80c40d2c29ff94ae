#!/usr/bin/env bash
# Runs every benchmark ROUNDS times, interleaved (each round runs all of
# them once, so drift on the machine hits baseline and variant alike), then
# prints benchstat's summary and a table of medians with each row's ratio to
# its baseline measured in the same run:
#   BenchmarkAuth/<transport>/*  vs  BenchmarkAuth/<transport>/noauth (stream_* vs stream_noauth)
#   BenchmarkKinds/*             vs  BenchmarkKinds/noauth_tls
#   BenchmarkCondition/*         vs  BenchmarkCondition/none
#   BenchmarkRevocation/*        vs  BenchmarkRevocation/off (redis needs GRPCAUTH_REDIS_ADDR)
#   BenchmarkClient/*            vs  BenchmarkClient/plain_client
#   BenchmarkVerify/lib|cold|hot_<a> vs BenchmarkVerify/bare_<a> (the bare signature check;
#                                lib_ is go-jose alone: parse and verify)
#   BenchmarkGenerate1000/*      vs  BenchmarkGenerate1000/protoc-gen-go-grpc
#   BenchmarkPeers/*             vs  BenchmarkPeers/noauth_header (parallel_* vs parallel_noauth_header,
#                                stream_* vs stream_noauth_header): go-grpc-middleware with golang-jwt,
#                                grpc-go's authz and this project, from the module benchmarks/peers
# Rows that report cpu-ns/op (the process's CPU time per call) get a second
# table of its medians and ratios.
# ROUNDS (default 6), BENCHTIME (default 1s) and BENCH (a -bench regexp,
# default all) tune it. Output goes to .bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-6}"
BENCHTIME="${BENCHTIME:-1s}"
BENCH="${BENCH:-.}"
mkdir -p .bench
scripts/tools.sh # protoc-gen-go-grpc, the plugin benchmark's baseline
[[ -x .bin/benchstat ]] || GOBIN="$PWD/.bin" go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# benchmarks/peers is a module of its own (the main module does not depend
# on the peers): its test binary is built inside it.
pkgs=(./runtime ./runtime/jwtauth ./runtime/celcond ./cmd/protoc-gen-go-grpcauth/generator ./benchmarks/peers)
for p in "${pkgs[@]}"; do
  if [[ -f "$p/go.mod" ]]; then
    (cd "$p" && go test -c -o "$OLDPWD/.bench/$(basename "$p").test" .)
  else
    go test -c -o ".bench/$(basename "$p").test" "$p"
  fi
done
: > .bench/raw.txt
{
  echo "goos: $(go env GOOS)"
  echo "goarch: $(go env GOARCH)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
} >> .bench/raw.txt
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  for p in "${pkgs[@]}"; do
    (cd "$p" && "$OLDPWD/.bench/$(basename "$p").test" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.benchtime "$BENCHTIME" -test.count 1) |
      grep -E '^Benchmark' >> .bench/raw.txt || true
  done
done
.bin/benchstat .bench/raw.txt > .bench/benchstat.txt || true
cat .bench/benchstat.txt
echo
awk -f scripts/ratios.awk .bench/raw.txt | tee .bench/ratios.md
