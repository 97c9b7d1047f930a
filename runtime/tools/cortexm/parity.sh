#!/usr/bin/env bash
# ctest: the runtime on Cortex-M4F (qemu mps2-an386) and Cortex-M7
# (mps2-an500): its dispatched kernels (the DSP ones, tm_rt_conv_dsp.c and
# tm_rt_depthwise_dsp.c, at -O2 and the M4's -Os size build) equal
# the references on random shapes (kernels_main.c), and it gives the x86-64
# logits byte for byte on avdigits test samples. A small avdigits fused compressed model (1 epoch, paper 8/4
# preset, no QAT) is trained, quantised and exported as a C array; the first
# ROWS test rows are decoded on the host (tinym2net-run --dump-inputs) and
# linked into the image as raw PCM and pixels, so the front end, the
# standardisation and the network all run on the device. The host reference
# is runtime/tools/tm_rt_run_inputs.c built for x86-64. The file has the
# default (streamed) plan, so the -O2 images also run its chains widened within
# the model's scratch (tm_rt_stream.c), which the host never executes for them;
# chains_main.c runs the streamed chains of tm_rt_ex_chain_specs, widened with
# partial last calls, against their flat plans on the device.
#
#   parity.sh BUILD_DIR [ROWS]     (default 8)
# Exit 77 (skip) without arm-none-eabi-gcc, qemu-system-arm or $TINYM2NET_DATA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:?usage: parity.sh BUILD_DIR [ROWS]}
rows=${2:-8}
skip() { echo "cortexm parity: $1 - skipped"; exit 77; }
command -v arm-none-eabi-gcc >/dev/null || skip "arm-none-eabi-gcc not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
command -v qemu-system-arm >/dev/null || skip "qemu-system-arm not found (apt-get install qemu-system-arm)"
[[ -n "${TINYM2NET_DATA:-}" && -f "$TINYM2NET_DATA/avdigits/test.csv" ]] || skip "TINYM2NET_DATA/avdigits not found"
out=$(mktemp -d "${TMPDIR:-/tmp}/tm-cortexm.XXXXXX")
trap 'rm -rf "$out"' EXIT

tm="$build/tinym2net"
"$tm" train "$root/experiments/avdigits/fused-compressed.cfg" --out "$out/run" \
  --set train.epochs=1 --set data.cache="$out/cache" --quiet >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
"$tm" quantize "$out/run" --out "$out/q" --preset paper --qat-epochs 0 --quiet >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
"$tm" export "$out/q" -o "$out/model.tm2n" --c-array "$out/cm_model.h" --symbol cm_model \
  >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
head -n $((rows + 1)) "$TINYM2NET_DATA/avdigits/test.csv" >"$out/test.csv"
"$build/tinym2net-run" "$out/model.tm2n" --manifest "$out/test.csv" --root "$TINYM2NET_DATA/avdigits" \
  --dump-inputs "$out/inputs.bin" --quiet >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
python3 "$here/tmri_to_c.py" "$out/inputs.bin" "$out/cm_inputs.h"

gcc -std=c99 -O2 -ffp-contract=off -I"$root/runtime" "$root/runtime/tools/tm_rt_run_inputs.c" \
  "$root/runtime"/*.c -lm -o "$out/host_run"
"$out/host_run" "$out/model.tm2n" "$out/inputs.bin" >"$out/x86_64.csv"

status=0
# the DSP kernels against the references on the device first; m4-Os is the
# size build's variant (tm_rt_depthwise_dsp.c leaves its four-output path out)
for v in m4 m7 m4-Os; do
  core=${v%%-*} opt=()
  [[ $v == *-Os ]] && opt=(-Os)
  bash "$here/build.sh" "$core" "$out" "$out/kernels_$v.elf" "$here/kernels_main.c" "${opt[@]}"
  if bash "$here/run.sh" "$core" "$out/kernels_$v.elf" "$out/kernels_$v.txt"; then
    sed "s/^/cortexm kernels $v: /" "$out/kernels_$v.txt"
  else
    echo "cortexm kernels $v: the dispatched kernels differ from the reference:" >&2
    cat "$out/kernels_$v.txt" >&2
    status=1
  fi
done
# streamed chains with partial last calls against the flat plan, on the
# device (chains_main.c: the host's partial_calls_match_the_flat_plan)
for v in m4 m7 m4-Os; do
  core=${v%%-*} opt=()
  [[ $v == *-Os ]] && opt=(-Os)
  bash "$here/build.sh" "$core" "$root/runtime/tools" "$out/chains_$v.elf" "$here/chains_main.c" "${opt[@]}"
  if bash "$here/run.sh" "$core" "$out/chains_$v.elf" "$out/chains_$v.txt"; then
    echo "cortexm chains $v: $(grep -c 'streamed = flat' "$out/chains_$v.txt") streamed chains equal the flat plan"
  else
    echo "cortexm chains $v: a streamed chain differs from the flat plan:" >&2
    cat "$out/chains_$v.txt" >&2
    status=1
  fi
done
for core in m4 m7; do
  bash "$here/build.sh" "$core" "$out" "$out/$core.elf"
  if ! bash "$here/run.sh" "$core" "$out/$core.elf" "$out/$core.csv"; then
    echo "cortexm parity: the $core image failed:" >&2
    cat "$out/$core.csv" >&2
    status=1
    continue
  fi
  if cmp -s "$out/x86_64.csv" "$out/$core.csv"; then
    echo "cortexm parity: $core logits of $rows avdigits test rows equal x86-64's byte for byte"
  else
    echo "cortexm parity: $core logits differ from x86-64's:" >&2
    diff "$out/x86_64.csv" "$out/$core.csv" >&2 || true
    status=1
  fi
done
# RAM for invoke on the M4 as the device computes it, for the file's plan and
# the same model with every tensor in the arena (export --plan flat).
mkdir -p "$out/flat"
"$tm" export "$out/q" -o "$out/flat/model.tm2n" --plan flat --c-array "$out/flat/cm_model.h" \
  --symbol cm_model >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
cp "$out/cm_inputs.h" "$out/flat/"
ram=()
for d in "$out/flat" "$out"; do
  bash "$here/build.sh" m4 "$d" "$d/mem.elf" -DCM_PRINT_MEMORY
  bash "$here/run.sh" m4 "$d/mem.elf" "$d/mem.txt" || { cat "$d/mem.txt" >&2; status=1; }
  ram+=("$(awk '/^memory/ { print $2 }' "$d/mem.txt")")
done
echo "cortexm: m4 RAM for invoke (tm_rt_model_memory_bytes on the device): ${ram[0]} bytes with every tensor in the arena, ${ram[1]} with the exported plan"
arm-none-eabi-size "$out/m4.elf" | tail -1 | awk '{ printf "m4 image: .text %d bytes (runtime, model, inputs, libm), .data %d, .bss %d\n", $1, $2, $3 }'
exit $status
