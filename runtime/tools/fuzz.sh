#!/usr/bin/env bash
# Fuzzes tm_rt_model_open (and invoke on whatever opens) with libFuzzer,
# ASan and UBSan for a bounded time.
#
#   runtime/tools/fuzz.sh [seconds]      default 60
#
# Builds runtime/tools/fuzz_model_open.c with clang (installs the Debian
# package clang when missing), writes the seed corpus (the example models,
# from rt_selftest --write-models) and runs with -max_total_time. The corpus
# and any crash-* artifacts stay in $TM_FUZZ_DIR (default /tmp/tm-fuzz), so a
# second run continues from the corpus it grew. Exit status non-zero when the
# fuzzer found a crash, a leak or undefined behaviour.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rt=$(dirname "$here")
secs=${1:-60}
out=${TM_FUZZ_DIR:-/tmp/tm-fuzz}

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang not found, installing the Debian package" >&2
  apt-get install -y clang >&2
fi
mkdir -p "$out/corpus" "$out/seeds"

clang -g -O1 -std=c99 -ffp-contract=off -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$rt" "$here/fuzz_model_open.c" "$rt"/*.c -lm \
  -o "$out/fuzz_model_open"
clang -O2 -std=c99 -ffp-contract=off -I"$rt" -I"$here" "$here/rt_selftest.c" "$rt"/*.c -lm \
  -o "$out/rt_selftest"
"$out/rt_selftest" --write-models "$out/seeds"

"$out/fuzz_model_open" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$out/seeds"
