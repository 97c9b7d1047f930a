#!/usr/bin/env bash
# ctest test_install: `cmake --install` gives packages an outside project can
# use (docs/install.md).
#
#   test_install.sh SOURCE_DIR BUILD_DIR
#
# 1. installs BUILD_DIR (the whole project) into a temporary prefix, and the
#    runtime alone (cmake -S runtime) into another;
# 2. makes a model with the installed tinym2net (quickstart data, 1 epoch,
#    paper preset, exported as a C array) and deterministic inputs; the
#    expected logits come from the in-tree build (runtime/tools/
#    tm_rt_run_inputs.c linked with BUILD_DIR's runtime library);
# 3. builds tests/install_consumer against each prefix with find_package
#    (static and shared runtime, and trainer_stats on the TinyM2Net package)
#    and with plain cc + pkg-config, runs them and compares logits, classes,
#    the kernels' ISA and the error text with what the packages record;
# 4. installs the runtime built with cmake/arm-none-eabi-cortex-m4.cmake
#    (message-free) and runs the consumer built against it on QEMU mps2-an386.
# Exit 77 (skip) when cmake, cc, pkg-config or python3 is missing, for a
# TM_SANITIZE build, or, after the host checks passed, when arm-none-eabi-gcc
# or qemu-system-arm is.
set -euo pipefail
src=$(cd "${1:?usage: test_install.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: test_install.sh SOURCE_DIR BUILD_DIR}" && pwd)
skip() { echo "test_install: $1 - skipped"; exit 77; }
for tool in cmake cc pkg-config python3; do
  command -v "$tool" >/dev/null || skip "$tool not found"
done
# A sanitizer build's libraries need the sanitizer runtimes in every program
# linked with them; this test is about plain installs.
grep -q '^TM_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null &&
  skip "$build is a TM_SANITIZE build"
t=$(mktemp -d "${TMPDIR:-/tmp}/tm-install.XXXXXX")
trap 'rm -rf "$t"' EXIT
consumer="$src/tests/install_consumer"
status=0
bad() { echo "test_install: FAIL: $*" >&2; status=1; }
# run LOG CMD...: quiet unless it fails
run() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { echo "test_install: failed: $*" >&2; cat "$log" >&2; exit 1; }
}

# ---- 1. install ------------------------------------------------------------------
full=$t/full rt=$t/rt
run "$t/install.log" cmake --install "$build" --prefix "$full"
for f in lib/libtinym2net-runtime.a lib/libtinym2net-core.a lib/libtinym2net-experiments.a \
         include/tinym2net/tm_rt_model.h include/tinym2net/tm_export.h \
         lib/cmake/TinyM2NetRuntime/TinyM2NetRuntimeConfig.cmake \
         lib/cmake/TinyM2NetRuntime/TinyM2NetRuntimeConfigVersion.cmake \
         lib/cmake/TinyM2Net/TinyM2NetConfig.cmake lib/cmake/TinyM2Net/TinyM2NetConfigVersion.cmake \
         lib/pkgconfig/tinym2net-runtime.pc lib/pkgconfig/tinym2net.pc bin/tinym2net bin/tinym2net-run; do
  [[ -e "$full/$f" ]] || bad "cmake --install $build did not install $f"
done
# The installed runner starts (its libraries resolve outside the build tree).
"$full/bin/tinym2net-run" --help >"$t/run-help.log" 2>&1 || bad "the installed tinym2net-run does not start"
run "$t/rt-cfg.log" cmake -S "$src/runtime" -B "$t/rt-build" -DCMAKE_BUILD_TYPE=Release
run "$t/rt-build.log" cmake --build "$t/rt-build" -j2
run "$t/rt-install.log" cmake --install "$t/rt-build" --prefix "$rt"
[[ $status -eq 0 ]] || exit 1

# ---- 2. model, inputs and the in-tree reference -----------------------------------
gen=$t/gen
mkdir -p "$gen"
tm=$full/bin/tinym2net
run "$t/train.log" "$tm" train "$src/experiments/quickstart.cfg" --out "$t/run" --quiet \
  --set train.epochs=1 --set data.train_samples=256 --set data.val_samples=64 \
  --set data.test_samples=64
run "$t/quant.log" "$tm" quantize "$t/run" --out "$t/q" --preset paper --qat-epochs 0 --quiet
run "$t/export.log" "$tm" export "$t/q" -o "$gen/model.tm2n" --c-array "$gen/model.h" --symbol tm_model
lib=$(find "$build/runtime" -maxdepth 1 -name 'lib*.a' | head -n 1)
[[ -n "$lib" ]] || { echo "test_install: no runtime library in $build/runtime" >&2; exit 1; }
run "$t/ref.log" cc -std=c99 -O2 -ffp-contract=off -I"$src/runtime" "$consumer/make_inputs.c" "$lib" -lm \
  -o "$t/make_inputs"
run "$t/ref.log" cc -std=c99 -O2 -ffp-contract=off -I"$src/runtime" \
  "$src/runtime/tools/tm_rt_run_inputs.c" "$lib" -lm -o "$t/ref_run"
"$t/make_inputs" "$gen/model.tm2n" 5 7 >"$gen/inputs.bin"
run "$t/ref.log" python3 "$src/runtime/tools/cortexm/tmri_to_c.py" "$gen/inputs.bin" "$gen/inputs.h"
"$t/ref_run" "$gen/model.tm2n" "$gen/inputs.bin" >"$t/expected.csv"
# Each row's class: the first largest logit.
awk -F, 'NR == 1 { for (i = 2; i <= NF; i++) name[i - 2] = $i; next }
         { b = 0; for (i = 3; i <= NF; i++) if ($i + 0 > $(b + 2) + 0) b = i - 2
           printf "class,%s,%d,%s\n", $1, b, name[b] }' "$t/expected.csv" >"$t/expected-class.csv"
rows=$(($(wc -l <"$t/expected.csv") - 1))
[[ $rows -eq 5 ]] || { echo "test_install: the reference printed $rows rows, not 5" >&2; exit 1; }

# check OUT LABEL ISA MESSAGES: OUT is a consumer's output; ISA what the package
# says the kernels are; MESSAGES 1 when the runtime keeps its reasons.
check() {
  local out=$1 label=$2 isa=$3 messages=$4
  if ! diff <(grep -v '^class,\|^isa,\|^open,' "$out") "$t/expected.csv" >"$t/diff"; then
    bad "$label: logits differ from the in-tree build's:"; cat "$t/diff" >&2; return
  fi
  if ! diff <(grep '^class,' "$out") "$t/expected-class.csv" >"$t/diff"; then
    bad "$label: classes differ:"; cat "$t/diff" >&2; return
  fi
  local got_isa
  got_isa=$(sed -n 's/^isa,//p' "$out")
  [[ "$got_isa" == "$isa" ]] || { bad "$label: kernels '$got_isa', the package records '$isa'"; return; }
  local open_line name reason
  open_line=$(grep '^open,' "$out") || { bad "$label: no open line"; return; }
  name=$(cut -d, -f2 <<<"$open_line")
  reason=$(cut -d, -f3- <<<"$open_line")
  if [[ $messages -eq 1 && ( -z "$reason" || "$reason" == "$name" ) ]]; then
    bad "$label: a runtime with messages gave no reason for a cut model ('$open_line')"; return
  fi
  if [[ $messages -eq 0 && "$reason" != "$name" ]]; then
    bad "$label: a message-free runtime gave a reason ('$open_line')"; return
  fi
  echo "test_install: $label: $rows rows, logits and classes equal the in-tree build's; kernels $isa; $open_line"
}

# ---- 3. host consumers ---------------------------------------------------------
for prefix in "$full" "$rt"; do
  tag=$(basename "$prefix")
  cfg=$prefix/lib/cmake/TinyM2NetRuntime/TinyM2NetRuntimeConfig.cmake
  isa=$(sed -n 's/^set(TinyM2NetRuntime_KERNELS_ISA "\([^"]*\)").*/\1/p' "$cfg")
  pc_isa=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=kernels_isa tinym2net-runtime)
  [[ -n "$isa" && "$isa" == "$pc_isa" ]] || bad "$tag: package ISA '$isa', pkg-config ISA '$pc_isa'"
  trainer=OFF
  [[ $prefix == "$full" ]] && trainer=ON
  b=$t/consumer-$tag
  run "$b.cfg.log" cmake -S "$consumer" -B "$b" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCONSUMER_MODEL_DIR="$gen" -DCONSUMER_TRAINER=$trainer
  grep -q "consumer: TinyM2NetRuntime 0.2.0 from $prefix/lib/cmake/TinyM2NetRuntime: kernels $isa" \
    "$b.cfg.log" || bad "$tag: find_package did not find $prefix's runtime: $(grep 'consumer:' "$b.cfg.log")"
  run "$b.build.log" cmake --build "$b" -j2
  "$b/consumer" >"$b.out" || bad "$tag: consumer failed: $(cat "$b.out")"
  check "$b.out" "$tag find_package static" "$isa" 1
  "$b/consumer_shared" >"$b.shared.out" || bad "$tag: consumer_shared failed: $(cat "$b.shared.out")"
  check "$b.shared.out" "$tag find_package shared" "$isa" 1
  # pkg-config, the way a Makefile would: the shared library, found at run time.
  pc="PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
  run "$b.pc.log" env "$pc" sh -c "cc -std=c99 -Wall -Wextra -pedantic -Werror -I'$gen' \
    '$consumer/main.c' \$(pkg-config --cflags --libs tinym2net-runtime) -o '$b/consumer_pc'"
  
    # (ldd's whole output first: grep -q closing the pipe early fails under pipefail)
  deps=$(LD_LIBRARY_PATH=$prefix/lib ldd "$b/consumer_pc")
  grep -q "libtinym2net-runtime.so.0.2 => $prefix/lib/" <<<"$deps" ||
    bad "$tag pkg-config: consumer_pc does not load $prefix's shared runtime"
  LD_LIBRARY_PATH=$prefix/lib "$b/consumer_pc" >"$b.pc.out" || bad "$tag: consumer_pc failed"
  check "$b.pc.out" "$tag pkg-config" "$isa" 1
  if [[ $trainer == ON ]]; then
    # The trainer package's link line (OpenBLAS, HDF5, ...), both ways.
    run "$b.pc.log" env "$pc" sh -c "cc -std=c11 -Wall -Wextra -Werror '$consumer/trainer_stats.c' \
      \$(pkg-config --cflags --libs tinym2net) -o '$b/trainer_stats_pc'"
    awk '/flash \(file\)/ { print "flash," $3 } / arena / { print "arena," $2 }
         /MACs per inference/ { print "macs," $4 }' "$t/export.log" >"$t/expected-stats.csv"
    for prog in trainer_stats trainer_stats_pc; do
      LD_LIBRARY_PATH=$prefix/lib "$b/$prog" "$gen/model.tm2n" >"$b.$prog.out" || bad "$prog failed"
      if cmp -s "$b.$prog.out" "$t/expected-stats.csv" && [[ $(wc -l <"$t/expected-stats.csv") -eq 3 ]]; then
        echo "test_install: $tag $prog (TinyM2Net::export): $(tr '\n' ' ' <"$b.$prog.out")= tinym2net export's"
      else
        bad "$prog: $(cat "$b.$prog.out") differs from tinym2net export's $(cat "$t/expected-stats.csv")"
      fi
    done
  fi
done
[[ $status -eq 0 ]] || exit 1

# ---- 4. Cortex-M4 ----------------------------------------------------------------
command -v arm-none-eabi-gcc >/dev/null || skip "host checks passed; arm-none-eabi-gcc not found"
command -v qemu-system-arm >/dev/null || skip "host checks passed; qemu-system-arm not found"
tc=$src/cmake/arm-none-eabi-cortex-m4.cmake
m4=$t/m4
run "$t/m4-cfg.log" cmake -S "$src/runtime" -B "$t/m4-build" -DCMAKE_TOOLCHAIN_FILE="$tc" \
  -DCMAKE_BUILD_TYPE=MinSizeRel -DTM_RUNTIME_NO_MESSAGES=ON
run "$t/m4-build.log" cmake --build "$t/m4-build" -j2
run "$t/m4-install.log" cmake --install "$t/m4-build" --prefix "$m4"
m4cfg=$m4/lib/cmake/TinyM2NetRuntime/TinyM2NetRuntimeConfig.cmake
m4isa=$(sed -n 's/^set(TinyM2NetRuntime_KERNELS_ISA "\([^"]*\)").*/\1/p' "$m4cfg")
[[ "$m4isa" == arm-dsp ]] || bad "Cortex-M4 package records kernels '$m4isa', not arm-dsp"
[[ -e "$m4/lib/libtinym2net-runtime.so" ]] && bad "a shared runtime was installed for bare metal"
grep -q '^set(TinyM2NetRuntime_NO_MESSAGES ON)' "$m4cfg" || bad "the M4 package does not record TM_RUNTIME_NO_MESSAGES"
# A host project must not pick the Cortex-M4 library (refused by the version
# file's pointer size, or by the config's processor check).
if cmake -S "$consumer" -B "$t/wrong" -DCMAKE_PREFIX_PATH="$m4" -DCONSUMER_MODEL_DIR="$gen" \
     >"$t/wrong.log" 2>&1; then
  bad "a host build accepted the Cortex-M4 runtime"
elif ! grep -q "built for cortex-m4\|version: 0.2.0 (32bit)" "$t/wrong.log"; then
  bad "a host build refused the Cortex-M4 runtime without saying why: $(tail -5 "$t/wrong.log")"
else
  echo "test_install: a host project refuses the Cortex-M4 package: $(grep -o 'built for cortex-m4\|version: 0.2.0 (32bit)' "$t/wrong.log")"
fi
b=$t/consumer-m4
run "$b.cfg.log" cmake -S "$consumer" -B "$b" -DCMAKE_TOOLCHAIN_FILE="$tc" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$m4" -DCONSUMER_MODEL_DIR="$gen" -DCONSUMER_CORTEXM_DIR="$src/runtime/tools/cortexm"
run "$b.build.log" cmake --build "$b" -j2
# pkg-config: the target flags from the .pc, the board files of build.sh.
cm=$src/runtime/tools/cortexm
pc="PKG_CONFIG_PATH=$m4/lib/pkgconfig"
run "$b.pc.log" env "$pc" sh -c "arm-none-eabi-gcc \$(pkg-config --variable=target_cflags tinym2net-runtime) \
  -std=c99 -O2 -Wall -Wextra -Werror -DCONSUMER_SEMIHOST -I'$gen' -I'$cm' '$consumer/main.c' '$cm/startup.c' \
  \$(pkg-config --cflags --libs tinym2net-runtime) -nostartfiles -T '$cm/cortexm.ld' --specs=nano.specs \
  -Wl,--gc-sections -o '$b/consumer_pc.elf'"
for elf in consumer consumer_pc; do
  how=find_package
  [[ $elf == consumer_pc ]] && how=pkg-config
  if bash "$cm/run.sh" m4 "$b/$elf.elf" "$b.$elf.out"; then
    check "$b.$elf.out" "Cortex-M4 (qemu mps2-an386) $how" "$m4isa" 0
  else
    bad "the Cortex-M4 $how consumer failed on qemu: $(cat "$b.$elf.out")"
  fi
done
arm-none-eabi-size "$b/consumer.elf" | tail -n 1 | awk '{ printf "test_install: Cortex-M4 consumer image: .text %d bytes (runtime, model, inputs, libm), .data %d, .bss %d\n", $1, $2, $3 }'
exit $status
