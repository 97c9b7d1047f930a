#!/usr/bin/env bash
# The scaling of data-parallel training (train --distributed) over MPI ranks
# on this machine, in one run: one experiment trained as one process with 1
# and 2 threads, then with --distributed alone (its shards in turn, 1 thread)
# and over 2 ranks x 1 thread (the cores of the second), whose weights must
# equal the distributed run alone bit for bit. Times are rank 0's training
# seconds (epochs without validation, from metrics.json) and the wall time of
# the whole command, each the fastest of REPEAT (3) rounds of the four runs.
# A benchmark, not a test (docs/scale-out.md).
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
# the four in turn, REPEAT times (default 3); the fastest of each counts
min() { python3 -c "import sys; print(min(float(a) for a in sys.argv[1:]))" "$@"; }
W1=() S1=() W2=() S2=() W3=() S3=() W4=() S4=()
for ((i = 0; i < ${REPEAT:-3}; i++)); do
  read -r w s < <(run plain1 1 "" --force "$@"); W1+=("$w") S1+=("$s")
  read -r w s < <(run plain2 2 "" --force "$@"); W2+=("$w") S2+=("$s")
  read -r w s < <(run alone 1 "" --force --distributed "$@"); W3+=("$w") S3+=("$s")
  read -r w s < <(run ranks2 1 "mpirun -n 2 --oversubscribe --bind-to none" --force --distributed "$@")
  W4+=("$w") S4+=("$s")
done
w1=$(min "${W1[@]}") s1=$(min "${S1[@]}") w2=$(min "${W2[@]}") s2=$(min "${S2[@]}")
w3=$(min "${W3[@]}") s3=$(min "${S3[@]}") w4=$(min "${W4[@]}") s4=$(min "${S4[@]}")
same="not compared (h5diff not found: apt-get install hdf5-tools)"
if command -v h5diff >/dev/null; then
  same=no
  h5diff -q "$out/alone/model.h5" "$out/ranks2/model.h5" >/dev/null 2>&1 && same=yes
fi
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf "train %s, %s epochs%s, %s, %d cores, fastest of %d (training s / wall s; load %s):\n" \
  "$(basename "$cfg")" "$epochs" "${*:+ $*}" "$(uname -m)" "$(nproc)" "${REPEAT:-3}" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "  1 process x 1 thread              %7.2f / %7.2f\n" "$s1" "$w1"
printf "  1 process x 2 threads             %7.2f / %7.2f   (%sx the first)\n" "$s2" "$w2" "$(ratio "$s1" "$s2")"
printf "  --distributed alone x 1 thread    %7.2f / %7.2f   (the shards of each batch in turn)\n" "$s3" "$w3"
printf "  --distributed 2 ranks x 1 thread  %7.2f / %7.2f   (%sx alone, %sx 1 process x 2 threads: the same cores)\n" \
  "$s4" "$w4" "$(ratio "$s3" "$s4")" "$(ratio "$s2" "$s4")"
printf "  2 ranks give the weights of --distributed alone bit for bit: %s\n" "$same"
