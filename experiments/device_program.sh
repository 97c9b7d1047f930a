#!/usr/bin/env bash
# The device program of docs/deployment.md ("Running a model on a device"),
# taken from the page itself, built for a Cortex-M4F and run on QEMU's
# mps2-an386 board with the first test rows linked in; its classes must equal
# tinym2net-run's on the same files (docs/getting-started.md, step 6).
#
#   experiments/device_program.sh FC_MODEL.h MODEL.tm2n DATA_DIR OUT_DIR [ROWS]
#
# FC_MODEL.h: `tinym2net export --c-array FC_MODEL.h --symbol fc_model` of the
# avdigits fused model (inputs image, then audio); DATA_DIR: the folder with
# test.csv. Exit 77 without arm-none-eabi-gcc or qemu-system-arm.
set -euo pipefail
[[ $# -ge 4 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
header=$1 model=$2 data=$3 out=$4 rows=${5:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TM_BUILD_DIR:-$root/build}
cm=$root/runtime/tools/cortexm
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v $tool >/dev/null || { echo "device_program.sh: $tool not found - skipped" >&2; exit 77; }
done
mkdir -p "$out"

# the program exactly as the page shows it
awk '/^## Running a model on a device/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$root/docs/deployment.md" >"$out/classify.c"
grep -q 'int classify' "$out/classify.c" ||
  { echo "device_program.sh: no classify() program found in docs/deployment.md" >&2; exit 1; }
cp "$header" "$out/fc_model.h"
# it compiles cleanly as C99 on the host too
cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$root/runtime" -I"$out" -c "$out/classify.c" \
  -o "$out/classify.host.o"

head -n $((rows + 1)) "$data/test.csv" >"$out/test.csv"
"$build/tinym2net-run" "$model" --manifest "$out/test.csv" --root "$data" \
  --dump-inputs "$out/inputs.bin" --scores "$out/scores.csv" --quiet
python3 "$cm/tmri_to_c.py" "$out/inputs.bin" "$out/cm_inputs.h"

cat >"$out/main.c" <<'C'
/* Calls the page's classify() on each linked-in row and prints the class. */
#include <string.h>

#include "classify.c"
#include "cm_inputs.h"
#include "semihost.h"

static float row[CM_ROW_FLOATS];

int main(void)
{
    for (uint32_t r = 0; r < CM_ROWS; r++) {
        memcpy(row, &cm_inputs[(size_t)r * CM_ROW_FLOATS], sizeof row);
        /* inputs in the model's order: image (0), audio (1) */
        int c = classify(row + cm_input_offset[1], row + cm_input_offset[0]);
        tm_cm_write_int(c);
        tm_cm_write("\n");
    }
    return 0;
}
C
bash "$cm/build.sh" m4 "$out" "$out/device.elf" "$out/main.c"
bash "$cm/run.sh" m4 "$out/device.elf" "$out/device.txt"

# tinym2net-run's classes: the best score of each row
python3 - "$out/scores.csv" "$out/device.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
first = next(i for i, h in enumerate(head) if h not in ("row", "file", "label", "predicted"))
want = []
for r in body:
    s = [float(x) for x in r[first:first + len(head) - first]]
    want.append(max(range(len(s)), key=lambda i: s[i]))
got = [int(x) for x in open(sys.argv[2]).read().split()]
if got != want:
    sys.exit("device_program.sh: the device program gives %s, tinym2net-run %s" % (got, want))
print("device program on Cortex-M4 (qemu mps2-an386): %d rows, the same classes as "
      "tinym2net-run: %s" % (len(got), " ".join(map(str, got))))
PY
