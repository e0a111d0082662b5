#!/usr/bin/env bash
# Synthesizes the core (offload_top with the small parameters of hdl/syn/offload_syn_small.v) for an
# iCE40 with Yosys and reports its area against an iCE40 HX8K and its deepest logic path, every figure
# from this run. It does not place and route: the core does not fit an HX8K yet, so nextpnr has nothing
# to time; the report says by how much it misses. Run from anywhere: hdl/syn/core_area.sh [OUT_DIR]
# Fails only when Yosys fails or the tables stop mapping to block RAM (SB_RAM40_4K).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
cd "$ROOT"

yosys -q -l "$OUT/yosys.log" -p "script hdl/syn/offload_params.ys; synth_ice40 -top offload_syn_small \
    -json $OUT/core.json; tee -q -o $OUT/stat.txt stat" >/dev/null
python3 "$HERE/core_depth.py" "$OUT/core.json" offload_syn_small >"$OUT/depth.txt"

python3 - "$OUT/stat.txt" "$OUT/depth.txt" <<'PY' | tee "$OUT/summary.txt"
import re, sys
stat, depth = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def cells(pat):
    return sum(int(n) for n in re.findall(r"^\s+" + pat + r"\s+(\d+)\s*$", stat, re.M))
luts, ffs, rams, carry = cells(r"SB_LUT4"), cells(r"SB_DFF\w*"), cells(r"SB_RAM40_4K"), cells(r"SB_CARRY")
d = dict(l.split(" ", 1) for l in depth.strip().splitlines())
# iCE40 HX8K: 7680 logic cells (a LUT4 and a flip-flop each), 32 SB_RAM40_4K
HX8K_LC, HX8K_RAM = 7680, 32
lc = max(luts, ffs)   # a lower bound on logic cells: a LUT and a flip-flop may share one
print(f"  core (offload_syn_small) on iCE40: LUT4 {luts}, flip-flops {ffs}, SB_RAM40_4K {rams}, SB_CARRY {carry}")
print(f"  against an HX8K: logic cells >= {lc} of {HX8K_LC} ({lc / HX8K_LC:.1f}x), "
      f"block RAMs {rams} of {HX8K_RAM} ({rams / HX8K_RAM:.1f}x): "
      + ("fits by these counts" if lc <= HX8K_LC and rams <= HX8K_RAM else "does not fit"))
print(f"  deepest path: {d['logic_levels']} LUT levels (+{d['carry_cells_on_path']} carry cells), "
      f"{d['path_start']} -> {d['path_end']}")
sys.exit(0 if rams > 0 else 1)
PY
