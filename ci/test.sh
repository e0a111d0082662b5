#!/usr/bin/env bash
# The test command: set up, build, check the HDL and the code style, run every test suite,
# and end with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

bash ci/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# Stages, fastest first, as NATS.Net splits its suites: unit tests (no model: seconds), the HDL checks, the model
# stage (everything that drives the Verilator model), the system stage (root, namespaces, tshark, real processes).
# A failing unit stage stops the run there: nothing slower is worth waiting for.
hdl_stage() {
    [ -f ci/hdl-check.sh ] || return 0
    bash ci/hdl-check.sh 2>&1 | tee "$results/hdl.log"
    local rc=${PIPESTATUS[0]}
    hp=$(grep -c '^PASS ' "$results/hdl.log" || true)
    hf=$(grep -c '^FAIL ' "$results/hdl.log" || true)
    passed=$((passed + hp)); failed=$((failed + hf))
    # The script stops at an error outside a check (set -e): that leaves no FAIL line, so count the exit too.
    if [ "$rc" -ne 0 ] && [ "$hf" -eq 0 ]; then
        echo "hdl-check.sh exited $rc with no FAIL line"
        failed=$((failed + 1))
    fi
}

# The fuzz stage: AFL++ on every decoder for FUZZ_SECONDS each (ci/fuzz.sh), counted as the HDL checks are.
fuzz_stage() {
    echo "== fuzz"
    bash ci/fuzz.sh 2>&1 | tee "$results/fuzz.log"
    local rc=${PIPESTATUS[0]}
    local fp ff
    fp=$(grep -c '^PASS ' "$results/fuzz.log" || true)
    ff=$(grep -c '^FAIL ' "$results/fuzz.log" || true)
    passed=$((passed + fp)); failed=$((failed + ff))
    if [ "$rc" -ne 0 ] && [ "$ff" -eq 0 ]; then
        echo "fuzz.sh exited $rc with no FAIL line"
        failed=$((failed + 1))
    fi
}

# dotnet_stage NAME FILTER [VAR=VALUE...]: one `dotnet test` over the solution with a category filter; counts come
# from the trx files. The console logger prints each failure in full. A hung test is killed (and reported).
dotnet_stage() {
    local name=$1 filter=$2; shift 2
    local before=$failed
    echo "== $name tests"
    env "$@" dotnet test offload.sln -c Release --no-build -nologo --blame-hang-timeout 10m --filter "$filter" \
        --logger "trx" --results-directory "$results/$name" >"$results/$name.log" 2>&1
    local rc=$?
    grep -vE '^\s*$' "$results/$name.log" | grep -vE '^(Test run for|A total of|Results File:|No test matches)' || true
    local trx_count
    trx_count=$(find "$results/$name" -name '*.trx' 2>/dev/null | wc -l)
    if [ "$trx_count" -lt "$suites" ]; then
        echo "$name: only $trx_count of $suites test suites produced results"
        failed=$((failed + suites - trx_count))
    fi
    local f
    for f in "$results/$name"/*.trx; do
        [ -f "$f" ] || continue
        # <Counters total=".." executed=".." passed=".." failed=".." error=".." timeout=".." aborted=".." ...
        local line p fl er to ab
        line=$(grep -o '<Counters [^>]*>' "$f" | head -1)
        p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line")
        fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line")
        er=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$line")
        to=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$line")
        ab=$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$line")
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${fl:-0} + ${er:-0} + ${to:-0} + ${ab:-0}))
        # A crashed or aborted test host can leave counters that look clean.
        if grep -q '<ResultSummary outcome="\(Aborted\|Error\|Failed\)' "$f" && [ "${fl:-0}" -eq 0 ]; then
            echo "test run aborted: $f"
            failed=$((failed + 1))
        fi
    done
    if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
        echo "$name: dotnet test exited $rc with no failed test counted"
        failed=$((failed + 1))
    fi
    echo "== $name: $passed passed, $failed failed so far"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}

if ! bash ci/build.sh; then
    echo "build failed"
    failed=$((failed + 1))
    finish
fi

if dotnet format offload.sln --verify-no-changes --no-restore -v quiet >"$results/format.log" 2>&1; then
    echo "PASS dotnet format --verify-no-changes"; passed=$((passed + 1))
else
    head -40 "$results/format.log"
    echo "FAIL dotnet format --verify-no-changes"; failed=$((failed + 1))
fi

suites=$(find tests -mindepth 2 -maxdepth 2 -name '*.Tests.csproj' | wc -l)
# OFFLOAD_HWMODEL=forbid makes the model refuse to load: a test that needs it but is not tagged fails here.
dotnet_stage unit 'TestCategory!=Model&TestCategory!=System' OFFLOAD_HWMODEL=forbid
if [ "$failed" -ne 0 ]; then
    echo "unit stage failed: the HDL checks, model and system stages were not run"
    finish
fi
hdl_stage
dotnet_stage model 'TestCategory=Model&TestCategory!=System'
dotnet_stage system 'TestCategory=System'
fuzz_stage
finish
