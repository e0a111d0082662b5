#!/usr/bin/env python3
"""Logic depth of an iCE40 netlist (Yosys write_json after synth_ice40): the most SB_LUT4 levels on any
path from a flip-flop, block RAM or input port to a flip-flop, block RAM or output port.

Why not Yosys `ltp`: it counts every cell, so a 64-bit counter's SB_CARRY chain (fast dedicated carry
logic) outweighs a path of 30 LUTs. Here a carry hop costs nothing and a LUT costs one level; the carry
cells on the deepest path are counted and printed beside it, with its start and end.

Usage: core_depth.py NETLIST.json TOP
"""
import json
import sys
from collections import defaultdict


def main():
    path, top = sys.argv[1], sys.argv[2]
    mod = json.load(open(path))["modules"][top]
    cells = mod["cells"]
    # net bit -> driving cell (combinational cells only: LUT4, CARRY); sequential outputs are sources
    comb = {}
    for name, c in cells.items():
        if c["type"] in ("SB_LUT4", "SB_CARRY"):
            comb[name] = c
    driver = {}
    for name, c in comb.items():
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        driver[b] = name
    names = {}
    for nname, n in mod["netnames"].items():
        if n.get("hide_name"):
            continue
        for b in n["bits"]:
            if isinstance(b, int) and b not in names:
                names[b] = nname

    sys.setrecursionlimit(1000000)
    memo = {}

    # (levels, carries, start bit) of the deepest path ending at cell `name`'s output
    def depth(name):
        if name in memo:
            return memo[name]
        memo[name] = (0, 0, None)   # breaks combinational loops (none expected)
        c = comb[name]
        best = (-1, 0, None)
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) != "input":
                continue
            for b in bits:
                if not isinstance(b, int):
                    continue
                if b in driver:
                    d = depth(driver[b])
                else:
                    d = (0, 0, b)
                if d[0] > best[0] or (d[0] == best[0] and d[1] > best[1]):
                    best = d
        lut = c["type"] == "SB_LUT4"
        best = (max(best[0], 0), best[1], best[2])
        r = (best[0] + (1 if lut else 0), best[1] + (0 if lut else 1), best[2])
        memo[name] = r
        return r

    # endpoints: inputs of sequential cells and output ports
    best = (0, 0, None, None)
    ends = []
    for name, c in cells.items():
        if name in comb:
            continue
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) == "input":
                ends += [(b, name) for b in bits if isinstance(b, int)]
    for pname, p in mod["ports"].items():
        if p["direction"] == "output":
            ends += [(b, pname) for b in p["bits"] if isinstance(b, int)]
    for b, end in ends:
        if b in driver:
            d = depth(driver[b])
            if d[0] > best[0] or (d[0] == best[0] and d[1] > best[1]):
                best = (d[0], d[1], d[2], b)
    levels, carries, start, end = best
    print(f"logic_levels {levels}")
    print(f"carry_cells_on_path {carries}")
    print(f"path_start {names.get(start, start)}")
    print(f"path_end {names.get(end, end)}")


if __name__ == "__main__":
    main()
