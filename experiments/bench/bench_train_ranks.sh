#!/usr/bin/env bash
# The scaling of data-parallel training (train --distributed) over MPI ranks
# on this machine, in one run: one experiment trained as one process with 1
# and 2 threads, then with --distributed alone (its shards in turn, 1 thread)
# and over 2 ranks x 1 thread (the cores of the second), whose weights must
# equal the distributed run alone bit for bit. Times are rank 0's training
# seconds (epochs without validation, from metrics.json) and the wall time of
# the whole command. A benchmark, not a test (docs/scale-out.md).
#
#   experiments/bench/bench_train_ranks.sh [BUILD_DIR] [EXPERIMENT.cfg] [EPOCHS] [--set ...]
#
# EXPERIMENT defaults to experiments/quickstart.cfg (synthetic data, no
# download); avdigits' files need TINYM2NET_DATA.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cfg=${2:-$root/experiments/quickstart.cfg}
epochs=${3:-4}
shift $(($# < 3 ? $# : 3))
command -v mpirun >/dev/null ||
  { echo "bench_train_ranks.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
"$build/tinym2net" reproduce --help | grep -q mpirun ||
  { echo "bench_train_ranks.sh: $build has no MPI (cmake -DTM_WITH_MPI=ON)" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench-train.XXXXXX")
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() { # NAME THREADS LAUNCH [OPTIONS]: prints "wall train_seconds"
  local name=$1 threads=$2 launch=$3 t0 t1
  shift 3
  t0=$(date +%s.%N)
  $launch "$build/tinym2net" train "$cfg" --out "$out/$name" --threads "$threads" --quiet \
    --set train.epochs="$epochs" "$@" >"$out/$name.log" 2>&1 ||
    { cat "$out/$name.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 - "$t0" "$t1" "$out/$name/metrics.json" <<'EOF'
import json, sys
print(float(sys.argv[2]) - float(sys.argv[1]), json.load(open(sys.argv[3]))["train_seconds"])
EOF
}
read -r w1 s1 < <(run plain1 1 "" "$@")
read -r w2 s2 < <(run plain2 2 "" "$@")
read -r w3 s3 < <(run alone 1 "" --distributed "$@")
read -r w4 s4 < <(run ranks2 1 "mpirun -n 2 --oversubscribe --bind-to none" --distributed "$@")
same="not compared (h5diff not found: apt-get install hdf5-tools)"
if command -v h5diff >/dev/null; then
  same=no
  h5diff -q "$out/alone/model.h5" "$out/ranks2/model.h5" >/dev/null 2>&1 && same=yes
fi
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf "train %s, %s epochs %s, %s, %d cores, one run (training s / wall s):\n" \
  "$(basename "$cfg")" "$epochs" "$*" "$(uname -m)" "$(nproc)"
printf "  1 process x 1 thread              %7.2f / %7.2f\n" "$s1" "$w1"
printf "  1 process x 2 threads             %7.2f / %7.2f   (%sx the first)\n" "$s2" "$w2" "$(ratio "$s1" "$s2")"
printf "  --distributed alone x 1 thread    %7.2f / %7.2f   (the shards of each batch in turn)\n" "$s3" "$w3"
printf "  --distributed 2 ranks x 1 thread  %7.2f / %7.2f   (%sx alone, %sx 1 process x 2 threads: the same cores)\n" \
  "$s4" "$w4" "$(ratio "$s3" "$s4")" "$(ratio "$s2" "$s4")"
printf "  2 ranks give the weights of --distributed alone bit for bit: %s\n" "$same"
