#!/usr/bin/env bash
# Executed instructions of the runtime per invoke and per kernel on the
# devices it is for, counted under QEMU (runtime/tools/qemu_icount.py says
# how, and why instructions are only an estimate of cycles). A benchmark,
# not a test.
#
#   runtime/tools/bench_device.sh [BUILD_DIR]      (default: build)
#
# Models: BUILD_DIR/bench_latency --write-models gives the reference fused
# separable model (avdigits fused compressed) with random weights lowered as
# the paper preset (8/4), all 8-bit and all 4-bit: the same shapes, bits and
# so the same instruction counts as the trained model. Each target program
# (runtime/tools/rt_icount_driver.c) runs ROWS = 1 and ROWS = 3 invokes; the
# difference / 2 is one row (input setters + invoke), with start-up, file
# reading and printing cancelled exactly. MACs count padding taps.
#
# Targets: aarch64 Cortex-A72 (NEON, -O2) under qemu-aarch64 user mode.
# The known-length loop check (runtime/tools/icount_selftest.sh) runs first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rt=$(dirname "$here")
root=$(dirname "$rt")
build=${1:-$root/build}
command -v qemu-aarch64 >/dev/null || { echo "bench_device.sh: qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 1; }
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "bench_device.sh: aarch64-linux-gnu-gcc not found" >&2; exit 1; }
[[ -x "$build/bench_latency" ]] || { echo "bench_device.sh: $build/bench_latency not built (cmake --build $build)" >&2; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench-device.XXXXXX")
trap 'rm -rf "$out"' EXIT

bash "$here/icount_selftest.sh"
"$build/bench_latency" --write-models "$out" >/dev/null

aarch64-linux-gnu-gcc -std=c99 -O2 -ffp-contract=off -mcpu=cortex-a72 -static -I"$rt" \
  "$rt"/*.c "$here/rt_icount_driver.c" -lm -o "$out/drv_a72"

groups=(--group 'conv=^tm_rt_(conv|conv_row|pack_conv|fill_row|tap_offsets)'
        --group 'depthwise=^tm_rt_(depthwise|dw_row|pack_dw|copy_row)'
        --group 'dense=^tm_rt_dense'
        --group 'pool=pool'
        --group 'frontend=^(tm_rt_(fft|fe_|frontend|mel|band|standardise)|__cos|__sin|sincos|log|__ieee754_log|pow|exp)'
        --group 'invoke_other=^tm_rt_(model_invoke|requant|rq_|quantize|check)')

# count TARGET_CMD ROWS -> "group count" lines
count() {
  python3 "$here/qemu_icount.py" --run "$1 $2" "${groups[@]}"
}

printf "Instructions per row on aarch64 Cortex-A72 (qemu-aarch64 -cpu cortex-a72, NEON build, -O2);\n"
printf "an estimate of cycles: QEMU executes instructions, it does not time them.\n"
printf "NEON peak: smlal by lane, 4 int16 MACs per instruction (0.25 instructions per MAC).\n\n"
printf "  %-7s %10s %10s %10s %10s %10s %10s | %8s %8s %8s %8s\n" model row invoke conv depthwise dense frontend \
  "MAC/i cv" "dw" "dense" "invoke"
for m in paper all8 all4; do
  model="$out/$m.tm2n"
  cmd="qemu-aarch64 -cpu cortex-a72 -d in_asm,exec,nochain -D {log} $out/drv_a72 $model"
  count "$cmd" 1 >"$out/$m.1"
  count "$cmd" 3 >"$out/$m.3"
  qemu-aarch64 -cpu cortex-a72 "$out/drv_a72" "$model" --macs >"$out/$m.macs"
  python3 - "$out/$m.1" "$out/$m.3" "$out/$m.macs" "$m" <<'EOF'
import sys
def read(p):
    return {k: int(v) for k, v in (l.split() for l in open(p))}
a, b, macs, name = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3]), sys.argv[4]
d = {k: (b[k] - a[k]) / 2 for k in b}
inv = d["total"] - d["frontend"]
tm = macs["conv"] + macs["depthwise"] + macs["dense"]
r = lambda m, i: m / i if i else float("nan")
print("  %-7s %10d %10d %10d %10d %10d %10d | %8.3f %8.3f %8.3f %8.3f" % (
    name, d["total"], inv, d["conv"], d["depthwise"], d["dense"], d["frontend"],
    r(macs["conv"], d["conv"]), r(macs["depthwise"], d["depthwise"]), r(macs["dense"], d["dense"]),
    r(tm, inv)))
EOF
done
printf "\n  row: input setters + invoke; invoke: row minus the audio front end (FFT, mel, log, DCT);\n"
printf "  MAC/i: multiply-accumulates per instruction (conv includes the 1x1 pointwise halves).\n"
