#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders with AFL++ and SharpFuzz, for a bounded time per target.
#   bash ci/fuzz.sh [TARGET...]     (default: every target; FUZZ_SECONDS per target, 20 by default)
# Prints one "PASS fuzz T" or "FAIL fuzz T" line per target, with what AFL++ measured (executions, corpus, bitmap
# coverage). A crash or a hang fails its target and is saved under tests/fuzz/crashes/T/, where the regression test
# (FuzzRegressionTests) replays it in every test run. FUZZ_KEEP_CORPUS=1 also copies the inputs AFL++ found that
# reached new code into tests/fuzz/corpus/T/, to be committed.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

seconds=${FUZZ_SECONDS:-20}
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(glbp sync agent pcap command-wire config)

if ! command -v afl-fuzz >/dev/null 2>&1; then
    echo "afl-fuzz is not installed (Debian package afl++; ci/setup.sh installs it)"
    for t in "${targets[@]}"; do echo "FAIL fuzz $t"; done
    exit 1
fi

work=$(mktemp -d)
mkdir -p "$work/out"
trap 'rm -rf "$work"' EXIT

# The instrumented assemblies go into a copy of the harness's output: the build the tests use stays uninstrumented.
if ! dotnet build tests/Offload.Fuzz/Offload.Fuzz.csproj -c Release -nologo -v q >"$work/build.log" 2>&1 \
    || ! dotnet tool restore >>"$work/build.log" 2>&1; then
    cat "$work/build.log"
    for t in "${targets[@]}"; do echo "FAIL fuzz $t"; done
    exit 1
fi
cp -r tests/Offload.Fuzz/bin/Release/net10.0 "$work/bin"
for dll in Offload.Protocol Offload.Device Offload.Daemon; do
    if ! dotnet tool run sharpfuzz "$work/bin/$dll.dll" >>"$work/build.log" 2>&1; then
        cat "$work/build.log"
        for t in "${targets[@]}"; do echo "FAIL fuzz $t"; done
        exit 1
    fi
done

# The harness is a managed program, not an AFL-compiled binary; the machine is shared, so no CPU binding and no
# core-pattern or frequency demands.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
    AFL_FORKSRV_INIT_TMOUT=60000 AFL_QUIET=1

stat() { sed -n "s/^$2 *: *//p" "$1" | head -1; }

for t in "${targets[@]}"; do
    seeds=tests/fuzz/corpus/$t
    if [ ! -d "$seeds" ]; then
        echo "fuzz $t: no seed folder $seeds"
        echo "FAIL fuzz $t"
        continue
    fi
    out=$work/out/$t
    start=$(date +%s)
    afl-fuzz -i "$seeds" -o "$out" -V "$seconds" -t 10000 -m none -- dotnet "$work/bin/Offload.Fuzz.dll" "$t" >"$work/$t.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    stats=$out/default/fuzzer_stats
    if [ ! -f "$stats" ]; then
        tail -30 "$work/$t.log"
        echo "fuzz $t: afl-fuzz exited $rc without statistics"
        echo "FAIL fuzz $t"
        continue
    fi
    crashes=$(stat "$stats" saved_crashes); crashes=${crashes:-$(stat "$stats" unique_crashes)}
    hangs=$(stat "$stats" saved_hangs); hangs=${hangs:-$(stat "$stats" unique_hangs)}
    echo "fuzz $t: ${took}s, $(stat "$stats" execs_done) executions ($(stat "$stats" execs_per_sec)/s)," \
        "corpus $(stat "$stats" corpus_count) (from $(find "$seeds" -type f | wc -l) seeds)," \
        "bitmap coverage $(stat "$stats" bitmap_cvg), edges $(stat "$stats" edges_found)," \
        "crashes ${crashes:-?}, hangs ${hangs:-?}"
    found=0
    for kind in crashes hangs; do
        for f in "$out/default/$kind"/id*; do
            [ -f "$f" ] || continue
            mkdir -p "tests/fuzz/crashes/$t"
            what=crash
            [ "$kind" = hangs ] && what=hang
            keep=tests/fuzz/crashes/$t/$what-$(sha1sum "$f" | cut -c1-16)
            cp "$f" "$keep"
            echo "fuzz $t: $what kept as $keep"
            found=$((found + 1))
        done
    done
    if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
        added=0
        for f in "$out/default/queue"/id*; do
            [ -f "$f" ] || continue
            case "$f" in *orig:*) continue ;; esac
            name=$seeds/afl-$(sha1sum "$f" | cut -c1-16)
            [ -f "$name" ] || { cp "$f" "$name"; added=$((added + 1)); }
        done
        echo "fuzz $t: $added new input(s) kept in $seeds"
    fi
    if [ "$found" -gt 0 ] || [ "${crashes:-0}" != 0 ]; then
        echo "FAIL fuzz $t"
    else
        echo "PASS fuzz $t"
    fi
done
