#!/usr/bin/env bash
# Counts the instructions one call costs, with valgrind's callgrind, for the
# few-percent questions wall-clock benchmarks cannot settle on a shared VM
# (bench.sh's gRPC rows carry ±20–40% intervals here). Instruction counts
# are repeatable: the same binary and inputs give the same count to a
# fraction of a percent, whatever else the machine is doing. They are not
# time (a cheap byte loop and a cache miss are both one instruction), so
# read them beside bench.sh's medians, not instead of them.
#
# How: each benchmark runs alone under callgrind with -benchtime ${N}x.
# Counting starts at the benchmark's last ResetTimer (after its set-up and
# warm-up call) and stops at StopTimer, so a count covers exactly N calls,
# client, server and gRPC included. GOMAXPROCS=1 keeps idle threads from
# spinning into the count, GOGC=off keeps the collector's timing out of it
# (allocations are counted by bench.sh: B/op and allocs/op),
# memprofilerate=0 keeps the runtime's heap profile samples out of it (a
# stack walk of some 20,000 instructions at random intervals, one per
# 512 KiB allocated on average: noise in a count, and in proportion to
# B/op, which bench.sh reports), and two
# runtime features valgrind 3.19 cannot run are switched off (the RDTSCP
# instruction and signal-based preemption).
#
# N (default 3000) tunes it; CG_GODEBUG adds GODEBUG settings; ROW_WARMUP
# (default 3000) is how many calls each BenchmarkPeers row makes before
# its timer starts: the Go runtime fills its type-switch and
# type-assertion caches at random, about one miss in 1,024, and a row
# counted cold pays a number of itab look-ups that differs from process to
# process (±200-300 instructions a call; with the warm-up, ±60-130). ONLY
# (a regexp) keeps the groups whose
# benchmark prefix matches it (ONLY=Peers: the peer rows alone, from the
# module benchmarks/peers; a test binary is built only for the groups
# kept); ROWS (a regexp) keeps, of those, the rows whose full name matches it
# and each group's baseline. BenchmarkRevocation/redis needs a Redis server at
# GRPCAUTH_REDIS_ADDR and is left out without one. Output: a table of
# instructions per call and each row's ratio to its baseline (the first row
# of its group), also in .bench/callgrind.md.
#
# Each row is also counted "less the draws": less what a process draws at
# random, which moves a row by up to ±400 instructions from one process to
# the next whatever the code. That is the slow paths of type assertions and
# type switches (runtime.typeAssert, runtime.interfaceSwitch), which a call
# site takes until the runtime happens to cache its type (one miss in
# 1,024, less often as its cache grows: grpc-go's control buffer asserts a
# dozen types at one site), and which a long-running server no longer
# takes; and the map look-ups of HPACK's header tables, whose cost depends
# on the hash seed each table draws (the same look-ups in every row). The
# calls themselves are counted as before: only those callees' costs are
# taken out. Compare rows with either column, not one with the other.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-3000}"
# WORKERS=n serves the benchmarks' calls on n long-lived gRPC stream workers
# (GRPCAUTH_BENCH_WORKERS, grpc.NumStreamWorkers): a new goroutine per call
# grows its stack by copying, at a cost that depends on where the call's
# frames overflow it and moves up to 25,000 instructions between rows;
# workers keep their grown stacks, which leaves the work alone in the count.
# The table then goes to .bench/callgrind-workers.md.
WORKERS="${WORKERS:-}"
table=.bench/callgrind.md
[[ -n "$WORKERS" ]] && table=.bench/callgrind-workers.md
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 1; }
mkdir -p .bench/callgrind
# groups: baseline first, then the rows compared with it.
groups=(
  "BenchmarkAuth/bufconn: noauth noauth_header hot"
  "BenchmarkAuth/bufconn: stream_noauth stream_hot"
  "BenchmarkStreamMessage: noauth unguarded guarded"
  "BenchmarkMetadata: one strict copy"
  "BenchmarkCondition: none simple tenant_claim"
  "BenchmarkKinds: noauth_tls jwt_rs256 oauth2_introspection api_key mtls"
  "BenchmarkRevocation: off memory redis"
  "BenchmarkTelemetry: hot hot_metrics"
  "BenchmarkTelemetry: otelgrpc_hot otelgrpc_hot_otelauth"
  "BenchmarkPeers: noauth_header noauth gomw_jwt gomw_jwt_cache authz_static gomw_jwt_authz grpcauth_hot grpcauth_cold"
  "BenchmarkPeers: stream_noauth_header stream_noauth_wrapped stream_gomw_jwt_cache stream_grpcauth_hot stream_grpcauth_unguarded"
)

# pkg: the folder whose test binary holds a benchmark. BenchmarkPeers is in
# benchmarks/peers, a module of its own (the main module does not depend on
# the peers); the rest are in runtime.
pkg() { case "$1" in BenchmarkPeers*) echo benchmarks/peers ;; *) echo runtime ;; esac; }

# build compiles a folder's test binary once, inside its own module.
# -l for package testing only: ResetTimer and StopTimer must stay real
# calls for callgrind to see them; the code measured is compiled as usual.
declare -A built=()
build() { # $1: folder
  [[ -n "${built[$1]:-}" ]] && return
  (cd "$1" && go test -c -gcflags=testing=-l -o "$OLDPWD/.bench/$(basename "$1").cg.test" .) >&2
  built[$1]=1
}

# drawsOut prints a dump's total instructions, and the total less the
# draws (see above): the inclusive costs of the calls into those callees
# (a name with a suffix of a quote and a number is a recursion of the
# same function).
drawsOut() { # $1: a callgrind dump
  awk -v q="'" '
function id(s) { s = substr(s, 2); sub(/\).*/, "", s); return s }
function named(s, rest) { rest = s; if (sub(/^\([0-9]+\) /, "", rest)) names[id(s)] = rest; return names[id(s)] }
function bare(s, i) { i = index(s, q); return i ? substr(s, 1, i - 1) : s }
/^fn=/ { fn = bare(named(substr($0, 4))); next }
/^cfn=/ { cfn = bare(named(substr($0, 5))); next }
/^calls=/ { pending = 1; next }
pending {
  pending = 0
  if ((cfn == "runtime.typeAssert" || cfn == "runtime.interfaceSwitch") && fn != cfn) drawn += $2
  else if (fn == "golang.org/x/net/http2/hpack.(*headerFieldTable).search" && cfn ~ /^runtime\.mapaccess/) drawn += $2
  next
}
/^totals:/ { total = $2 }
END { printf "%.0f %.0f\n", total, total - drawn }
' "$1"
}

count() { # $1: benchmark path; prints instructions per call, and less the draws
  local path="$1" re="" part out dir
  dir="$(pkg "$path")"
  IFS=/ read -ra parts <<< "$path"
  for part in "${parts[@]}"; do re+="${re:+/}^${part}\$"; done
  out=".bench/callgrind/$(echo "$path" | tr '/' '_')"
  rm -f "$out".*
  (cd "$dir" && GRPCAUTH_BENCH_WORKERS="$WORKERS" GRPCAUTH_BENCH_WARMUP=0 GRPCAUTH_BENCH_ROW_WARMUP="${ROW_WARMUP:-3000}" GOMAXPROCS=1 GOGC=off GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1,memprofilerate=0${CG_GODEBUG:+,$CG_GODEBUG} \
    valgrind --tool=callgrind --dump-instr=no \
      --zero-before='testing.(*B).ResetTimer' --dump-before='testing.(*B).StopTimer' \
      --callgrind-out-file="$OLDPWD/$out.%p" \
      "$OLDPWD/.bench/$(basename "$dir").cg.test" -test.run '^$' -test.bench "$re" -test.benchtime "${N}x" -test.cpu 1 \
      >/dev/null 2>"$OLDPWD/$out.log") || { echo "callgrind.sh: $path failed; see $out.log" >&2; exit 1; }
  # The N-call run is the largest dump (the 1-call probe and the parents'
  # tails are small). A dump's own cost is its "totals:" line; "summary:"
  # can also hold what another thread ran before the counters were zeroed.
  local f
  for f in "$out".[0-9]*; do drawsOut "$f"; done |
    awk -v n="$N" '$1 > max { max = $1; steady = $2 } END { printf "%.0f %.0f\n", max / n, steady / n }'
}

{
  [[ -n "$WORKERS" ]] && echo "Served on $WORKERS gRPC stream workers (WORKERS=$WORKERS)." && echo
  echo "| benchmark | instructions/call | ratio | vs | less the draws | ratio |"
  echo "|---|---:|---:|---|---:|---:|"
  for g in "${groups[@]}"; do
    prefix="${g%%:*}"; read -ra rows <<< "${g#*: }"
    [[ -z "${ONLY:-}" || "$prefix" =~ $ONLY ]] || continue
    build "$(pkg "$prefix")"
    base=""
    for r in "${rows[@]}"; do
      if [[ -n "${ROWS:-}" && -n "$base" && ! "$prefix/$r" =~ $ROWS ]]; then
        continue
      fi
      if [[ "$prefix/$r" == BenchmarkRevocation/redis && -z "${GRPCAUTH_REDIS_ADDR:-}" ]]; then
        echo "callgrind: $prefix/$r skipped: GRPCAUTH_REDIS_ADDR is not set" >&2
        continue
      fi
      echo "callgrind: $prefix/$r" >&2
      read -r c cs <<< "$(count "$prefix/$r")"
      if [[ -z "$base" ]]; then
        base="$c"; bases="$cs"; echo "| $prefix/$r | $c | - | | $cs | - |"
      else
        awk -v p="$prefix/$r" -v c="$c" -v b="$base" -v cs="$cs" -v bs="$bases" -v r="${rows[0]}" \
          'BEGIN { printf "| %s | %d | %.3fx | %s | %d | %.3fx |\n", p, c, c / b, r, cs, cs / bs }'
      fi
    done
  done
} | tee "$table"
