#!/usr/bin/env bash
# Publishes Savate as one self-contained folder (the .NET runtime included: the target machine needs no
# .NET), ready for samples/savate.service: ./scripts/publish.sh [OUTPUT_DIR] [RID]
#   OUTPUT_DIR  default artifacts/savate
#   RID         default this machine's (linux-x64 or linux-arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/savate}
case "$(uname -m)" in
  aarch64|arm64) default_rid=linux-arm64 ;;
  *) default_rid=linux-x64 ;;
esac
rid=${2:-$default_rid}

rm -rf "$out"
dotnet publish src/Savate.Server/Savate.Server.csproj -c Release --nologo -r "$rid" --self-contained true -o "$out"
# What an installation needs beside the binary: an example config, the offline slate it falls back to, the unit.
mkdir -p "$out/samples"
cp savate.yaml "$out/savate.yaml.example"
cp samples/offline.flv samples/offline.ts samples/sample.flv samples/sample.ts "$out/samples/"
cp samples/savate.service "$out/"
echo "publish.sh: $out ($rid): run $out/Savate.Server --config $out/savate.yaml.example; install with samples/savate.service"
