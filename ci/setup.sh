#!/usr/bin/env bash
# Installs what building and testing Offload needs on Debian 12, only what is missing (idempotent).
# Runs as root (CI, a fresh machine) or through sudo.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# wrk, haproxy and nginx-light: `offload bench router` measures the request router against them. afl++: ci/fuzz.sh.
# nextpnr-ice40 and fpga-icestorm: the HX8K build is placed, routed and timed in hdl-check.
# systemd: only for `systemd-analyze verify` of deploy/systemd/offload-gateway@.service (it runs without systemd as PID 1).
# keepalived: the VRRP peer offload bench lab runs beside Offload.
for p in verilator iverilog yosys nextpnr-ice40 fpga-icestorm tshark iproute2 ethtool iputils-ping libusb-1.0-0 make g++ libpcap0.8 wrk haproxy keepalived nginx-light afl++ systemd; do
    pkg_installed "$p" || need_pkgs+=("$p")
done

if [ "${#need_pkgs[@]}" -gt 0 ]; then
    echo "setup: installing ${need_pkgs[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer for it.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# promtool checks the daemon's /metrics. It ships in Debian's prometheus package, whose install would also start a
# Prometheus server; take the one binary out of the package instead.
if ! have promtool; then
    echo "setup: installing promtool from Debian's prometheus package"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    ( cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null || { $SUDO apt-get update -qq && apt-get download -qq prometheus; }; } )
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    $SUDO install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
    rm -rf "$tmp"
fi

if ! have dotnet; then
    echo "setup: the .NET 10 SDK is not on PATH (Debian does not package it); install dotnet-sdk-10.0 first" >&2
    exit 1
fi
major=$(dotnet --version | cut -d. -f1)
if [ "$major" -lt 10 ]; then
    echo "setup: .NET SDK $(dotnet --version) is too old; Offload needs 10 or later" >&2
    exit 1
fi
echo "setup: verilator $(verilator --version | cut -d' ' -f2), iverilog, yosys, nextpnr-ice40, icestorm, tshark, dotnet $(dotnet --version) ready"
