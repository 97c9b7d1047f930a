#!/usr/bin/env bash
# The scaling of a reproduce sweep over MPI ranks on this machine, in one run:
# the same small sweep (avdigits, `reproduce --quick --epochs E`: 5 jobs of
# train, quantize or search, export, run) alone and over 2 ranks, with the
# same number of cores in use (1 process x 2 threads against 2 ranks x 1
# thread), and the two results pages compared apart from times. A benchmark,
# not a test (docs/scale-out.md).
#
#   experiments/bench/bench_sweep.sh [BUILD_DIR] [EPOCHS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
epochs=${2:-2}
[[ -n "${TINYM2NET_DATA:-}" && -d "$TINYM2NET_DATA/avdigits" ]] ||
  { echo "bench_sweep.sh: set TINYM2NET_DATA to the folder with avdigits/" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench_sweep.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
"$build/tinym2net" reproduce --help | grep -q mpirun ||
  { echo "bench_sweep.sh: $build has no MPI (cmake -DTM_WITH_MPI=ON)" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench-sweep.XXXXXX")
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() { # LAUNCH THREADS NAME
  local t0 t1
  t0=$(date +%s.%N)
  $1 "$build/tinym2net" reproduce --quick --epochs "$epochs" --data avdigits --threads "$2" \
    --out "$out/$3" --results "$out/$3/results.md" >"$out/$3.log" 2>&1
  t1=$(date +%s.%N)
  python3 -c "print($t1 - $t0)"
}
one=$(run "" 2 one)
two=$(run "mpirun -n 2 --oversubscribe --bind-to none" 1 two)
norm() { grep -v -e '^Date:' -e '^Wall time' -e '^Command:' "$1" | sed -E 's/[0-9.]+ ms/T ms/g'; }
same=no
cmp -s <(norm "$out/one/results.md") <(norm "$out/two/results.md") && same=yes
printf "reproduce --quick --epochs %s on avdigits (5 jobs), %s, %d cores:\n" "$epochs" "$(uname -m)" "$(nproc)"
printf "  1 process x 2 threads  %8.1f s\n" "$one"
printf "  2 ranks x 1 thread     %8.1f s   (%.2fx)\n" "$two" "$(python3 -c "print($one / $two)")"
printf "  the same results page apart from times: %s\n" "$same"
