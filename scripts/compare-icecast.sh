#!/usr/bin/env bash
# Same load against Savate and Icecast 2 (Debian's icecast2), side by side, on loopback.
#   scripts/compare-icecast.sh [listeners (default 2000)] [duration (default 30s)]
# Both get the same synthetic 1 Mbit/s FLV source (25 fps, keyframe every 2 s). Savate takes it as a
# chunked POST; Icecast as a PUT with Content-Type video/x-flv and a body that runs until close
# (Icecast 2.4 does not read chunked sources). Icecast has no notion of FLV: late joiners get bytes
# from its burst queue with no FLV header, so the tool's framing check is expected to fail there; the
# latency markers still work because every listener scans the raw bytes for them.
# Environment: SAVATE_PORT (18000), ICECAST_PORT (18100), JOIN_RATE (500), OUT (/tmp/savate-compare).
set -euo pipefail
cd "$(dirname "$0")/.."
LISTENERS="${1:-2000}"
DURATION="${2:-30s}"
SAVATE_PORT="${SAVATE_PORT:-18000}"
ICECAST_PORT="${ICECAST_PORT:-18100}"
JOIN_RATE="${JOIN_RATE:-500}"
OUT="${OUT:-${TMPDIR:-/tmp}/savate-compare}"
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

if ! command -v icecast2 >/dev/null; then
  echo "installing icecast2..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y icecast2 >/dev/null
fi

common=(--listeners "$LISTENERS" --join-rate "$JOIN_RATE" --duration "$DURATION" --bitrate 1M --fps 25 --gop 2s --format flv)

echo "== Savate =="
OUT="$OUT" PORT="$SAVATE_PORT" scripts/load-run.sh custom "${common[@]}" --label savate --json-out "$OUT/savate.json" | tail -22

echo "== Icecast =="
dotnet build -c Release tests/Savate.LoadTest -v q -nologo >/dev/null
tmp="$(mktemp -d)"
chmod 755 "$tmp"
mkdir -p "$tmp/log"
chown nobody:nogroup "$tmp/log"
# Icecast refuses to run as root: it starts as root and drops to nobody (changeowner).
cat > "$tmp/icecast.xml" <<XML
<icecast>
  <location>loopback</location>
  <admin>load@localhost</admin>
  <limits>
    <clients>$((LISTENERS + 100))</clients>
    <sources>4</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>change-me</source-password>
    <relay-password>change-me-too</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>change-me-admin</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket>
    <port>${ICECAST_PORT}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>/load.flv</mount-name>
    <max-listeners>$((LISTENERS + 100))</max-listeners>
  </mount>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>$tmp/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
    <changeowner>
      <user>nobody</user>
      <group>nogroup</group>
    </changeowner>
  </security>
</icecast>
XML
icecast2 -c "$tmp/icecast.xml" > "$OUT/icecast.stdout" 2>&1 &
ice=$!
cleanup() { kill "$ice" 2>/dev/null || true; wait "$ice" 2>/dev/null || true; cp "$tmp/log/error.log" "$OUT/icecast-error.log" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 1 50); do
  curl -s "http://127.0.0.1:${ICECAST_PORT}/status-json.xsl" >/dev/null 2>&1 && break
  sleep 0.1
done
dotnet tests/Savate.LoadTest/bin/Release/net10.0/Savate.LoadTest.dll --url "http://127.0.0.1:${ICECAST_PORT}/load.flv" \
  "${common[@]}" --source-method put --source-password change-me --server-pid "$ice" \
  --status-url "http://127.0.0.1:${ICECAST_PORT}/status-json.xsl" --label icecast --json-out "$OUT/icecast.json" | tail -22

echo "== Savate / Icecast =="
python3 - "$OUT/savate.json" "$OUT/icecast.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2]))
def ratio(a, b):
    return "n/a" if a in (None, -1) or b in (None, -1, 0) else f"{a / b:.2f}"
rows = [
    ("listeners served", "served", "higher is better"),
    ("rate ratio p1 (marker-aligned)", "rate_ratio_p1", "1.0 = the stream rate"),
    ("rate ratio p50 (marker-aligned)", "rate_ratio_p50", "1.0 = the stream rate"),
    ("delivered Gbit/s", "delivered_gbps", "higher is better"),
    ("first byte p99 (ms)", "ttfb_p99_ms", "lower is better"),
    ("latency p99 (ms)", "latency_p99_ms", "lower is better"),
    ("latency p50 (ms)", "latency_p50_ms", "lower is better"),
    ("server CPU steady (% of a core)", "server_cpu_steady_pct", "lower is better"),
    ("CPU per delivered Gbit/s (% of a core)", "server_cpu_pct_per_gbps", "lower is better"),
    ("server RSS peak (MB)", "server_rss_peak_mb", "lower is better"),
    ("stalled listeners", "stalled_listeners", "lower is better"),
    ("dropped listeners", "dropped", "lower is better"),
    ("framing failures (sampled)", "framing_failed", "Icecast sends no FLV header to late joiners"),
]
print(f"{'metric':42} {'Savate':>10} {'Icecast':>10} {'Savate/Icecast':>15}  note")
for name, key, note in rows:
    a, b = s.get(key), i.get(key)
    print(f"{name:42} {str(a):>10} {str(b):>10} {ratio(a, b):>15}  {note}")
if i.get("framing_first_failure"):
    print(f"Icecast framing: {i['framing_first_failure']}")
PY
