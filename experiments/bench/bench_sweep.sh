#!/usr/bin/env bash
# The scaling of a reproduce sweep over MPI ranks on this machine, in one run:
# the same small sweep (avdigits, `reproduce --quick --epochs E`: 5 jobs of
# train, quantize or search, export, run) alone and over 2 ranks, with the
# same number of cores in use (1 process x 2 threads against 2 ranks x 1
# thread) and against 1 process x 1 thread, whose results page the 2 ranks
# must reproduce apart from times (training's threads change the float sums'
# order, so pages are compared at one thread per process). A benchmark, not a
# test (docs/scale-out.md). Then bench_train_ranks.sh: data-parallel training
# over 1 and 2 ranks, so that one run prints both scalings.
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
single=$(run "" 1 single)
one=$(run "" 2 one)
two=$(run "mpirun -n 2 --oversubscribe --bind-to none" 1 two)
norm() { grep -v -e '^Date:' -e '^Wall time' -e '^Command:' "$1" | sed -E 's/[0-9.]+ ms/T ms/g'; }
same=no
cmp -s <(norm "$out/single/results.md") <(norm "$out/two/results.md") && same=yes
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf "reproduce --quick --epochs %s on avdigits (5 jobs), %s, %d cores, one run:\n" "$epochs" "$(uname -m)" "$(nproc)"
printf "  1 process x 1 thread   %8.1f s\n" "$single"
printf "  1 process x 2 threads  %8.1f s   (%sx the first)\n" "$one" "$(ratio "$single" "$one")"
printf "  2 ranks x 1 thread     %8.1f s   (%sx the first, %sx the second: the same cores)\n" \
  "$two" "$(ratio "$single" "$two")" "$(ratio "$one" "$two")"
printf "  2 ranks give the 1-process, 1-thread page apart from times: %s\n" "$same"
[[ $same == yes ]] || diff <(norm "$out/single/results.md") <(norm "$out/two/results.md") | head -20
echo
bash "$root/experiments/bench/bench_train_ranks.sh" "$build"
