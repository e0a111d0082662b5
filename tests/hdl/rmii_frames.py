#!/usr/bin/env python3
"""Frames for the RMII MAC bench (tests/hdl/ofl_rmii_mac_tb.v), with FCS from zlib.crc32, and the check
of what the MAC sent: byte-exact against zlib and, as a pcap with FCS, against tshark's own FCS check.

  rmii_frames.py gen DIR SEED   writes DIR/tx_frames.txt and DIR/rx_stream.txt
  rmii_frames.py check DIR      reads DIR/tx_frames.txt and DIR/tx_capture.txt, writes DIR/tx.pcap
"""
import random
import struct
import subprocess
import sys
import zlib

# rx_stream.txt flags
F_TOGGLE = 1    # CRS_DV toggles over the last bytes, as when the PHY's buffer drains after carrier loss
F_RXER = 2      # RX_ER during byte `erbyte`
F_DRIBBLE = 4   # one di-bit more after the last byte
F_LEAD = 8      # CRS_DV rises with 00 di-bits before the preamble
F_NOSFD = 16    # carrier with data that never has an SFD (false carrier)

EXP_GOOD, EXP_BAD, EXP_FRAG, EXP_NONE = 0, 1, 2, 3


def fcs(data):
    return struct.pack("<I", zlib.crc32(data))


def line(nums, data):
    return " ".join(str(n) for n in nums) + " " + str(len(data)) + "".join(f" {b:02x}" for b in data) + "\n"


def gen(out, seed):
    rnd = random.Random(seed)

    def payload(n):
        return bytes(rnd.randrange(256) for _ in range(n))

    # frames the MAC sends: short ones (padded), minimum, long; gap 0 means back to back. hole > 0: the
    # bench withholds byte `hole` long enough for the MAC to run dry there (an underrun)
    lens = [1, 14, 59, 60, 61, 64, 100, 1514, 60, 60, 60] + [rnd.randrange(1, 300) for _ in range(30)]
    holes = {12: 20, 20: 30, 25: 70}   # past the Ethernet header, so tshark dissects the FCS
    with open(f"{out}/tx_frames.txt", "w") as f:
        for i, n in enumerate(lens):
            gap = 0 if i % 3 else rnd.randrange(0, 200)
            hole = holes.get(i, 0)
            f.write(line([gap, hole], payload(max(n, hole + 1))))

    # what the PHY hands the receiver: flags erbyte preamble_bytes gap expect n bytes (FCS included)
    rows = []

    def add(data, exp, flags=0, erbyte=0, pre=7, gap=48):
        rows.append(line([flags, erbyte, pre, gap, exp], data))

    for n in (60, 61, 100, 1514, 500):
        d = payload(n)
        add(d + fcs(d), EXP_GOOD)
    for _ in range(6):                                   # back to back with the minimum gap
        d = payload(60)
        add(d + fcs(d), EXP_GOOD, gap=48)
    for _ in range(4):                                   # shorter gaps than the standard's
        d = payload(rnd.randrange(60, 120))
        add(d + fcs(d), EXP_GOOD, gap=rnd.randrange(2, 12))
    for _ in range(8):                                   # one bit flipped anywhere, FCS included
        d = payload(rnd.randrange(60, 200))
        w = bytearray(d + fcs(d))
        bit = rnd.randrange(len(w) * 8)
        w[bit // 8] ^= 1 << (bit % 8)
        add(bytes(w), EXP_BAD)
    for _ in range(4):                                   # RX_ER inside an otherwise good frame
        d = payload(rnd.randrange(60, 200))
        add(d + fcs(d), EXP_BAD, flags=F_RXER, erbyte=rnd.randrange(len(d) + 4))
    for n in (1, 2, 10, 40, 59):                         # runts with a good FCS
        d = payload(n)
        add(d + fcs(d), EXP_BAD)
    for n in (0, 1, 3, 4):                               # fragments: nothing left after the FCS
        add(payload(n), EXP_FRAG)
    for _ in range(4):                                   # PHY buffer drains after the carrier went
        d = payload(rnd.randrange(60, 200))
        add(d + fcs(d), EXP_GOOD, flags=F_TOGGLE)
    d = payload(70)
    w = bytearray(d + fcs(d))
    w[3] ^= 0x10
    add(bytes(w), EXP_BAD, flags=F_TOGGLE)
    for _ in range(2):                                   # dribble bits: the FCS decides
        d = payload(rnd.randrange(60, 100))
        add(d + fcs(d), EXP_GOOD, flags=F_DRIBBLE)
    for pre in (1, 2, 5):                                # the PHY ate part of the preamble
        d = payload(80)
        add(d + fcs(d), EXP_GOOD, pre=pre, flags=F_LEAD if pre == 2 else 0)
    add(payload(30), EXP_NONE, flags=F_NOSFD)            # false carrier
    for _ in range(3):
        d = payload(rnd.randrange(60, 200))
        add(d + fcs(d), EXP_GOOD, flags=F_LEAD)
    with open(f"{out}/rx_stream.txt", "w") as f:
        f.writelines(rows)


def check(out):
    sent = []
    with open(f"{out}/tx_frames.txt") as f:
        for ln in f:
            v = ln.split()
            hole = int(v[1])
            sent.append((hole, bytes(int(x, 16) for x in v[3:])))
    got = []
    with open(f"{out}/tx_capture.txt") as f:
        for ln in f:
            v = ln.split()
            got.append(bytes(int(x, 16) for x in v[1:]))
    errors = []
    if len(got) != len(sent):
        errors.append(f"{len(got)} frames on the wire, {len(sent)} sent")
    for i, ((hole, s), g) in enumerate(zip(sent, got)):
        if hole:
            # ended after the bytes before the hole, with an FCS that must be wrong
            if g[:-4] != s[:hole] or g[-4:] == fcs(s[:hole]):
                errors.append(f"frame {i}: underrun at byte {hole} not ended there with a wrong FCS")
            continue
        padded = s + bytes(max(0, 60 - len(s)))
        if g != padded + fcs(padded):
            errors.append(f"frame {i}: wire bytes differ from data + padding + zlib FCS")
    with open(f"{out}/tx.pcap", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, g in enumerate(got):
            f.write(struct.pack("<IIII", i, 0, len(g), len(g)))
            f.write(g)
    res = subprocess.run(
        ["tshark", "-r", f"{out}/tx.pcap", "-o", "eth.fcs:Always", "-o", "eth.check_fcs:TRUE",
         "-T", "fields", "-e", "eth.fcs.status"],
        capture_output=True, text=True, check=False)
    status = res.stdout.split()
    if res.returncode != 0 or len(status) != len(got):
        errors.append(f"tshark: rc {res.returncode}, {len(status)} verdicts for {len(got)} frames: {res.stderr[-300:]}")
    bad = [i for i, s in enumerate(status) if s != "1"]
    want_bad = [i for i, (hole, _) in enumerate(sent) if hole]
    if bad != want_bad:
        errors.append(f"tshark finds a bad FCS in frames {bad[:10]}, expected in {want_bad} (underruns)")
    for e in errors[:10]:
        print("  error:", e)
    print(f"{'TB PASS' if not errors else 'TB FAIL'} rmii tx capture: {len(got)} frames, "
          f"{len(status) - len(bad)} with a good FCS by tshark, {len(bad)} underruns with a bad one")
    return 0 if not errors else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(check(sys.argv[2]))
