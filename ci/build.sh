#!/usr/bin/env bash
# Builds the Verilator models (through the solution's MSBuild target) and the whole solution.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet build offload.sln -c Release -v quiet -nologo -clp:ErrorsOnly
