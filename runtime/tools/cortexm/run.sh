#!/usr/bin/env bash
# Runs a harness image on QEMU's MPS2 board for the core and writes what the
# program prints over semihosting to OUT (the exit status is the program's).
#
#   run.sh m4|m7 IMAGE.elf OUT [extra qemu options...]
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 m4|m7 IMAGE.elf OUT [qemu options...]" >&2; exit 2; }
core=$1 elf=$2 out=$3
shift 3
case "$core" in
  m4) board=mps2-an386 ;;
  m7) board=mps2-an500 ;;
  *) echo "run.sh: core must be m4 or m7, got '$core'" >&2; exit 2 ;;
esac
exec timeout 600 qemu-system-arm -M "$board" -display none -serial none -monitor none \
  -chardev file,id=semi,path="$out" -semihosting-config enable=on,target=native,chardev=semi \
  "$@" -kernel "$elf"
