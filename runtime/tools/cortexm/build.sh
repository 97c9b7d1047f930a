#!/usr/bin/env bash
# Builds the Cortex-M harness image: the runtime, startup.c and a main
# program, with a model header (export --c-array --symbol cm_model) and an
# inputs header (tmri_to_c.py) from INCDIR.
#
#   build.sh m4|m7 INCDIR OUT.elf [MAIN.c] [extra compiler flags...]
#
# m4: Cortex-M4F (-mfpu=fpv4-sp-d16), for qemu-system-arm -M mps2-an386;
# m7: Cortex-M7 (-mfpu=fpv5-d16), for -M mps2-an500. Both -O2, hard float,
# no FP contraction (the runtime's rule: the same float bits everywhere).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rt=${TM_RT_DIR:-$(cd "$here/../.." && pwd)}  # TM_RT_DIR: another runtime tree
[[ $# -ge 3 ]] || { echo "usage: $0 m4|m7 INCDIR OUT.elf [MAIN.c] [flags...]" >&2; exit 2; }
core=$1 inc=$2 out=$3
shift 3
main="$here/parity_main.c"
if [[ $# -gt 0 && $1 == *.c ]]; then main=$1; shift; fi
case "$core" in
  m4) cpu=(-mcpu=cortex-m4 -mfpu=fpv4-sp-d16) ;;
  m7) cpu=(-mcpu=cortex-m7 -mfpu=fpv5-d16) ;;
  *) echo "build.sh: core must be m4 or m7, got '$core'" >&2; exit 2 ;;
esac
arm-none-eabi-gcc -std=c99 -O2 -Wall -Wextra -ffp-contract=off "${cpu[@]}" -mthumb -mfloat-abi=hard \
  -ffunction-sections -fdata-sections -nostartfiles -T "$here/cortexm.ld" -Wl,--gc-sections \
  --specs=nano.specs -I"$rt" -I"$here" -I"$inc" "$@" "$here/startup.c" "$main" "$rt"/*.c -lm \
  -o "$out"
