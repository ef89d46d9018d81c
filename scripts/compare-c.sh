#!/usr/bin/env bash
# The same load against the C reference (tests/reference/fanout.c) and Savate, one after the other in one run,
# with each server's send syscalls counted by perf over the same steady window as its CPU:
#   scripts/compare-c.sh [listeners (5000)] [duration (30s)] [join rate (1000)]
# Prints, per server: CPU (user+sys, % of one core), sends per second, CPU per send (us), and the ratios
# Savate / C. The load is the repo's load tool: 1 Mbit/s FLV, 25 fps, 2 s GOP, the tool beside the server.
# Savate runs with the shipped savate.yaml (listen moved to loopback, /load.flv added); the C server with
# a 40 ms flush. Needs gcc and perf (linux-perf) and permission to trace syscalls (root, or
# kernel.perf_event_paranoid <= 1 with tracefs readable).
# Environment: C_PORT (18300), SAVATE_PORT (18000), OUT (/tmp/savate-compare-c), SAVATE_ARGS (extra yaml
# server keys, e.g. "max-flush-interval: 40ms"), ONLY (c | savate: run one side only), PROFILE (1: also
# perf record -g each server over the window into $OUT/LABEL.perf.data; Savate with DOTNET_PerfMapEnabled=1 and
# W^X off, so
# `perf report -i $OUT/savate.perf.data --no-children --sort sym` names its JIT-compiled methods), ROUNDS (N: the
# C reference then Savate, N times in a row, each round in $OUT/roundK, then the median and range of the ratios:
# this box's figures move by 10-30% between runs minutes apart).
set -euo pipefail
cd "$(dirname "$0")/.."
LISTENERS="${1:-5000}"
DURATION="${2:-30s}"
JOIN_RATE="${3:-1000}"
C_PORT="${C_PORT:-18300}"
SAVATE_PORT="${SAVATE_PORT:-18000}"
OUT="${OUT:-${TMPDIR:-/tmp}/savate-compare-c}"
ONLY="${ONLY:-}"
ROUNDS="${ROUNDS:-1}"
mkdir -p "$OUT"
BASE="$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

for tool in gcc perf; do
  command -v "$tool" >/dev/null || { echo "compare-c.sh needs $tool" >&2; exit 2; }
done

gcc -O2 -Wall -o "$BASE/fanout" tests/reference/fanout.c
dotnet build -c Release src/Savate.Server -v q -nologo >/dev/null
dotnet build -c Release tests/Savate.LoadTest -v q -nologo >/dev/null
tool_dll=tests/Savate.LoadTest/bin/Release/net10.0/Savate.LoadTest.dll
server_dll=src/Savate.Server/bin/Release/net10.0/Savate.Server.dll

seconds() { local v="$1"; case "$v" in *ms) echo "scale=3; ${v%ms}/1000" | bc ;; *s) echo "${v%s}" ;; *m) echo "$(( ${v%m} * 60 ))" ;; *) echo "$v" ;; esac; }
dur=$(seconds "$DURATION")
join=$(echo "scale=3; $LISTENERS / $JOIN_RATE" | bc)
# The tool's timeline: 2 s of source lead, the joins, then the measured run; settle 3 s after the last join.
start=$(echo "scale=3; 2 + $join + 3 + 1" | bc)
window=$(echo "scale=3; 2 + $dur - 1 - $start" | bc)
if (( $(echo "$window < 5" | bc) )); then
  echo "steady window $window s is too short: raise the duration" >&2; exit 2
fi
hz=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_one LABEL PID PORT TOOL_ARGS...: the tool in the background, perf and CPU over the steady window.
run_one() {
  local label="$1" pid="$2" port="$3"; shift 3
  dotnet "$tool_dll" --url "http://127.0.0.1:${port}/load.flv" --format flv --bitrate 1M --fps 25 --gop 2s \
    --listeners "$LISTENERS" --join-rate "$JOIN_RATE" --duration "$DURATION" --server-pid "$pid" \
    --label "$label" --json-out "$OUT/$label.json" "$@" > "$OUT/$label.txt" 2>&1 &
  local tool=$!
  sleep "$start"
  local t0; t0=$(cpu_ticks "$pid")
  local rec=""
  if [ "${PROFILE:-}" = 1 ]; then
    perf record -q -F 499 -g -p "$pid" -o "$OUT/$label.perf.data" -- sleep "$window" > /dev/null 2>&1 &
    rec=$!
  fi
  perf stat -x, -e syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_sendto \
    -p "$pid" -- sleep "$window" 2> "$OUT/$label.perf"
  local t1; t1=$(cpu_ticks "$pid")
  [ -n "$rec" ] && wait "$rec" || true
  wait "$tool" || true
  local sends; sends=$(awk -F, '$1 ~ /^[0-9]+$/ {s += $1} END {print s + 0}' "$OUT/$label.perf")
  local cpu_s; cpu_s=$(echo "scale=4; ($t1 - $t0) / $hz" | bc)
  echo "$label $cpu_s $sends" >> "$OUT/summary"
  grep -E "served|stalled|latency p50|first byte|rate ratio|server RSS|server CPU steady" "$OUT/$label.txt" | grep -v "^{" | sed "s/^/  [$label] /"
}

one_round() {
: > "$OUT/summary"

if [ "$ONLY" != savate ]; then
  echo "== C reference (tests/reference/fanout.c, 40 ms flush) =="
  "$BASE/fanout" "$C_PORT" 40 > "$OUT/fanout.log" 2>&1 &
  cpid=$!
  sleep 0.3
  run_one c "$cpid" "$C_PORT" --source-method put --source-password unused
  kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
fi

if [ "$ONLY" != c ]; then
  echo "== Savate (shipped savate.yaml) =="
  tmp="$(mktemp -d)"
  ln -s "$PWD/samples" "$tmp/samples"
  sed -e "s#listen: \[\"http://0.0.0.0:8000\"\]#listen: [\"http://127.0.0.1:${SAVATE_PORT}\"]#" savate.yaml > "$tmp/savate.yaml"
  if [ -n "${SAVATE_ARGS:-}" ]; then
    sed -i "s#^server:#server:\n  ${SAVATE_ARGS}#" "$tmp/savate.yaml"
  fi
  cat >> "$tmp/savate.yaml" <<YAML
  - path: /load.flv
    format: flv
YAML
  # Profiling only: otherwise the runtime's settings stay untouched (an empty variable is not the same as none).
  profile_env=()
  if [ "${PROFILE:-}" = 1 ]; then
    profile_env=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)
  fi
  env "${profile_env[@]}" dotnet "$server_dll" --config "$tmp/savate.yaml" > "$OUT/savate.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:${SAVATE_PORT}/status.json" >/dev/null 2>&1 && break
    sleep 0.1
  done
  run_one savate "$spid" "$SAVATE_PORT" --source-password change-me
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
  rm -rf "$tmp"
fi

echo "== Steady window: ${window} s, ${LISTENERS} listeners =="
awk -v w="$window" '
  { cpu[$1] = $2; sends[$1] = $3 }
  END {
    printf "%-8s %10s %12s %14s\n", "server", "CPU %", "sends/s", "CPU/send (us)"
    for (s in cpu) {
      per[s] = sends[s] > 0 ? cpu[s] / sends[s] * 1e6 : 0
      printf "%-8s %10.1f %12.0f %14.2f\n", s, cpu[s] / w * 100, sends[s] / w, per[s]
    }
    if (("c" in cpu) && ("savate" in cpu) && per["c"] > 0 && cpu["c"] > 0) {
      printf "savate/c: CPU %.2fx, sends %.2fx, CPU per send %.2fx\n", cpu["savate"] / cpu["c"], sends["savate"] / sends["c"], per["savate"] / per["c"]
    }
  }' "$OUT/summary"
}

if [ "$ROUNDS" -le 1 ]; then
  one_round
  exit 0
fi
: > "$BASE/ratios"
for r in $(seq 1 "$ROUNDS"); do
  OUT="$BASE/round$r"
  mkdir -p "$OUT"
  echo "######## round $r of $ROUNDS"
  one_round | tee "$OUT/table"
  grep -o 'CPU per send [0-9.]*x' "$OUT/table" | grep -o '[0-9.]*' >> "$BASE/ratios" || true
done
echo "== ${ROUNDS} rounds: Savate / C CPU per send =="
sort -n "$BASE/ratios" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "no ratio (ONLY set?)"; exit }
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "median %.2fx, range %.2fx-%.2fx over %d rounds\n", m, v[1], v[NR], NR }'
