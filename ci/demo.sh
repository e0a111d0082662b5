#!/usr/bin/env bash
# The main job: set up, build, and run the lab demo: kernel hosts, three gateway daemons on their own Verilator models
# bound to veths, nginx backends, all in network namespaces; the AVG, a forwarder and a backend are killed under traffic
# and the lab prints a timeline and a verdict. Where namespaces cannot be made (not root, no netns), it says why in one
# line and runs the in-process co-simulation demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh
exec ./offload lab demo "$@"
