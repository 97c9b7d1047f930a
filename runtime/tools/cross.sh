#!/usr/bin/env bash
# Cross builds of the runtime (docs/model-format.md, "Cross builds").
#
#   cross.sh aarch64   build runtime + rt_selftest for x86-64 (and x86-64 AVX2
#                      when this CPU has it) and for aarch64 (Cortex-A72,
#                      NEON), run the aarch64 one under qemu-aarch64 and diff
#                      the outputs: they must be identical.
#   cross.sh m4        compile the runtime for Cortex-M4F twice, with full
#                      messages and with -DTM_RT_NO_MESSAGES, print the
#                      arm-none-eabi-size of every object and the .text totals,
#                      and fail when the no-messages device side (all but the
#                      builder) is over 19,712 bytes (the 19 KB goal of the
#                      streamed chains + 256 for the residual add op).
#   cross.sh vnni      build rt_selftest for x86-64 with the AVX-512 VNNI kernels
#                      (TM_RUNTIME_ISA=avx512vnni's flags) and diff its output
#                      with the x86-64 baseline's; skipped without avx512_vnni.
#   cross.sh dotprod   the same for aarch64 with the dot-product kernels
#                      (-march=armv8.2-a+dotprod, Cortex-A76 class) under
#                      qemu-aarch64 -cpu max.
#   cross.sh           aarch64 and m4.
#
# Exit 77 (ctest's skip) when a needed cross tool is missing; install them
# with: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#       gcc-arm-none-eabi libnewlib-arm-none-eabi
# TM_CROSS_DIR keeps the build products (default: a temporary directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rt=$(dirname "$here")
mode=${1:-all}
case "$mode" in aarch64|m4|vnni|dotprod|all|program) ;; *) echo "usage: $0 [aarch64|m4|vnni|dotprod|all] | $0 program aarch64 OUTDIR SOURCE.c" >&2; exit 2 ;; esac

if [[ -n "${TM_CROSS_DIR:-}" ]]; then
  out=$TM_CROSS_DIR
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/tm-cross.XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi

# The runtime's own flags: C99, no FP contraction (bit-equal float on every target).
common=(-std=c99 -O2 -Wall -Wextra -pedantic -ffp-contract=off)
sources=("$rt"/*.c)

skip() { echo "cross.sh: $1 - skipped" >&2; exit 77; }

# build_selftest CC AR OUTDIR FLAGS...: the runtime as a static library, then
# rt_selftest linked against it.
build_selftest() {
  local cc=$1 ar=$2 dir=$3
  shift 3
  mkdir -p "$dir"
  local objs=()
  for src in "${sources[@]}"; do
    local obj="$dir/$(basename "${src%.c}").o"
    "$cc" "${common[@]}" "$@" -I"$rt" -c "$src" -o "$obj"
    objs+=("$obj")
  done
  rm -f "$dir/libtm_runtime.a"
  "$ar" rcs "$dir/libtm_runtime.a" "${objs[@]}"
  "$cc" "${common[@]}" "$@" -I"$rt" -I"$here" "$here/rt_selftest.c" "$dir/libtm_runtime.a" -lm \
    -o "$dir/rt_selftest"
}

run_aarch64() {
  command -v aarch64-linux-gnu-gcc >/dev/null || skip "aarch64-linux-gnu-gcc not found"
  command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 not found"
  [[ -d /usr/aarch64-linux-gnu/lib ]] || skip "/usr/aarch64-linux-gnu (libc6-dev-arm64-cross) not found"
  command -v gcc >/dev/null || skip "host gcc not found"
  local macros
  macros=$(aarch64-linux-gnu-gcc -mcpu=cortex-a72 -dM -E - </dev/null)
  if ! grep -q '^#define __ARM_NEON 1' <<<"$macros"; then
    echo "cross.sh: aarch64-linux-gnu-gcc -mcpu=cortex-a72 does not define __ARM_NEON" >&2
    return 1
  fi
  echo "aarch64 -mcpu=cortex-a72: __ARM_NEON defined"

  build_selftest gcc ar "$out/x86_64"
  build_selftest aarch64-linux-gnu-gcc aarch64-linux-gnu-ar "$out/aarch64" -mcpu=cortex-a72
  "$out/x86_64/rt_selftest" >"$out/x86_64.txt"
  qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu "$out/aarch64/rt_selftest" \
    >"$out/aarch64.txt"
  local status=0
  if ! diff -u "$out/x86_64.txt" "$out/aarch64.txt"; then
    echo "cross.sh: aarch64 output differs from x86-64" >&2
    status=1
  fi
  if grep -q avx2 /proc/cpuinfo 2>/dev/null; then
    build_selftest gcc ar "$out/x86_64_avx2" -mavx2 -mfma
    "$out/x86_64_avx2/rt_selftest" >"$out/x86_64_avx2.txt"
    if ! diff -u "$out/x86_64.txt" "$out/x86_64_avx2.txt"; then
      echo "cross.sh: x86-64 AVX2 output differs from x86-64 baseline" >&2
      status=1
    fi
  fi
  cat "$out/aarch64.txt"
  if [[ $status -eq 0 ]]; then
    echo "cross.sh: aarch64 (qemu, cortex-a72) output identical to x86-64$(
      [[ -f "$out/x86_64_avx2.txt" ]] && echo " and x86-64 AVX2")"
  fi
  return $status
}

# check_isa LABEL FILE ISA: FILE (rt_selftest's stderr) names the kernels ISA.
check_isa() {
  if ! grep -qw "$3" "$2"; then
    echo "cross.sh: the $1 build does not run the $3 kernels:" >&2
    cat "$2" >&2
    return 1
  fi
}

run_vnni() {
  command -v gcc >/dev/null || skip "host gcc not found"
  grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null || skip "this CPU has no avx512_vnni"
  build_selftest gcc ar "$out/x86_64"
  build_selftest gcc ar "$out/x86_64_vnni" -mavx2 -mavx512f -mavx512vnni
  "$out/x86_64/rt_selftest" >"$out/x86_64.txt"
  "$out/x86_64_vnni/rt_selftest" >"$out/x86_64_vnni.txt" 2>"$out/x86_64_vnni.err" ||
    { grep -i 'mismatch' "$out/x86_64_vnni.txt" >&2; echo "cross.sh: x86-64 VNNI rt_selftest failed" >&2; return 1; }
  check_isa "x86-64 VNNI" "$out/x86_64_vnni.err" avx512vnni
  if ! diff -u "$out/x86_64.txt" "$out/x86_64_vnni.txt"; then
    echo "cross.sh: x86-64 AVX-512 VNNI output differs from x86-64 baseline" >&2
    return 1
  fi
  echo "cross.sh: x86-64 AVX-512 VNNI output identical to x86-64"
}

run_dotprod() {
  command -v aarch64-linux-gnu-gcc >/dev/null || skip "aarch64-linux-gnu-gcc not found"
  command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 not found"
  [[ -d /usr/aarch64-linux-gnu/lib ]] || skip "/usr/aarch64-linux-gnu (libc6-dev-arm64-cross) not found"
  command -v gcc >/dev/null || skip "host gcc not found"
  local macros
  macros=$(aarch64-linux-gnu-gcc -march=armv8.2-a+dotprod -dM -E - </dev/null)
  if ! grep -q '^#define __ARM_FEATURE_DOTPROD 1' <<<"$macros"; then
    echo "cross.sh: aarch64-linux-gnu-gcc -march=armv8.2-a+dotprod does not define __ARM_FEATURE_DOTPROD" >&2
    return 1
  fi
  build_selftest gcc ar "$out/x86_64"
  build_selftest aarch64-linux-gnu-gcc aarch64-linux-gnu-ar "$out/aarch64_dotprod" \
    -march=armv8.2-a+dotprod
  "$out/x86_64/rt_selftest" >"$out/x86_64.txt"
  qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu "$out/aarch64_dotprod/rt_selftest" \
    >"$out/aarch64_dotprod.txt" 2>"$out/aarch64_dotprod.err" ||
    { grep -i 'mismatch' "$out/aarch64_dotprod.txt" >&2; echo "cross.sh: aarch64 dotprod rt_selftest failed" >&2; return 1; }
  check_isa "aarch64 dotprod" "$out/aarch64_dotprod.err" dotprod
  if ! diff -u "$out/x86_64.txt" "$out/aarch64_dotprod.txt"; then
    echo "cross.sh: aarch64 dot-product output differs from x86-64" >&2
    return 1
  fi
  echo "cross.sh: aarch64 dot-product (qemu -cpu max) output identical to x86-64"
}

# build_m4 OUTDIR LABEL FLAGS...: every runtime source for Cortex-M4F, the
# size of each object, and one summary line; the device side (everything
# but the builder, which only the host exporter uses) goes to OUTDIR/device.
build_m4() {
  local dir=$1 label=$2
  shift 2
  mkdir -p "$dir"
  local objs=()
  for src in "${sources[@]}"; do
    local obj="$dir/$(basename "${src%.c}").o"
    arm-none-eabi-gcc -std=c99 -Wall -Wextra -pedantic -ffp-contract=off \
      -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os \
      -ffunction-sections -fdata-sections "$@" -I"$rt" -c "$src" -o "$obj"
    objs+=("$obj")
  done
  arm-none-eabi-size "${objs[@]}"
  arm-none-eabi-size "${objs[@]}" | awk -v label="$label" -v devfile="$dir/device" 'NR > 1 {
      text += $1; data += $2; bss += $3
      if ($6 !~ /tm_rt_builder\.o$/) dev += $1 }
    END { printf "Cortex-M4 (-Os%s) .text total: %d bytes (%d without the builder), .data %d, .bss %d\n",
          label, text, dev, data, bss
          print dev > devfile }'
}

# The limit for the device side's .text (code + read-only data), in bytes:
# 16 KB, raised to 19 KB by the streamed conv / depthwise / pool chains
# (tm_rt_stream.c, about 2.5 KB; they cut the reference model's RAM to
# 0.55-0.6x, docs/deployment.md), plus 256 for the residual add op
# (TM_RT_OP_ADD: tm_rt_add, its check and executor case, about 260 bytes).
m4_budget=19712

run_m4() {
  command -v arm-none-eabi-gcc >/dev/null || skip "arm-none-eabi-gcc not found"
  # Both variants: full messages (the default) and TM_RT_NO_MESSAGES (tm_rt.h).
  local full terse
  full=$(build_m4 "$out/m4" "")
  terse=$(build_m4 "$out/m4-no-messages" ", -DTM_RT_NO_MESSAGES" -DTM_RT_NO_MESSAGES)
  echo "$full" | sed '$d'
  echo "$terse" | sed '$d'
  echo "$full" | tail -n 1
  echo "$terse" | tail -n 1
  local dev
  dev=$(cat "$out/m4-no-messages/device")
  if (( dev > m4_budget )); then
    echo "cross.sh: Cortex-M4 device side with -DTM_RT_NO_MESSAGES: $dev bytes of .text, over the $m4_budget-byte goal" >&2
    return 1
  fi
  echo "Cortex-M4 device side with -DTM_RT_NO_MESSAGES: $dev bytes of .text <= $m4_budget (19 KB goal + 256)"
}

# ---- cross.sh program (added for the exporter's parity test) ----------------
#   cross.sh program aarch64 OUTDIR SOURCE.c
# builds the runtime for aarch64 (Cortex-A72) with the flags above into
# OUTDIR (build_selftest) and links SOURCE.c, a program that uses only the
# runtime and libc, against it as OUTDIR/<SOURCE's name>. tests/test_parity.c
# runs the result under qemu-aarch64; exit 77 when a cross tool is missing.
run_program() {
  [[ $# -eq 3 && $1 == aarch64 ]] || { echo "usage: $0 program aarch64 OUTDIR SOURCE.c" >&2; exit 2; }
  # Not dir/src: build_selftest's loop variables are not local.
  local prog_dir=$2 prog_src=$3 prog_name
  command -v aarch64-linux-gnu-gcc >/dev/null || skip "aarch64-linux-gnu-gcc not found"
  [[ -d /usr/aarch64-linux-gnu/lib ]] || skip "/usr/aarch64-linux-gnu (libc6-dev-arm64-cross) not found"
  build_selftest aarch64-linux-gnu-gcc aarch64-linux-gnu-ar "$prog_dir" -mcpu=cortex-a72
  prog_name=$(basename "${prog_src%.c}")
  aarch64-linux-gnu-gcc "${common[@]}" -mcpu=cortex-a72 -I"$rt" "$prog_src" \
    "$prog_dir/libtm_runtime.a" -lm -o "$prog_dir/$prog_name"
  echo "$prog_dir/$prog_name"
}

case "$mode" in
  program) shift; run_program "$@" ;;
  aarch64) run_aarch64 ;;
  vnni) run_vnni ;;
  dotprod) run_dotprod ;;
  m4) run_m4 ;;
  all)
    # Each part on its own: a missing toolchain skips only its part.
    set +e
    (run_aarch64); a=$?
    (run_m4); m=$?
    [[ $a -ne 0 && $a -ne 77 ]] && exit $a
    [[ $m -ne 0 && $m -ne 77 ]] && exit $m
    [[ $a -eq 77 && $m -eq 77 ]] && exit 77
    exit 0 ;;
esac
