#!/usr/bin/env bash
# Fuzzes one target of tests/Savate.Fuzz with afl-fuzz (Debian's afl++) for MINUTES minutes, through SharpFuzz.
#
#   scripts/fuzz.sh TARGET [MINUTES]     targets: flv, ts, request-head, source-body, config (default 5 minutes)
#
# Publishes Savate.Fuzz, copies it into artifacts/fuzz/TARGET/bin, instruments the assemblies under test there with the
# sharpfuzz tool, and runs afl-fuzz at the lowest priority (nice 19: the machine is shared) from the seed corpus
# tests/Savate.Fuzz/corpus/TARGET, with the dictionary tests/Savate.Fuzz/dict/TARGET.dict when there is one.
# A second run resumes the first one's queue. Findings land in artifacts/fuzz/TARGET/findings/default/{crashes,hangs};
# replay one, uninstrumented, with the command printed at the end. Each crash, once fixed, goes into the corpus
# (named crash-<what>), which the unit tests replay in CI (tests/Savate.Fuzz.Tests).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
minutes=${2:-5}
case "$target" in
  flv) assemblies=(Savate.Flv.dll) ;;
  ts) assemblies=(Savate.Mpegts.dll) ;;
  request-head) assemblies=(Savate.Server.dll) ;;
  source-body) assemblies=(Savate.Server.dll Savate.Flv.dll Savate.Mpegts.dll) ;;
  config) assemblies=(Savate.Server.dll YamlDotNet.dll) ;;
  *)
    echo "usage: $0 TARGET [MINUTES]  (TARGET: flv, ts, request-head, source-body, config)" >&2
    exit 2
    ;;
esac
if ! [[ "$minutes" =~ ^[0-9]+$ ]] || [ "$minutes" -lt 1 ]; then
  echo "fuzz.sh: MINUTES must be a whole number of minutes, at least 1" >&2
  exit 2
fi

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: installing afl++ (Debian package)..."
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi

work=artifacts/fuzz
tools=$work/tools
if [ ! -x "$tools/sharpfuzz" ]; then
  echo "fuzz.sh: installing the sharpfuzz instrumentation tool (NuGet SharpFuzz.CommandLine 2.3.0)..."
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

out=$work/$target
bin=$out/bin
# Published once, uninstrumented; each target gets a copy to instrument (instrumentation rewrites the
# assemblies in place, and must not be applied twice).
echo "fuzz.sh: publishing tests/Savate.Fuzz..."
dotnet publish tests/Savate.Fuzz -c Release -o "$work/publish" --nologo -v quiet >/dev/null
rm -rf "$bin"
mkdir -p "$out"
cp -r "$work/publish" "$bin"
for assembly in "${assemblies[@]}"; do
  echo "fuzz.sh: instrumenting $assembly"
  "$tools/sharpfuzz" "$bin/$assembly" >/dev/null
done

dict_args=()
if [ -f "tests/Savate.Fuzz/dict/$target.dict" ]; then
  dict_args=(-x "tests/Savate.Fuzz/dict/$target.dict")
fi

# dotnet itself is not instrumented (SharpFuzz reports coverage over shared memory): skip afl's binary check.
# Crashes are exceptions, reported by SharpFuzz: the kernel's core_pattern does not matter.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_AUTORESUME=1 AFL_NO_UI=1 AFL_QUIET=1
# The runtime starts in about 0.1 s, but one input must not be judged hung on a loaded machine: 10 s.
echo "fuzz.sh: afl-fuzz on $target for $minutes minute(s), output in $out/findings"
set +e
nice -n 19 afl-fuzz -i "tests/Savate.Fuzz/corpus/$target" -o "$out/findings" -t 10000 -m none -V $((minutes * 60)) \
  "${dict_args[@]}" -- dotnet "$bin/Savate.Fuzz.dll" "$target" >"$out/afl.log" 2>&1
status=$?
set -e

stats=$out/findings/default/fuzzer_stats
if [ -f "$stats" ]; then
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|total_edges|saved_crashes|saved_hangs) ' "$stats"
fi
crashes=$(find "$out/findings/default/crashes" "$out/findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
if [ "$status" -ne 0 ] && [ ! -f "$stats" ]; then
  echo "fuzz.sh: afl-fuzz failed (exit $status); see $out/afl.log" >&2
  tail -n 20 "$out/afl.log" >&2
  exit 1
fi
if [ "$crashes" -gt 0 ]; then
  echo "fuzz.sh: $crashes crash/hang input(s). Replay them uninstrumented:"
  echo "  dotnet build tests/Savate.Fuzz -c Release && dotnet tests/Savate.Fuzz/bin/Release/net10.0/Savate.Fuzz.dll $target $out/findings/default/crashes"
  exit 1
fi
echo "fuzz.sh: no crash or hang in $minutes minute(s) on $target"
