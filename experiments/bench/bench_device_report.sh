#!/usr/bin/env bash
# The device runtime's figures in one run (docs/deployment.md): on this x86-64
# host the int8 invoke against the project's float path, callgrind's
# instructions per MAC (whole invoke and per kernel) and the front end against
# the invoke, RAM per target build (build/bench_latency); the AVX-512 VNNI and
# aarch64 dot-product builds' instructions per MAC (runtime/tools/bench_isa.sh);
# Cortex-M4 instructions per kernel and the MLPerf Tiny DS-CNN estimate
# beside MLPerf's published latencies (runtime/tools/bench_device.sh m4).
# A benchmark, not a test: 10 to 20 minutes here (runs on 2026-12-03: 19.3, 11.2 and 9.6 min). Instructions are counts
# (valgrind, ptrace single-stepping, QEMU), an estimate of cycles.
#
#   experiments/bench/bench_device_report.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
echo "== x86-64 host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores =="
"$build/bench_latency" --no-torch --seconds 2 --invokes 20
echo
echo "== AVX-512 VNNI and aarch64 dot product (runtime/tools/bench_isa.sh) =="
bash "$root/runtime/tools/bench_isa.sh" "$build" || echo "(bench_isa.sh could not run here)"
echo
echo "== Cortex-M4F under qemu (runtime/tools/bench_device.sh m4) =="
bash "$root/runtime/tools/bench_device.sh" "$build" m4
