#!/usr/bin/env bash
# Runs docs/getting-started.md as written: every ```sh block after the set-up
# section, in order, in a scratch folder that sees the repository's folders
# and this build as build/ (so runs/ lands there, not in the checkout).
#
#   tests/test_getting_started.sh BUILD_DIR
#
# Needs $TINYM2NET_DATA/avdigits; exit 77 without it, or without the
# Cortex-M tools the device step uses.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
[[ -n "${TINYM2NET_DATA:-}" && -f "$TINYM2NET_DATA/avdigits/test.csv" ]] ||
  { echo "getting started: TINYM2NET_DATA/avdigits not found - skipped"; exit 77; }
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v $tool >/dev/null || { echo "getting started: $tool not found - skipped"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/tm-getting-started.XXXXXX")
trap 'rm -rf "$work"' EXIT
for d in .ci core autograd layers quant data export runtime experiments tests docs CMakeLists.txt; do
  ln -s "$src/$d" "$work/$d"
done
ln -s "$build" "$work/build"
# the blocks after "## 1." (set-up: the build exists already)
awk '/^## 2\./ {on = 1} on && /^```sh$/ {code = 1; next} code && /^```$/ {code = 0; print ""; next}
     code {print}' "$src/docs/getting-started.md" >"$work/steps.sh"
[[ $(grep -c 'tinym2net' "$work/steps.sh") -ge 4 ]] ||
  { echo "getting started: the page's command blocks were not found" >&2; exit 1; }
cd "$work"
TM_BUILD_DIR="$build" bash -euo pipefail steps.sh
for f in runs/gs/metrics.json runs/gs-q/metrics.json runs/gs.tm2n runs/fc_model.h runs/gs-scores.csv; do
  [[ -s $f ]] || { echo "getting started: $f was not written" >&2; exit 1; }
done
echo "getting started: every step ran as written"
