#!/usr/bin/env bash
# Places and routes the MAC edge for an iCE40 HX8K (ct256) with nextpnr-ice40 and fails when it does
# not fit or misses a clock. Run from anywhere: hdl/syn/edge_hx8k/build.sh [OUT_DIR]
# Prints the area (logic cells, flip-flops, LUTs, block RAMs, I/O of what the part has) and, per clock,
# the Fmax nextpnr achieved against the constraint (hdl/syn/edge_hx8k/ofl_edge_hx8k_clocks.py).
# nextpnr's seed is fixed, so a run is repeatable; the check also asks for MARGIN percent above each
# constraint (default 5) so a small change in placement does not flip it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
RTL=$ROOT/hdl/rtl
OUT=${1:-$(mktemp -d)}
MARGIN=${MARGIN:-5}
mkdir -p "$OUT"

yosys -q -l "$OUT/yosys.log" -p "read_verilog -I$RTL $HERE/ofl_edge_hx8k.v $RTL/ofl_mac_edge.v $RTL/ofl_rmii_rx.v \
    $RTL/ofl_rmii_tx.v $RTL/ofl_async_frame_fifo.v $RTL/ofl_cdc_count.v $RTL/ofl_axis_upsize.v $RTL/ofl_axis_downsize.v; \
    synth_ice40 -top ofl_edge_hx8k -json $OUT/edge.json; tee -q -o $OUT/stat.txt stat"

# nextpnr itself fails on a clock it cannot meet, or a design that does not fit; the report is read
# below all the same, so the figures are printed either way
rc=0
nextpnr-ice40 --hx8k --package ct256 --seed 1 --json "$OUT/edge.json" --pcf "$HERE/ofl_edge_hx8k.pcf" \
    --pre-pack "$HERE/ofl_edge_hx8k_clocks.py" --report "$OUT/report.json" --asc "$OUT/edge.asc" \
    >"$OUT/nextpnr.log" 2>&1 || rc=$?
if [ ! -s "$OUT/report.json" ]; then
    tail -20 "$OUT/nextpnr.log"
    echo "edge_hx8k: nextpnr-ice40 failed (rc $rc) before writing its report"
    exit 1
fi

python3 - "$OUT/report.json" "$OUT/stat.txt" "$MARGIN" "$rc" <<'PY' | tee "$OUT/summary.txt"
import json, re, sys
report, stat, margin, rc = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
r = json.load(open(report))
ok = rc == 0
util = r["utilization"]
for bel, name in (("ICESTORM_LC", "logic cells"), ("ICESTORM_RAM", "block RAMs"), ("SB_IO", "I/O"),
                  ("ICESTORM_PLL", "PLLs")):
    u = util.get(bel, {"used": 0, "available": 0})
    print(f"  {name:12} {u['used']:5} of {u['available']:5} ({100.0 * u['used'] / max(u['available'], 1):.0f}%)")
    if u["used"] > u["available"]:
        ok = False
text = open(stat).read()
ffs = sum(int(n) for n in re.findall(r"^\s+SB_DFF\w*\s+(\d+)", text, re.M))
luts = sum(int(n) for n in re.findall(r"^\s+SB_LUT4\s+(\d+)", text, re.M))
lcs = util["ICESTORM_LC"]["available"]
print(f"  {'LUTs':12} {luts:5} of {lcs:5}   flip-flops {ffs} of {lcs}  (yosys, before packing)")
for clk, f in sorted(r["fmax"].items()):
    need = f["constraint"] * (1 + margin / 100.0)
    good = f["achieved"] >= need
    ok = ok and good
    print(f"  {'PASS' if good else 'FAIL'} clock {clk}: Fmax {f['achieved']:.2f} MHz, constraint "
          f"{f['constraint']:.2f} MHz (+{margin:.0f}% margin: {need:.2f})")
if len(r["fmax"]) < 2:
    print("  FAIL: expected a constrained clock for each of the RMII and core domains")
    ok = False
print("edge_hx8k:", "fits and meets its clocks" if ok else "FAILED", f"(nextpnr rc {rc})")
sys.exit(0 if ok else 1)
PY
# and it makes a bitstream
icepack "$OUT/edge.asc" "$OUT/edge.bin"
