#!/usr/bin/env bash
# Runs a load scenario against a freshly started Savate (Release build) on loopback.
#   scripts/load-run.sh 10k|5k-join|slow|smoke|custom [extra Savate.LoadTest options...]
# Extra options come after the scenario's and override them (custom has none: give --listeners etc.).
# Environment: PORT (default 18000, away from the shipped 8000 other servers may use), FORMAT (flv|ts, default flv), OUT (directory for JSON and logs,
# default artifacts/load), DURATION (overrides the scenario's duration), TLS=1 (listeners over https:// on TLS_PORT, default
# PORT+443, with a fresh self-signed certificate; the source still pushes over http://).
# The server gets a copy of savate.yaml (shipped defaults) with listen moved to 127.0.0.1:$PORT and
# two mounts added (/load.flv, /load.ts); nothing else is changed.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-smoke}"; shift || true
PORT="${PORT:-18000}"
FORMAT="${FORMAT:-flv}"
OUT="${OUT:-${TMPDIR:-/tmp}/savate-load}"
mkdir -p "$OUT"

# 10,000 listeners need 10,000 sockets in each process (the .NET runtime raises the soft limit to the
# hard one at start; as root we can raise the hard one).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
echo "ulimit -n: $(ulimit -n)"

dotnet build -c Release src/Savate.Server -v q -nologo >/dev/null
dotnet build -c Release tests/Savate.LoadTest -v q -nologo >/dev/null
server_dll=src/Savate.Server/bin/Release/net10.0/Savate.Server.dll
tool_dll=tests/Savate.LoadTest/bin/Release/net10.0/Savate.LoadTest.dll

tmp="$(mktemp -d)"
config="$tmp/savate.yaml"
# savate.yaml names its fallback files relative to itself.
ln -s "$PWD/samples" "$tmp/samples"
TLS="${TLS:-0}"
TLS_PORT="${TLS_PORT:-$((PORT + 443))}"
if [ "$TLS" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  listen="listen: [\"http://127.0.0.1:${PORT}\", \"https://127.0.0.1:${TLS_PORT}\"]\n  tls-certificate: cert.pem\n  tls-key: key.pem"
else
  listen="listen: [\"http://127.0.0.1:${PORT}\"]"
fi
sed -e "s#listen: \[\"http://0.0.0.0:8000\"\]#${listen}#" savate.yaml > "$config"
cat >> "$config" <<YAML
  - path: /load.flv
    format: flv
  - path: /load.ts
    format: mpegts
YAML

ext=flv; [ "$FORMAT" = ts ] && ext=ts
case "$scenario" in
  10k)     args=(--listeners 10000 --join-rate 1000 --duration "${DURATION:-40s}") ;;
  5k-join) args=(--listeners 5000 --join-rate 1000 --duration "${DURATION:-30s}") ;;
  slow)    args=(--listeners 1000 --join-rate 1000 --slow-fraction 0.1 --slow-rate 10k --duration "${DURATION:-40s}") ;;
  smoke)   args=(--listeners 100 --join-rate 100 --duration "${DURATION:-10s}") ;;
  19k)     args=(--listeners 19000 --join-rate 2000 --duration "${DURATION:-40s}") ;;
  mounts)  MOUNTS=1000; args=(--mounts 1000 --listeners 5000 --join-rate 1000 --bitrate 250k --duration "${DURATION:-40s}") ;;
  sources) MOUNTS=500; args=(--mounts 500 --listeners 500 --join-rate 500 --bitrate 250k --duration "${DURATION:-30s}") ;;
  custom)  args=() ;;
  *) echo "unknown scenario $scenario (10k, 5k-join, 19k, slow, mounts, sources, smoke, custom)" >&2; exit 2 ;;
esac
# 19k: the one change to the shipped config is room for the listeners (max-listeners is 10,000 there).
if [ "$scenario" = 19k ]; then
  sed -i 's/^  max-listeners: 10000/  max-listeners: 20000/' "$config"
fi
# Multi-mount runs (--mounts M): the mounts are declared, so the shipped max-dynamic-mounts stays as it is.
if [ -n "${MOUNTS:-}" ]; then
  for i in $(seq 0 $((MOUNTS - 1))); do
    printf '  - path: /load-%s.%s\n    format: %s\n' "$i" "$ext" "$([ "$FORMAT" = ts ] && echo mpegts || echo flv)" >> "$config"
  done
fi

dotnet "$server_dll" --config "$config" > "$OUT/server-$scenario-$FORMAT.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${PORT}/status.json" >/dev/null 2>&1 && break
  sleep 0.1
done

url="http://127.0.0.1:${PORT}/load.${ext}"; label="$scenario-$FORMAT"
[ "$TLS" = 1 ] && { url="https://127.0.0.1:${TLS_PORT}/load.${ext}"; label="$label-tls"; }
dotnet "$tool_dll" --url "$url" --source-url "http://127.0.0.1:${PORT}/load.${ext}" --format "$FORMAT" \
  --bitrate 1M --fps 25 --gop 2s --source-password change-me --server-pid "$server" \
  --label "$label" --json-out "$OUT/$label.json" "${args[@]}" "$@"
