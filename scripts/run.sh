#!/usr/bin/env bash
# Runs Savate on the default savate.yaml (or the config given with --config), in Release.
# Paths (the config, and fallback files inside it) are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release --nologo -v quiet src/Savate.Server/Savate.Server.csproj
config=(--config savate.yaml)
for arg in "$@"; do
  case "$arg" in --config|--config=*|-c) config=() ;; esac
done
exec dotnet src/Savate.Server/bin/Release/net10.0/Savate.Server.dll "${config[@]}" "$@"
