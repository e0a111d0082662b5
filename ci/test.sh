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

# HDL checks count as tests: one line "PASS name" or "FAIL name" each.
if [ -f ci/hdl-check.sh ]; then
    bash ci/hdl-check.sh 2>&1 | tee "$results/hdl.log"
    hp=$(grep -c '^PASS ' "$results/hdl.log" || true)
    hf=$(grep -c '^FAIL ' "$results/hdl.log" || true)
    passed=$((passed + hp)); failed=$((failed + hf))
fi

if ! bash ci/build.sh; then
    echo "build failed"
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
fi

if dotnet format offload.sln --verify-no-changes --no-restore -v quiet >"$results/format.log" 2>&1; then
    echo "PASS dotnet format --verify-no-changes"; passed=$((passed + 1))
else
    cat "$results/format.log" | head -40
    echo "FAIL dotnet format --verify-no-changes"; failed=$((failed + 1))
fi

# The console logger prints each failure in full; the counts come from the trx files below.
# A hung test is killed (and reported) instead of eating the CI budget.
dotnet test offload.sln -c Release --no-build -nologo --blame-hang-timeout 10m \
    --logger "trx" --results-directory "$results/trx" >"$results/test.log" 2>&1
test_rc=$?
grep -vE '^\s*$' "$results/test.log"

trx_count=$(find "$results/trx" -name '*.trx' 2>/dev/null | wc -l)
expected_suites=$(find tests -mindepth 2 -maxdepth 2 -name '*.Tests.csproj' | wc -l)
if [ "$trx_count" -lt "$expected_suites" ]; then
    echo "only $trx_count of $expected_suites test suites produced results"
    failed=$((failed + expected_suites - trx_count))
fi
for f in "$results"/trx/*.trx; do
    [ -f "$f" ] || continue
    # <Counters total=".." executed=".." passed=".." failed=".." error=".." timeout=".." aborted=".." ...
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
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "dotnet test exited $test_rc with no failed test counted"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
