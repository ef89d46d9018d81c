#!/usr/bin/env bash
# The soak (not run in CI): the real server, on loopback, for MINUTES minutes (default 60) of listener churn,
# sources flapping (ffmpeg started and killed), hostile clients and a control listener, with the server's RSS,
# fds and the kernel's TCP memory sampled each minute and printed as a table (scripts/soak.py does the load).
#
#   scripts/soak.sh [MINUTES]        env: SOAK_PORT (default: a free port), SOAK_LISTENERS (100), SOAK_HOSTILE (100)
#
# Ends with a SIGTERM to the server and the time it took to exit. The result of a run is in docs/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

minutes=${1:-60}
if ! [[ "$minutes" =~ ^[0-9]+$ ]] || [ "$minutes" -lt 1 ]; then
  echo "usage: $0 [MINUTES]" >&2
  exit 2
fi
for tool in ffmpeg python3 curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "soak.sh: installing $tool (Debian package)..."
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  fi
done

port=${SOAK_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
password=soak-$RANDOM
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/soak.yaml" <<EOF
server:
  listen: ["http://127.0.0.1:$port"]
  source-password: $password
  source-timeout: 5s
mounts:
  - path: /soak.flv
    format: flv
    grace: 2s
    fallback:
      - file: $root/samples/offline.flv
  - path: /soak.ts
    format: mpegts
    grace: 2s
    fallback:
      - file: $root/samples/offline.ts
  # The control mounts: always playing, whatever happens on the others.
  - path: /control.flv
    format: flv
    fallback:
      - file: $root/samples/sample.flv
  - path: /control.ts
    format: mpegts
    fallback:
      - file: $root/samples/sample.ts
EOF

echo "soak.sh: building the server (Release)..."
dotnet build src/Savate.Server -c Release --nologo -v quiet >/dev/null
dotnet src/Savate.Server/bin/Release/net10.0/Savate.Server.dll --config "$work/soak.yaml" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/status.json" >/dev/null; then break; fi
  sleep 0.5
done
if ! curl -sf "http://127.0.0.1:$port/status.json" >/dev/null; then
  echo "soak.sh: the server did not start; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "soak.sh: server pid $server_pid on 127.0.0.1:$port; $minutes minute(s) of load, one row a minute"
echo "soak.sh: $(uname -sr), $(nproc) cores, ulimit -n $(ulimit -n); TCP memory is the whole host's (other processes included)"

set +e
python3 scripts/soak.py --port "$port" --pid "$server_pid" --minutes "$minutes" --password "$password" --root "$root" \
  --listeners "${SOAK_LISTENERS:-100}" --hostile "${SOAK_HOSTILE:-100}"
status=$?
set -e

if kill -0 "$server_pid" 2>/dev/null; then
  start=$(date +%s.%N)
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  end=$(date +%s.%N)
  echo "soak.sh: SIGTERM to exit: $(python3 -c "print(f'{$end - $start:.1f}')") s"
  server_pid=""
else
  echo "soak.sh: the server died during the soak; last lines of its log:" >&2
  tail -n 30 "$work/server.log" >&2
  status=1
fi
echo "soak.sh: server log: $(wc -l <"$work/server.log") lines, $(grep -c 'fail:\|crit:' "$work/server.log" || true) fail/crit, $(grep -c '   at ' "$work/server.log" || true) stack frames"
exit "$status"
