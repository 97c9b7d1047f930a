#!/usr/bin/env bash
# Instructions per multiply-accumulate of the reference model's invoke and
# kernels, per instruction set of the integer kernels: x86-64 AVX2 against
# AVX-512 VNNI, aarch64 NEON against the dot product. A benchmark, not a
# test (about 15 minutes).
#
#   runtime/tools/bench_isa.sh [BUILD_DIR]      (default: build)
#
# Models: BUILD_DIR/bench_latency --write-models (the reference fused
# separable model, random weights, paper 8/4, all 8 and all 4 bits). x86-64:
# rt_icount_driver.c built -O3 -no-pie for each ISA; AVX2 counted by
# callgrind (--toggle-collect, 20 invokes), as docs/deployment.md's AVX2
# table; VNNI by step_icount.c (ptrace single steps, one invoke), since
# valgrind cannot run AVX-512 code. step_icount's AVX2 invoke count is
# printed beside callgrind's as the check that the two agree. aarch64: both
# builds -O2 under qemu-aarch64 -cpu max, qemu_icount.py, (3 rows - 1 row) / 2,
# the row minus the front end as in bench_device.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rt=$(dirname "$here")
root=$(dirname "$rt")
build=${1:-$root/build}
[[ -x "$build/bench_latency" ]] || { echo "bench_isa.sh: $build/bench_latency not built" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench-isa.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$build/bench_latency" --write-models "$out" >/dev/null
models=(paper paper-flat all8 all4)
fns=(tm_rt_model_invoke tm_rt_conv tm_rt_depthwise tm_rt_dense)

# ratio MODEL FN COUNT INVOKES: Ir / MAC
ratio() {
  python3 - "$out/$1.macs" "$2" "$3" "$4" <<'PY'
import sys
m = {k: int(v) for k, v in (l.split() for l in open(sys.argv[1]))}
key = {"tm_rt_model_invoke": None, "tm_rt_conv": "conv", "tm_rt_depthwise": "depthwise",
       "tm_rt_dense": "dense"}[sys.argv[2]]
macs = m["conv"] + m["depthwise"] + m["dense"] if key is None else m[key]
print("%.3f" % (int(sys.argv[3]) / int(sys.argv[4]) / macs))
PY
}

x86=0
if [[ $(uname -m) == x86_64 ]] && command -v valgrind >/dev/null && grep -qw avx2 /proc/cpuinfo; then
  x86=1
  gcc -O2 -o "$out/step_icount" "$here/step_icount.c"
  for isa in avx2 vnni; do
    fl=(-mavx2)
    [[ $isa == vnni ]] && fl=(-mavx2 -mavx512f -mavx512vnni)
    gcc -std=c99 -O3 -DNDEBUG -ffp-contract=off "${fl[@]}" -no-pie -I"$rt" -I"$here" "$rt"/*.c \
      "$here/rt_icount_driver.c" -lm -o "$out/drv_$isa"
  done
  for m in "${models[@]}"; do "$out/drv_avx2" "$out/$m.tm2n" --macs >"$out/$m.macs"; done
  printf "x86-64, instructions per MAC (invoke, then the kernels; conv includes pointwise):\n"
  printf "  %-10s %-28s %8s %8s %8s %8s\n" model "build, counter" invoke conv depthwise dense
  for m in "${models[@]}"; do
    row=()
    for fn in "${fns[@]}"; do
      valgrind --tool=callgrind --callgrind-out-file="$out/cg" --toggle-collect=$fn \
        "$out/drv_avx2" "$out/$m.tm2n" 20 >/dev/null 2>&1
      ir=$(callgrind_annotate "$out/cg" | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
      row+=("$(ratio $m $fn "$ir" 20)")
      [[ $fn == tm_rt_model_invoke ]] && echo "$m $ir" >>"$out/avx2_invoke"
    done
    printf "  %-10s %-28s %8s %8s %8s %8s\n" $m "AVX2, callgrind" "${row[@]}"
    if grep -qw avx512_vnni /proc/cpuinfo; then
      row=()
      for fn in "${fns[@]}"; do
        a=$(nm "$out/drv_vnni" | awk -v f=$fn '$3==f{print $1}')
        n=$("$out/step_icount" "$a" "$out/drv_vnni" "$out/$m.tm2n" 1 | awk '/^calls/{print $4}')
        row+=("$(ratio $m $fn "$n" 1)")
      done
      printf "  %-10s %-28s %8s %8s %8s %8s\n" $m "AVX-512 VNNI, step_icount" "${row[@]}"
    fi
  done
  a=$(nm "$out/drv_avx2" | awk '$3=="tm_rt_model_invoke"{print $1}')
  n=$("$out/step_icount" "$a" "$out/drv_avx2" "$out/paper.tm2n" 1 | awk '/^calls/{print $4}')
  printf "  check: AVX2 paper invoke, step_icount %s instructions, callgrind %s / 20\n\n" "$n" \
    "$(awk '$1=="paper"{print $2}' "$out/avx2_invoke")"
fi

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
  groups=(--group 'conv=^tm_rt_conv' --group 'depthwise=^tm_rt_(depthwise|dw_)'
          --group 'dense=^tm_rt_dense'
          --group 'frontend=^(tm_rt_(fft|fe_|frontend|mel|band|standardise)|__cos|__sin|sincos|log|__ieee754_log|pow|exp)')
  aarch64-linux-gnu-gcc -std=c99 -O2 -ffp-contract=off -mcpu=cortex-a72 -static -I"$rt" "$rt"/*.c \
    "$here/rt_icount_driver.c" -lm -o "$out/a64_neon"
  aarch64-linux-gnu-gcc -std=c99 -O2 -ffp-contract=off -march=armv8.2-a+dotprod -static -I"$rt" \
    "$rt"/*.c "$here/rt_icount_driver.c" -lm -o "$out/a64_dotprod"
  printf "aarch64 (qemu-aarch64 -cpu max), instructions per MAC:\n"
  printf "  %-10s %-28s %8s %8s %8s %8s\n" model build invoke conv depthwise dense
  for m in "${models[@]}"; do
    qemu-aarch64 -cpu max "$out/a64_neon" "$out/$m.tm2n" --macs >"$out/$m.macs"
    for isa in neon dotprod; do
      for r in 1 3; do
        python3 "$here/qemu_icount.py" --run \
          "qemu-aarch64 -cpu max -d in_asm,exec,nochain -D {log} $out/a64_$isa $out/$m.tm2n $r" \
          "${groups[@]}" >"$out/$isa.$r"
      done
      python3 - "$out/$isa.1" "$out/$isa.3" "$out/$m.macs" "$m" "$isa" <<'PY'
import sys
def read(p):
    return {k: int(v) for k, v in (l.split() for l in open(p))}
a, b, macs = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3])
d = {k: (b[k] - a[k]) / 2 for k in b}
tm = macs["conv"] + macs["depthwise"] + macs["dense"]
print("  %-10s %-28s %8.3f %8.3f %8.3f %8.3f" % (sys.argv[4], sys.argv[5],
      (d["total"] - d["frontend"]) / tm, d["conv"] / macs["conv"],
      d["depthwise"] / macs["depthwise"], d["dense"] / macs["dense"]))
PY
    done
  done
fi
