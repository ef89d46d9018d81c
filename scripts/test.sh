#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (ffmpeg/ffprobe, icecast2, chromium, nginx and prometheus from Debian's packages),
# then builds and runs all test projects of Savate.sln, and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  echo "test.sh: installing ffmpeg (Debian package) for the functional tests..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq ffmpeg >/dev/null
fi

# The shutdown test listens with curl (tests/Savate.Server.Tests/Functional/ShutdownTests.cs).
if ! command -v curl >/dev/null 2>&1; then
  echo "test.sh: installing curl (Debian package) for the shutdown test..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq curl >/dev/null
fi

# The Icecast interop tests run a real Icecast 2.4 (Debian's icecast2, /usr/bin/icecast2).
if [ ! -x /usr/bin/icecast2 ]; then
  echo "test.sh: installing icecast2 (Debian package) for the Icecast interop tests..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq icecast2 >/dev/null
fi

# The browser tests (hls.js and the status page's player) drive Debian's headless Chromium through Playwright (never a
# downloaded browser); the HLS cache test puts Debian's nginx in front of the server; the metrics tests lint a real
# scrape with promtool (Debian's prometheus).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || ! command -v promtool >/dev/null 2>&1; then
  echo "test.sh: installing chromium, nginx and prometheus (Debian packages) for the browser, HLS cache and metrics tests..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx prometheus >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test Savate.sln -c Release --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for CI: the per-assembly "Passed!/Failed!" lines summed up.
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
