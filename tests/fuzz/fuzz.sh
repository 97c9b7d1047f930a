#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and
# runs each for a bounded time.
#
#   tests/fuzz/fuzz.sh [seconds] [target ...]    default 60 s, every target
#
# Targets: experiment (tm_experiment_parse), manifest (tm_manifest_load),
# audio (tm_audio_read_all via libsndfile), image (tm_image_read via libpng),
# frontend (tm_rt_frontend_run on arbitrary float / int16 PCM).
# Seeds: the repo's experiments/**/*.cfg and the small valid CSV, audio, PNG
# and PCM files make_seeds.c writes. Everything stays in $TM_FUZZ_DIR
# (default /tmp/tm-fuzz-targets): build/, seeds/<t>/, corpus/<t>/ (grown, so
# a second run continues from it), <t>.log and crash-/oom-/timeout-/leak-
# artifacts named <t>-crash-<sha1>. Replay one: $TM_FUZZ_DIR/build/fuzz_<t> <file>.
# Exit status: 0 when nothing was found, 1 when a target found a crash, a
# leak, undefined behaviour, an out-of-memory (over 2 GiB) or a timeout
# (over 10 s per input), 77 when clang's fuzzer runtime is missing (ctest
# counts that as skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(experiment manifest audio image frontend)
out=${TM_FUZZ_DIR:-/tmp/tm-fuzz-targets}
mkdir -p "$out"

# Skip (77), not fail, where clang or its libFuzzer runtime
# (Debian: libclang-rt-14-dev) is not installed.
probe="$out/probe"
if ! command -v clang >/dev/null ||
   ! printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }\n' |
     clang -x c -fsanitize=fuzzer,address,undefined - -o "$probe" 2>"$probe.log"; then
  echo "fuzz.sh: clang with the libFuzzer runtime is missing (clang, libclang-rt-14-dev); skipped" >&2
  exit 77
fi

cmake -S "$here" -B "$out/build" -DCMAKE_C_COMPILER=clang >"$out/cmake.log" 2>&1 ||
  { cat "$out/cmake.log" >&2; exit 1; }
nice cmake --build "$out/build" -j2 >"$out/build.log" 2>&1 ||
  { tail -n 40 "$out/build.log" >&2; exit 1; }

clang -O1 "$here/make_seeds.c" $(pkg-config --cflags --libs sndfile libpng) -lm \
  -o "$out/make_seeds"
rm -rf "$out/seeds"
"$out/make_seeds" "$out/seeds"
mkdir -p "$out/seeds/experiment"
find "$root/experiments" -name '*.cfg' | while read -r f; do
  cp "$f" "$out/seeds/experiment/$(echo "${f#"$root"/}" | tr / _)"
done

status=0
for t in "${targets[@]}"; do
  bin="$out/build/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target '$t'" >&2; exit 2; }
  mkdir -p "$out/corpus/$t"
  rc=0
  nice "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/corpus/$t" "$out/seeds/$t" \
    >"$out/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ${secs} s, ${execs:-?} inputs, nothing found"
  else
    status=1
    echo "fuzz $t: FOUND a problem after ${execs:-?} inputs (exit $rc); log $out/$t.log:"
    grep -E "^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written|ALARM|out-of-memory|abort" \
      "$out/$t.log" | head -n 8 | sed 's/^/    /'
  fi
done
exit $status
