#!/usr/bin/env bash
# Fresh Debian 12 to a trained fused model: installs the packages, builds, and
# trains the quickstart experiment (built-in synthetic data, no download) with
# its single-branch ablations. The run folder is runs/quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
build/tinym2net train experiments/quickstart.cfg --ablations --out runs/quickstart --force "$@"
