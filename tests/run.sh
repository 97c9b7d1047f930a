#!/usr/bin/env bash
# The whole test suite: installs the packages, builds, runs every ctest test.
# Tests that read the shared data sets use $TINYM2NET_DATA (.ci/run sets it);
# without it they report a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)"
