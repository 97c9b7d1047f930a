#!/usr/bin/env bash
# experiments/torch/load_run.py on real runs: the PyTorch model it builds from
# a run's experiment and weights gives, on the run's own test-set feature
# cache, exactly the test accuracy tinym2net recorded (the reference fused
# separable model, and the DS-CNN with its 4x10 stride-2 conv, depthwise and
# global pooling layers, and the fused model with residual add blocks).
#
#   tests/test_torch_load.sh BUILD_DIR
#
# Exit 77 without $TINYM2NET_DATA/avdigits or a python3 with torch and h5py.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
[[ -n "${TINYM2NET_DATA:-}" && -f "$TINYM2NET_DATA/avdigits/test.csv" ]] ||
  { echo "torch load: TINYM2NET_DATA/avdigits not found - skipped"; exit 77; }
py=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c "import torch, h5py" 2>/dev/null; then py=$p; break; fi
done
[[ -n $py ]] || { echo "torch load: no python3 with torch and h5py (python3-torch python3-h5py) - skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tm-torch-load.XXXXXX")
trap 'rm -rf "$work"' EXIT
for cfg in avdigits/fused-compressed avdigits/fused-residual kws/ds-cnn; do
  name=${cfg//\//-}
  "$build/tinym2net" train "$src/experiments/$cfg.cfg" --set train.epochs=1 \
    --set data.cache="$work/$name-cache" --out "$work/$name" --quiet
  want=$("$py" -c "import json,sys; print('%.6f' % json.load(open(sys.argv[1]))['test_accuracy'])" \
    "$work/$name/metrics.json")
  cache=$(ls "$work/$name-cache"/test-*.h5)
  got=$("$py" "$src/experiments/torch/load_run.py" "$work/$name" --features "$cache" |
        sed -n 's/^accuracy \([0-9.]*\) .*/\1/p')
  [[ $got == "$want" ]] || { echo "torch load: $cfg: PyTorch $got, tinym2net $want" >&2; exit 1; }
  echo "torch load: $cfg: the PyTorch model's test accuracy $got equals tinym2net's"
done
