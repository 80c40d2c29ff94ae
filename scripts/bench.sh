#!/usr/bin/env bash
# Runs the benchmarks with -count and prints, for each, the median ns/op,
# B/op and allocs/op and the ratio of its ns/op to the no-auth baseline
# measured in the same run. Raw output and benchstat's table go to .bench/.
# COUNT (default 6) and BENCHTIME (default 1s) tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .bench .bin
COUNT="${COUNT:-6}"
BENCHTIME="${BENCHTIME:-1s}"
[[ -x .bin/benchstat ]] || GOBIN="$PWD/.bin" go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
go test -run '^$' -bench 'BenchmarkUnary|BenchmarkRuleLookup' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./runtime/ | tee .bench/raw.txt
.bin/benchstat .bench/raw.txt > .bench/benchstat.txt || true
echo
awk '
/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name)
  for (i = 2; i < NF; i++) {
    if ($(i+1) == "ns/op")     ns[name] = ns[name] " " $i
    if ($(i+1) == "B/op")      bo[name] = bo[name] " " $i
    if ($(i+1) == "allocs/op") al[name] = al[name] " " $i
  }
  if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
function median(s,   a, k, i, j, t) {
  k = split(s, a, " ")
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
  base = median(ns["BenchmarkUnary/noauth"])
  printf "| benchmark | ns/op | B/op | allocs/op | vs noauth |\n|---|---:|---:|---:|---:|\n"
  for (i = 1; i <= n; i++) {
    m = order[i]; v = median(ns[m])
    r = (m ~ /^BenchmarkUnary/ && base > 0) ? sprintf("%.2fx", v / base) : "-"
    printf "| %s | %.0f | %.0f | %.0f | %s |\n", m, v, median(bo[m]), median(al[m]), r
  }
}' .bench/raw.txt
