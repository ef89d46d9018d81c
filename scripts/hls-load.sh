#!/usr/bin/env bash
# HLS through an ordinary cache: Debian's nginx (proxy_cache, proxy_cache_lock) in front of Savate, and the load
# tool's HLS clients polling the playlist through nginx while its synthetic source pushes to Savate:
#   scripts/hls-load.sh [clients (1000)] [duration (40s)] [join rate (200)]
# Prints the tool's JSON: segments fetched, sequence gaps, errors, latency (encoder to the player's hands, before
# the player's buffer), and the CPU of the origin (Savate) and of nginx over the steady window. Also the number of
# segment requests that reached the origin (from nginx's cache status: MISS), against the segments made.
# Environment: SAVATE_PORT (18000), NGINX_PORT (18080), FORMAT (flv | ts), OUT (/tmp/savate-hls-load).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${1:-1000}"
DURATION="${2:-40s}"
JOIN_RATE="${3:-200}"
SAVATE_PORT="${SAVATE_PORT:-18000}"
NGINX_PORT="${NGINX_PORT:-18080}"
FORMAT="${FORMAT:-flv}"
OUT="${OUT:-${TMPDIR:-/tmp}/savate-hls-load}"
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "hls-load.sh needs nginx (apt-get install nginx)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

dotnet build -c Release src/Savate.Server -v q -nologo >/dev/null
dotnet build -c Release tests/Savate.LoadTest -v q -nologo >/dev/null

tmp="$(mktemp -d)"
chmod 755 "$tmp"
ln -s "$PWD/samples" "$tmp/samples"
ext=flv; [ "$FORMAT" = ts ] && ext=ts
sed -e "s#listen: \[\"http://0.0.0.0:8000\"\]#listen: [\"http://127.0.0.1:${SAVATE_PORT}\"]#" savate.yaml > "$tmp/savate.yaml"
cat >> "$tmp/savate.yaml" <<YAML
  - path: /load.${ext}
    format: $([ "$FORMAT" = ts ] && echo mpegts || echo flv)
YAML
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$tmp/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
$user_line
error_log $tmp/nginx-error.log;
events { worker_connections 16384; }
http {
    log_format cache '\$upstream_cache_status \$request_uri';
    access_log $tmp/access.log cache;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    proxy_cache_path $tmp/cache levels=1:2 keys_zone=hls:10m max_size=256m inactive=10m use_temp_path=off;
    server {
        listen 127.0.0.1:${NGINX_PORT} reuseport backlog=4096;
        location / {
            proxy_pass http://127.0.0.1:${SAVATE_PORT};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache hls;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 30s;
            proxy_cache_lock_age 30s;
        }
    }
}
NGINX

dotnet src/Savate.Server/bin/Release/net10.0/Savate.Server.dll --config "$tmp/savate.yaml" > "$OUT/savate.log" 2>&1 &
savate=$!
"$NGINX" -c "$tmp/nginx.conf" -p "$tmp" > "$OUT/nginx.log" 2>&1 &
nginx_master=$!
cleanup() { kill "$savate" "$nginx_master" 2>/dev/null || true; wait 2>/dev/null || true; cp "$tmp/access.log" "$OUT/nginx-access.log" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${SAVATE_PORT}/status.json" >/dev/null 2>&1 && curl -s "http://127.0.0.1:${NGINX_PORT}/" >/dev/null 2>&1 && break
  sleep 0.1
done
workers=$(pgrep -P "$nginx_master" | paste -sd, -)

dotnet tests/Savate.LoadTest/bin/Release/net10.0/Savate.LoadTest.dll --hls \
  --url "http://127.0.0.1:${NGINX_PORT}/load.${ext}" --source-url "http://127.0.0.1:${SAVATE_PORT}/load.${ext}" \
  --format "$FORMAT" --bitrate 1M --fps 25 --gop 2s --source-password change-me \
  --listeners "$CLIENTS" --join-rate "$JOIN_RATE" --duration "$DURATION" \
  --server-pid "$savate" --proxy-pids "$nginx_master${workers:+,$workers}" --label "hls-$CLIENTS" --json-out "$OUT/hls.json"

segments_total=$(grep -c '\.ts' "$tmp/access.log" || true)
segment_misses=$(grep -E '^(MISS|EXPIRED|-) .*\.ts' "$tmp/access.log" | awk '{print $2}' | sort -u | wc -l)
segment_origin=$(grep -E '^(MISS|EXPIRED) .*\.ts' "$tmp/access.log" | wc -l)
echo "nginx: $segments_total segment requests, $segment_origin went to the origin, for $segment_misses distinct segments"
