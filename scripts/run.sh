#!/usr/bin/env bash
# Runs Savate on the default savate.yaml (or the config given with --config), in Release.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run -c Release --project src/Savate.Server -- --config savate.yaml "$@"
