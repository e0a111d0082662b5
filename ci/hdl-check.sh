#!/usr/bin/env bash
# HDL checks: Verilator lint (-Wall) of offload_top and of each module on its own, Icarus compile of
# offload_top, Yosys synthesis (generic and iCE40, small parameters). Run from the repository root.
# One line per check; exits non-zero when any check fails.
set -euo pipefail

cd "$(dirname "$0")/.."
RTL=hdl/rtl
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT
FAILED=0
ALL_RTL=("$RTL"/offload_top.v "$RTL"/ofl_*.v)

check() {
    local name=$1
    shift
    local log="$LOG_DIR/$(echo "$name" | tr -c 'A-Za-z0-9_' '_').log"
    local t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        printf 'PASS %-52s %3ss\n' "$name" $((SECONDS - t0))
    else
        printf 'FAIL %-52s %3ss\n' "$name" $((SECONDS - t0))
        sed 's/^/    /' "$log" | head -40
        FAILED=1
    fi
}

lint() {
    local top=$1
    shift
    verilator --lint-only -Wall -I"$RTL" --top-module "$top" "$@"
}

# whole design at the two widths the model is built with (covers every module)
for w in 64 32; do
    check "verilator lint offload_top DATA_W=$w" lint offload_top -GDATA_W=$w "${ALL_RTL[@]}"
done
check "verilator lint offload_top DATA_W=8 small tables" lint offload_top -GDATA_W=8 -GFT_BUCKETS=16 \
    -GGROUPS=2 -GVMACS=4 -GNEXTHOPS=16 -GMAX_FRAME=1518 -GFT_READ_CYCLES=4 "${ALL_RTL[@]}"

# modules as their own tops
for w in 64 32 16 8; do
    check "verilator lint ofl_rx DATA_W=$w" lint ofl_rx -GDATA_W=$w "$RTL"/ofl_rx.v
    check "verilator lint ofl_dispatch DATA_W=$w" lint ofl_dispatch -GDATA_W=$w "$RTL"/ofl_dispatch.v
    check "verilator lint ofl_host_rx DATA_W=$w" lint ofl_host_rx -GDATA_W=$w "$RTL"/ofl_host_rx.v "$RTL"/ofl_fifo.v "$RTL"/ofl_frame_fifo.v
    check "verilator lint ofl_host_tx DATA_W=$w" lint ofl_host_tx -GDATA_W=$w "$RTL"/ofl_host_tx.v \
        "$RTL"/ofl_fifo.v "$RTL"/ofl_frame_fifo.v
    check "verilator lint ofl_xbar DATA_W=$w" lint ofl_xbar -GDATA_W=$w "$RTL"/ofl_xbar.v
    check "verilator lint ofl_axis_skid DATA_W=$w" lint ofl_axis_skid -GDATA_W=$w "$RTL"/ofl_axis_skid.v
done
check "verilator lint ofl_engine" lint ofl_engine "$RTL"/ofl_engine.v "$RTL"/ofl_decode.v
for s in 1 2 4; do
    check "verilator lint ofl_engine small tables FT_READ_CYCLES=$s" lint ofl_engine -GFT_BUCKETS=16 -GFT_STASH=2 \
        -GGROUPS=2 -GVMACS=4 -GNEXTHOPS=16 -GFT_READ_CYCLES=$s "$RTL"/ofl_engine.v "$RTL"/ofl_decode.v
done
check "verilator lint ofl_decode" lint ofl_decode "$RTL"/ofl_decode.v
check "verilator lint ofl_csr" lint ofl_csr "$RTL"/ofl_csr.v
check "verilator lint ofl_counters" lint ofl_counters "$RTL"/ofl_counters.v
check "verilator lint ofl_fifo" lint ofl_fifo -GWIDTH=13 -GDEPTH=5 "$RTL"/ofl_fifo.v "$RTL"/ofl_frame_fifo.v
check "verilator lint ofl_frame_fifo" lint ofl_frame_fifo "$RTL"/ofl_frame_fifo.v
for p in "-GDEPTH=2048 -GDROP_WHEN_FULL=1" "-GDATA_W=9 -GDEPTH=16 -GDROP_WHEN_FULL=0"; do
    # shellcheck disable=SC2086
    check "verilator lint ofl_async_frame_fifo $p" lint ofl_async_frame_fifo $p "$RTL"/ofl_async_frame_fifo.v
done
check "verilator lint ofl_cdc_count" lint ofl_cdc_count "$RTL"/ofl_cdc_count.v
check "verilator lint ofl_rmii_rx" lint ofl_rmii_rx "$RTL"/ofl_rmii_rx.v
check "verilator lint ofl_rmii_tx" lint ofl_rmii_tx "$RTL"/ofl_rmii_tx.v
for p in "" "-GDATA_W=64 -GRX_DEPTH=512 -GTX_DEPTH=2048 -GCNT_W=16" "-GDATA_W=16"; do
    # shellcheck disable=SC2086
    check "verilator lint ofl_mac_edge $p" lint ofl_mac_edge $p "$RTL"/ofl_mac_edge.v "$RTL"/ofl_rmii_rx.v \
        "$RTL"/ofl_rmii_tx.v "$RTL"/ofl_async_frame_fifo.v "$RTL"/ofl_cdc_count.v "$RTL"/ofl_axis_upsize.v \
        "$RTL"/ofl_axis_downsize.v
done
for w in 64 32 16 8; do
    check "verilator lint ofl_axis_upsize DATA_W=$w" lint ofl_axis_upsize -GDATA_W=$w "$RTL"/ofl_axis_upsize.v
    check "verilator lint ofl_axis_downsize DATA_W=$w" lint ofl_axis_downsize -GDATA_W=$w "$RTL"/ofl_axis_downsize.v
done
for p in "" "-GDIV=3 -GDEPTH=260" "-GDIV=8 -GDEPTH=1024"; do
    # shellcheck disable=SC2086
    check "verilator lint ofl_spi_flash $p" lint ofl_spi_flash $p "$RTL"/ofl_spi_flash.v "$RTL"/ofl_fifo.v "$RTL"/ofl_frame_fifo.v
done
# the SPI bridge sits outside offload_top too (a board wrapper puts it in front of the CSR port)
for p in "" "-GREQ_WORDS=8 -GRESP_WORDS=2 -GTIMEOUT=8" "-GREQ_WORDS=4096 -GRESP_WORDS=1024"; do
    # shellcheck disable=SC2086
    check "verilator lint ofl_spi_csr $p" lint ofl_spi_csr $p "$RTL"/ofl_spi_csr.v
done
# the AXI4-Lite slave sits outside offload_top (in front of its CSR port), so it is linted on its own
for p in "-GADDR_W=16 -GDATA_W=32" "-GADDR_W=32 -GDATA_W=32" "-GADDR_W=20 -GDATA_W=64 -GTIMEOUT=8"; do
    # shellcheck disable=SC2086
    check "verilator lint ofl_axil_csr $p" lint ofl_axil_csr $p "$RTL"/ofl_axil_csr.v
done

# Icarus
for w in 64 32; do
    check "iverilog -g2012 offload_top DATA_W=$w" \
        iverilog -g2012 -I"$RTL" -s offload_top -Poffload_top.DATA_W=$w -o "$LOG_DIR/ofl_$w.vvp" "${ALL_RTL[@]}"
done

# Module testbenches (tests/hdl, Icarus): each is self-checking and prints "TB PASS ..." or
# "TB FAIL ...: first error"; compiling is part of the check. One line per parameter set.
TB=tests/hdl
tb_run() {
    local mod=$1
    shift
    local out="$LOG_DIR/${mod}_tb_$$_$RANDOM"
    local params=() files=("$TB/${mod}_tb.v" "$RTL/$mod.v") p dep
    for p in "$@"; do params+=("-P${mod}_tb.$p"); done
    for dep in ofl_fifo ofl_frame_fifo ofl_axis_downsize; do
        [ "$dep" = "$mod" ] || files+=("$RTL/$dep.v")
    done
    iverilog -g2012 -I"$TB" -I"$RTL" -s "${mod}_tb" "${params[@]}" -o "$out.vvp" "${files[@]}" &&
        vvp -n "$out.vvp" | tee "$out.log" && grep -q '^TB PASS' "$out.log"
}
tb() {
    check "tb $*" tb_run "$@"
}
tb ofl_fifo WIDTH=8 DEPTH=16
tb ofl_fifo WIDTH=13 DEPTH=5
tb ofl_fifo WIDTH=8 DEPTH=2
tb ofl_fifo WIDTH=8 DEPTH=1
tb ofl_frame_fifo WIDTH=64 DEPTH=16
tb ofl_frame_fifo WIDTH=16 DEPTH=13
tb ofl_frame_fifo WIDTH=16 DEPTH=2
for w in 64 32 8; do
    tb ofl_axis_skid DATA_W=$w
done
for w in 64 32; do
    tb ofl_xbar DATA_W=$w
done
tb ofl_host_rx DATA_W=64 DEPTH=64
tb ofl_host_rx DATA_W=64 DEPTH=16
tb ofl_host_rx DATA_W=32 DEPTH=64
tb ofl_host_rx DATA_W=16 DEPTH=32
tb ofl_host_rx DATA_W=8 DEPTH=16
tb ofl_host_tx DATA_W=64 DEPTH=32 MAX_FRAME=100
tb ofl_host_tx DATA_W=64 DEPTH=16 MAX_FRAME=200
tb ofl_host_tx DATA_W=32 DEPTH=64 MAX_FRAME=100
tb ofl_host_tx DATA_W=16 DEPTH=64 MAX_FRAME=60
tb ofl_host_tx DATA_W=8 DEPTH=128 MAX_FRAME=64
tb ofl_counters
for w in 64 32 16 8; do
    tb ofl_axis_upsize DATA_W=$w
done
tb ofl_rx DATA_W=64 MAX_FRAME=200 CREDITS=4 LONG=1
tb ofl_rx DATA_W=32 MAX_FRAME=100 CREDITS=2
tb ofl_rx DATA_W=16 MAX_FRAME=64 CREDITS=16
tb ofl_rx DATA_W=8 MAX_FRAME=100 CREDITS=1
tb ofl_dispatch DATA_W=64 PORT=0
tb ofl_dispatch DATA_W=64 PORT=1
tb ofl_dispatch DATA_W=32 PORT=0
tb ofl_dispatch DATA_W=16 PORT=1
tb ofl_dispatch DATA_W=8 PORT=0
tb ofl_axil_csr ADDR_W=16 DATA_W=32 TIMEOUT=16
tb ofl_axil_csr ADDR_W=24 DATA_W=32 TIMEOUT=64
tb ofl_axil_csr ADDR_W=32 DATA_W=64 TIMEOUT=8

# Clock-crossing benches: built once per parameter set, then run for each clock ratio (+S_PS/+M_PS,
# write and read clock periods in ps) under Icarus and under Verilator (--binary --timing), so the
# crossing is checked by two simulators that order events differently.
xtb_build() {
    local sim=$1 tbmod=$2 out=$3 params=$4
    shift 4
    local p args=()
    if [ "$sim" = icarus ]; then
        for p in $params; do args+=("-P${tbmod}.$p"); done
        iverilog -g2012 -I"$TB" -I"$RTL" -s "$tbmod" "${args[@]}" -o "$out" "$TB/$tbmod.v" "$@"
    else
        for p in $params; do args+=("-G$p"); done
        verilator --binary --timing -j 2 -Wno-fatal -Wno-lint -Wno-style -I"$TB" -I"$RTL" --top-module "$tbmod" \
            "${args[@]}" -Mdir "$out.d" -o "$out" "$TB/$tbmod.v" "$@" && [ -x "$out" ]
    fi
}
xtb_run() {
    local sim=$1 bin=$2
    shift 2
    local log="$LOG_DIR/xtb_$$_$RANDOM.log"
    if [ "$sim" = icarus ]; then vvp -n "$bin" "$@"; else "$bin" "$@"; fi | tee "$log" && grep -q '^TB PASS' "$log"
}
xtb() {
    local tbmod=$1 params=$2 files=$3 sim bin clocks
    shift 3
    for sim in icarus verilator; do
        bin="$LOG_DIR/${tbmod}_${sim}_$RANDOM"
        # shellcheck disable=SC2086
        check "tb $tbmod $params ($sim build)" xtb_build "$sim" "$tbmod" "$bin" "$params" $files
        for clocks in "$@"; do
            # shellcheck disable=SC2086
            check "tb $tbmod $params $clocks ($sim)" xtb_run "$sim" "$bin" $clocks
        done
    done
}
# 50 MHz RMII side against a faster, a much faster, a slower core clock and a 125 MHz RGMII-like side
AF_FILES="$RTL/ofl_async_frame_fifo.v $RTL/ofl_cdc_count.v"
xtb ofl_async_frame_fifo_tb "DEPTH=64 DROP_WHEN_FULL=1" "$AF_FILES" \
    "+S_PS=20000 +M_PS=16000" "+S_PS=20000 +M_PS=7519" "+S_PS=20000 +M_PS=37037" "+S_PS=8000 +M_PS=20000"
xtb ofl_async_frame_fifo_tb "DEPTH=16 DROP_WHEN_FULL=0" "$AF_FILES" \
    "+S_PS=7519 +M_PS=20000" "+S_PS=20000 +M_PS=13001"

# The MAC edge with its RMII pins looped back: RMII at 50 MHz, core clock faster, much faster, slower, and
# at 13 MHz, just above the 12.5 MHz the transmitter needs to never run dry
EDGE_FILES="$RTL/ofl_mac_edge.v $RTL/ofl_rmii_rx.v $RTL/ofl_rmii_tx.v $RTL/ofl_axis_upsize.v $RTL/ofl_axis_downsize.v $AF_FILES"
xtb ofl_mac_edge_tb "DATA_W=8 RX_DEPTH=256 TX_DEPTH=512" "$EDGE_FILES" "+M_PS=16000" "+M_PS=7519" "+M_PS=37037" \
    "+M_PS=76923"
xtb ofl_mac_edge_tb "DATA_W=64 RX_DEPTH=256 TX_DEPTH=512" "$EDGE_FILES" "+M_PS=16000" "+M_PS=37037"

# RMII MAC: frames and their FCS from zlib (tests/hdl/rmii_frames.py); the bench loops the transmitter
# into the receiver, then drives the receiver as a PHY would; what went on the wire is checked byte by
# byte against zlib and, as a pcap, by tshark's own FCS check.
rmii_run() {
    local seed=$1 dir
    dir=$(mktemp -d -p "$LOG_DIR")
    python3 "$TB/rmii_frames.py" gen "$dir" "$seed" &&
        iverilog -g2012 -I"$TB" -I"$RTL" -s ofl_rmii_mac_tb -P"ofl_rmii_mac_tb.DIR=\"$dir\"" -o "$dir/tb.vvp" \
            "$TB/ofl_rmii_mac_tb.v" "$RTL/ofl_rmii_tx.v" "$RTL/ofl_rmii_rx.v" &&
        vvp -n "$dir/tb.vvp" | tee "$dir/tb.log" && grep -q '^TB PASS' "$dir/tb.log" &&
        python3 "$TB/rmii_frames.py" check "$dir"
}
for seed in 1 2; do
    check "tb ofl_rmii_mac seed=$seed (+ tshark FCS check)" rmii_run "$seed"
done

# Yosys (small parameters through hdl/syn/offload_syn_small.v)
check "yosys synth generic (tables as \$mem)" \
    bash -c "yosys_out=\$(mktemp); yosys -q -l \"\$yosys_out\" -s hdl/syn/synth_generic.ys >/dev/null && grep -q '\\\$mem_v2' \"\$yosys_out\"; rc=\$?; rm -f \"\$yosys_out\"; exit \$rc"
# The core on an iCE40 (hdl/syn/core_area.sh): one synth_ice40 run gives the check (tables in
# SB_RAM40_4K) and the report: LUT4, flip-flops, block RAMs against an HX8K and the deepest LUT path.
check "yosys synth_ice40 core (tables in SB_RAM40_4K), area and depth" hdl/syn/core_area.sh "$LOG_DIR/core_area"
[ -f "$LOG_DIR/core_area/summary.txt" ] && sed 's/^/    /' "$LOG_DIR/core_area/summary.txt"
check "yosys synth_ice40 ofl_spi_csr (buffers in 6 SB_RAM40_4K)" \
    bash -c "yosys -q -s hdl/syn/synth_spi.ys | grep -E 'SB_RAM40_4K +6\$' -q"
check "yosys synth_ice40 ofl_axil_csr (32- and 64-bit bus)" \
    bash -c "yosys -q -s hdl/syn/synth_axil.ys | grep -c SB_LUT4 | grep -qx 2"

# Place and route of the MAC edge on an iCE40 HX8K (hdl/syn/edge_hx8k): fails when it does not fit or
# misses a clock; the area and Fmax figures are printed either way.
check "nextpnr-ice40 HX8K MAC edge (fits, RMII 50 MHz, core 60 MHz)" hdl/syn/edge_hx8k/build.sh "$LOG_DIR/edge_hx8k"
[ -f "$LOG_DIR/edge_hx8k/summary.txt" ] && sed 's/^/    /' "$LOG_DIR/edge_hx8k/summary.txt"

if [ "$FAILED" -ne 0 ]; then
    echo "hdl-check: FAILED"
    exit 1
fi
echo "hdl-check: all passed"
