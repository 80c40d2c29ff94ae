# Medians per benchmark and the ratio of each to its baseline; see bench.sh.
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  for (i = 2; i < NF; i++) {
    if ($(i+1) == "ns/op")     ns[name] = ns[name] " " $i
    if ($(i+1) == "B/op")      bo[name] = bo[name] " " $i
    if ($(i+1) == "allocs/op") al[name] = al[name] " " $i
    if ($(i+1) == "cpu-ns/op") { cpu[name] = cpu[name] " " $i; hascpu = 1; cpuk[name]++; cpuv[name, cpuk[name]] = $i }
  }
  if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
# quantile q (0..1) of the k values in array a[1..k], sorted in place.
function quantile(a, k, q,   i, j, t, p, f) {
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  p = 1 + q * (k - 1); f = int(p)
  return (f >= k) ? a[k] : a[f] + (p - f) * (a[f + 1] - a[f])
}
function median(s,   a, k, i, j, t) {
  k = split(s, a, " ")
  if (k == 0) return ""
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function baseline(m,   g, parts, k, last, alg, i) {
  k = split(m, parts, "/"); last = parts[k]
  g = parts[1]; for (i = 2; i < k; i++) g = g "/" parts[i]
  if (parts[1] == "BenchmarkAuth") return (last ~ /^stream_/) ? g "/stream_noauth" : (last ~ /^parallel_/) ? g "/parallel_noauth" : g "/noauth"
  if (parts[1] == "BenchmarkKinds") return g "/noauth_tls"
  if (parts[1] == "BenchmarkCondition") return g "/none"
  if (parts[1] == "BenchmarkRevocation") return g "/off"
  if (parts[1] == "BenchmarkClient") return g "/plain_client"
  if (parts[1] == "BenchmarkGenerate1000") return g "/protoc-gen-go-grpc"
  if (parts[1] == "BenchmarkPeers") return (last ~ /^stream_/) ? g "/stream_noauth_header" : (last ~ /^parallel_/) ? g "/parallel_noauth_header" : g "/noauth_header"
  if (parts[1] == "BenchmarkVerify") { alg = last; sub(/^[a-z]+_/, "", alg); return g "/bare_" alg }
  return ""
}
END {
  printf "| benchmark | ns/op | B/op | allocs/op | ratio | vs |\n|---|---:|---:|---:|---:|---|\n"
  for (i = 1; i <= n; i++) {
    m = order[i]; v = median(ns[m]); b = baseline(m); r = "-"; vs = ""
    if (b != "" && b != m && (b in seen)) { r = sprintf("%.3fx", v / median(ns[b])); vs = b; sub(/^Benchmark[^\/]*\//, "", vs) }
    printf "| %s | %.0f | %.0f | %.0f | %s | %s |\n", m, v, median(bo[m]), median(al[m]), r, vs
  }
  if (!hascpu) exit
  # CPU time per call (user and system, the whole process), as the rows that
  # report cpu-ns/op measure it: on a parallel row, unlike ns/op, the CPU of
  # all callers.
  printf "\n| benchmark | cpu-ns/op | cpu ratio | vs |\n|---|---:|---:|---|\n"
  for (i = 1; i <= n; i++) {
    m = order[i]; if (!(m in cpu)) continue
    v = median(cpu[m]); b = baseline(m); r = "-"; vs = ""
    if (b != "" && b != m && (b in cpu) && median(cpu[b]) > 0) { r = sprintf("%.3fx", v / median(cpu[b])); vs = b; sub(/^Benchmark[^\/]*\//, "", vs) }
    printf "| %s | %.0f | %s | %s |\n", m, v, r, vs
  }
  # Paired: each round's ratio of a row to its baseline measured beside
  # it, then their median and quartiles over the rounds. Drift between
  # rounds cancels; the quartiles show how far the measure moves (compare
  # the *_again rows, a baseline set against itself).
  printf "\n| benchmark | paired cpu ratio (median) | quartiles | rounds | vs |\n|---|---:|---|---:|---|\n"
  for (i = 1; i <= n; i++) {
    m = order[i]; b = baseline(m)
    if (!(m in cpuk) || b == "" || b == m || !(b in cpuk)) continue
    k = (cpuk[m] < cpuk[b]) ? cpuk[m] : cpuk[b]; kk = 0
    split("", rs)
    for (j = 1; j <= k; j++) if (cpuv[b, j] > 0) rs[++kk] = cpuv[m, j] / cpuv[b, j]
    if (kk == 0) continue
    vs = b; sub(/^Benchmark[^\/]*\//, "", vs)
    printf "| %s | %.3fx | %.3f-%.3f | %d | %s |\n", m, quantile(rs, kk, 0.5), quantile(rs, kk, 0.25), quantile(rs, kk, 0.75), kk, vs
  }
}
