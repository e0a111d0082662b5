#!/usr/bin/env bash
# The main job: set up, build, and run the co-simulation demo on the Verilator model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh
exec ./offload demo "$@"
