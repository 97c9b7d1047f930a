#!/usr/bin/env bash
# Checks runtime/tools/qemu_icount.py on a loop of known length: under
# qemu-aarch64, tm_icount_loop(n) must count exactly 3n + 2 instructions for
# n = 1000 and n = 3000. Exit 77 (ctest's skip) without the cross tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "icount_selftest: aarch64-linux-gnu-gcc not found - skipped"; exit 77; }
command -v qemu-aarch64 >/dev/null || { echo "icount_selftest: qemu-aarch64 not found - skipped"; exit 77; }
out=$(mktemp -d "${TMPDIR:-/tmp}/tm-icount.XXXXXX")
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O1 -static "$here/icount/loop_a64.c" -o "$out/loop"
for n in 1000 3000; do
  got=$(python3 "$here/qemu_icount.py" --run "qemu-aarch64 -d in_asm,exec,nochain -D {log} $out/loop $n" \
          --group 'loop=^tm_icount_loop$' | awk '$1 == "loop" { print $2 }')
  want=$((3 * n + 2))
  if [[ "$got" != "$want" ]]; then
    echo "icount_selftest: tm_icount_loop($n) counted $got instructions, expected $want" >&2
    exit 1
  fi
  echo "icount_selftest: tm_icount_loop($n) = $got instructions (3n + 2): exact"
done
