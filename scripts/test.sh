#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (ffmpeg/ffprobe, icecast2, prometheus and chromium from Debian's packages),
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

# The Icecast interop tests run a real Icecast 2.4 (Debian's icecast2, /usr/bin/icecast2).
if [ ! -x /usr/bin/icecast2 ]; then
  echo "test.sh: installing icecast2 (Debian package) for the Icecast interop tests..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq icecast2 >/dev/null
fi

# The metrics tests lint a real scrape with promtool (Debian's prometheus); the status page tests drive
# Debian's chromium through Playwright (never a downloaded browser).
if ! command -v promtool >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing prometheus (promtool) and chromium (Debian packages) for the metrics and status page tests..."
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus chromium >/dev/null
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
