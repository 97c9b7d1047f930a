#!/usr/bin/env bash
# Executed instructions of the runtime per invoke and per kernel on the
# devices it is for, counted under QEMU (runtime/tools/qemu_icount.py says
# how, and why instructions are only an estimate of cycles). A benchmark,
# not a test.
#
#   runtime/tools/bench_device.sh [BUILD_DIR] [TARGET...]   (default: build; a72 m4 m7)
#
# TARGET picks the targets to count (a72, m4, m7), all three by default.
#
# Models: BUILD_DIR/bench_latency --write-models gives the reference fused
# separable model (avdigits fused compressed) with random weights lowered as
# the paper preset (8/4), all 8-bit and all 4-bit: the same shapes, bits and
# so the same instruction counts as the trained model. Each target program
# (runtime/tools/rt_icount_driver.c) runs ROWS = 1 and ROWS = 3 invokes; the
# difference / 2 is one row (input setters + invoke), with start-up, file
# reading and printing cancelled exactly. MACs count padding taps.
#
# Targets: aarch64 Cortex-A72 (NEON, -O2) under qemu-aarch64 user mode;
# Cortex-M4F and Cortex-M7 (arm-dsp kernels, -O2) bare metal under
# qemu-system-arm (runtime/tools/cortexm/), inputs and model linked in.
# The known-length loop check (runtime/tools/icount_selftest.sh) runs first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rt=$(dirname "$here")
root=$(dirname "$rt")
build=${1:-$root/build}
targets=("${@:2}")
[[ ${#targets[@]} -gt 0 ]] || targets=(a72 m4 m7)
want() { local t; for t in "${targets[@]}"; do [[ $t == "$1" ]] && return 0; done; return 1; }
for t in "${targets[@]}"; do
  case $t in a72|m4|m7) ;; *) echo "bench_device.sh: unknown target '$t' (a72, m4, m7)" >&2; exit 2 ;; esac
done
want a72 && ! command -v qemu-aarch64 >/dev/null && { echo "bench_device.sh: qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 1; }
want a72 && ! command -v aarch64-linux-gnu-gcc >/dev/null && { echo "bench_device.sh: aarch64-linux-gnu-gcc not found" >&2; exit 1; }
[[ -x "$build/bench_latency" ]] || { echo "bench_device.sh: $build/bench_latency not built (cmake --build $build)" >&2; exit 1; }

# TM_BENCH_MODELS="all8 all4" counts only those of the four models (and
# leaves the DS-CNN out); TM_BENCH_KEEP=DIR keeps the models, images and
# per-function counts there.
models=(${TM_BENCH_MODELS:-paper paper-flat all8 all4})
for m in "${models[@]}"; do
  case $m in paper|paper-flat|all8|all4) ;; *) echo "bench_device.sh: unknown model '$m' in TM_BENCH_MODELS" >&2; exit 2 ;; esac
done
if [[ -n "${TM_BENCH_KEEP:-}" ]]; then
  out=$TM_BENCH_KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench-device.XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi

bash "$here/icount_selftest.sh"
"$build/bench_latency" --write-models "$out" >/dev/null

if want a72; then
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
printf "  %-10s %10s %10s %10s %10s %10s %10s | %8s %8s %8s %8s\n" model row invoke conv depthwise dense frontend \
  "MAC/i cv" "dw" "dense" "invoke"
for m in "${models[@]}"; do
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
print("  %-10s %10d %10d %10d %10d %10d %10d | %8.3f %8.3f %8.3f %8.3f" % (
    name, d["total"], inv, d["conv"], d["depthwise"], d["dense"], d["frontend"],
    r(macs["conv"], d["conv"]), r(macs["depthwise"], d["depthwise"]), r(macs["dense"], d["dense"]),
    r(tm, inv)))
EOF
done
printf "\n  row: input setters + invoke; invoke: row minus the audio front end (FFT, mel, log, DCT);\n"
printf "  MAC/i: multiply-accumulates per instruction (conv includes the 1x1 pointwise halves).\n"
fi

# ---- Cortex-M4F and M7 under qemu-system-arm (runtime/tools/cortexm/) -----
if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null; then
  echo "bench_device.sh: arm-none-eabi-gcc or qemu-system-arm missing: no Cortex-M counts" >&2
  exit 0
fi
cm=$here/cortexm
gcc -std=c99 -O2 -ffp-contract=off -I"$rt" "$rt"/*.c "$here/rt_icount_driver.c" -lm -o "$out/drv_host"
mgroups=(--group 'conv=^tm_rt_(conv(_dsp|_ref)$|dsp_(gather|out4|dot|job|tile))'
         --group 'depthwise=^tm_rt_(depthwise|dw_)'
         --group 'dense=^tm_rt_(dense|dsp_(dense|drows))'
         --group 'requant=^tm_rt_(requant$|dsp_rq_exact)'
         --group 'pool=pool'
         --group 'frontend=^(tm_rt_(fft|fe_|frontend|mel|band|standardise)|__|sin|cos|log|pow|exp|sqrt|floor)')
# cm_row CORE MODEL.tm2n NAME DIR: one table row of instructions per row on CORE
cm_row() {
  local core=$1 model=$2 m=$3 d=$4
  mkdir -p "$d"
  "$out/drv_host" "$model" --tmri "$d/in.bin" 3
  python3 "$cm/tmri_to_c.py" "$d/in.bin" "$d/cm_inputs.h"
  python3 - "$model" "$d/cm_model.h" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
  f.write("#include <stdint.h>\n#define CM_MODEL_LEN %du\n" % len(b))
  f.write("__attribute__((aligned(16))) static const uint8_t cm_model[CM_MODEL_LEN] = {\n")
  for i in range(0, len(b), 16):
      f.write(",".join("0x%02x" % x for x in b[i:i + 16]) + ",\n")
  f.write("};\n")
PY
  for r in 1 3; do
    bash "$cm/build.sh" "$core" "$d" "$d/$core-$r.elf" -DCM_RUN_ROWS=$r
    python3 "$here/qemu_icount.py" --run "bash $cm/run.sh $core $d/$core-$r.elf $d/$core-$r.out -d in_asm,exec,nochain -D {log}" \
      "${mgroups[@]}" --functions >"$d/$core.$r"
  done
  "$out/drv_host" "$model" --macs >"$d/macs"
  python3 - "$d/$core.1" "$d/$core.3" "$d/macs" "$m" "$d/invoke" <<'PY'
import sys
def read(p):  # group lines; the indented per-function lines are for TM_BENCH_KEEP
  return {k: int(v) for k, v in (l.split() for l in open(p) if not l.startswith(" "))}
a, b, macs, name = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3]), sys.argv[4]
d = {k: (b[k] - a[k]) / 2 for k in b}
inv = d["total"] - d["frontend"]
tm = macs["conv"] + macs["depthwise"] + macs["dense"]
r = lambda m, i: m / i if i else float("nan")
print("  %-10s %10d %10d %10d %10d %10d %9d %10d | %8.3f %8.3f %8.3f %8.3f" % (
  name, d["total"], inv, d["conv"], d["depthwise"], d["dense"], d["requant"], d["frontend"],
  r(macs["conv"], d["conv"]), r(macs["depthwise"], d["depthwise"]), r(macs["dense"], d["dense"]),
  r(tm, inv)))
open(sys.argv[5], "w").write("%d\n" % inv)
PY
}

for core in m4 m7; do
  want $core || continue
  case $core in
    m4) printf "\nInstructions per row on Cortex-M4F (qemu-system-arm -M mps2-an386, -O2, arm-dsp kernels);\n" ;;
    m7) printf "\nInstructions per row on Cortex-M7 (qemu-system-arm -M mps2-an500, -O2, arm-dsp kernels);\n" ;;
  esac
  printf "an estimate of cycles. DSP peak: SMLAD, 2 int16 MACs per instruction (0.5 instructions per MAC).\n"
  printf "Per kernel: the kernel's own instructions, its inlined requantisation included; calls of the\n"
  printf "exact fallback (tm_rt_requant, for channels outside the short form) are shown apart.\n\n"
  printf "  %-10s %10s %10s %10s %10s %10s %9s %10s | %8s %8s %8s %8s\n" model row invoke conv depthwise dense requant \
    frontend "MAC/i cv" "dw" "dense" "invoke"
  for m in "${models[@]}"; do
    cm_row "$core" "$out/$m.tm2n" "$m" "$out/cm_${core}_$m"
  done
done
printf "\n  row / invoke / MAC/i as above; at 120 MHz, 1 instruction ~ 8.3 ns if every instruction took one cycle.\n"

# ---- a standard workload: the MLPerf Tiny keyword-spotting DS-CNN ---------
if want m4 && [[ -z "${TM_BENCH_MODELS:-}" ]]; then
  mkdir -p "$out/kws"
  "$build/bench_latency" --cfg "$root/experiments/kws/ds-cnn.cfg" --classes 12 \
    --write-models "$out/kws" >/dev/null
  printf "\nMLPerf Tiny keyword spotting, DS-CNN (experiments/kws/ds-cnn.cfg, 12 classes, random\n"
  printf "weights lowered all 8-bit as MLPerf's int8 model; 49x10 MFCC in, the front end left out as\n"
  printf "MLPerf's latency leaves it out) on Cortex-M4F (qemu mps2-an386, -O2, arm-dsp kernels):\n\n"
  printf "  %-10s %10s %10s %10s %10s %10s %9s %10s | %8s %8s %8s %8s\n" model row invoke conv depthwise dense requant \
    frontend "MAC/i cv" "dw" "dense" "invoke"
  cm_row m4 "$out/kws/all8.tm2n" ds-cnn "$out/cm_kws"
  inv=$(cat "$out/cm_kws/invoke")
  python3 - "$inv" <<'PY'
import sys
inv = int(sys.argv[1])
ms = inv / 120e6 * 1e3
print("\n  estimate at 120 MHz, one instruction per cycle: %.1f ms per inference" % ms)
print("  MLPerf Tiny v1.1, NUCLEO-L4R5ZI (Cortex-M4, 120 MHz), keyword spotting, measured:")
for name, v in (("TFLite Micro reference", 181.9), ("STM X-CUBE-AI", 62.9), ("Plumerai", 47.8)):
    print("    %-24s %6.1f ms   (this estimate %.2fx of it)" % (name, v, ms / v))
print("  (instructions are an estimate of cycles: loads, branches and flash wait states cost more")
print("  on the board, so the true time is longer; the MLPerf figures are measured)")
PY
fi
