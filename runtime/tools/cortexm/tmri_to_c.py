#!/usr/bin/env python3
"""Turns a raw-inputs file (TMRI, written by `tinym2net-run --dump-inputs`;
format in runtime/tools/tm_rt_run_inputs.c) into cm_inputs.h for the
Cortex-M harness: the floats as their uint32 bit patterns, so the device
reads exactly the host's values.

  tmri_to_c.py INPUTS.bin cm_inputs.h [--rows N]
"""
import struct
import sys


def main():
    args = sys.argv[1:]
    rows_cap = None
    if "--rows" in args:
        i = args.index("--rows")
        rows_cap = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    src, dst = args
    try:
        data = open(src, "rb").read()
    except OSError as e:
        sys.exit("tmri_to_c.py: %s: %s" % (src, e.strerror))
    if len(data) < 16:
        sys.exit("tmri_to_c.py: %s: truncated header" % src)
    magic, version, rows, n_inputs = struct.unpack_from("<4I", data, 0)
    if magic != 0x49524D54 or version != 1:
        sys.exit("tmri_to_c.py: %s: not an inputs file (magic TMRI, version 1)" % src)
    off = 16
    kinds, counts = [], []
    for _ in range(n_inputs):
        if off + 8 > len(data):
            sys.exit("tmri_to_c.py: %s: truncated header" % src)
        k, n = struct.unpack_from("<2I", data, off)
        kinds.append(k)
        counts.append(n)
        off += 8
    row_floats = sum(counts)
    if rows_cap is not None:
        rows = min(rows, rows_cap)
    need = off + 4 * row_floats * rows
    if need > len(data):
        sys.exit("tmri_to_c.py: %s: truncated rows (%d bytes, %d needed)" % (src, len(data), need))
    words = struct.unpack_from("<%dI" % (row_floats * rows), data, off)
    offsets, o = [], 0
    for n in counts:
        offsets.append(o)
        o += n
    with open(dst, "w") as f:
        f.write("/* made by runtime/tools/cortexm/tmri_to_c.py from %s */\n" % src.split("/")[-1])
        f.write("#include <stdint.h>\n")
        f.write("#define CM_ROWS %du\n#define CM_INPUTS %du\n#define CM_ROW_FLOATS %du\n"
                % (rows, n_inputs, row_floats))
        for name, vals in (("kind", kinds), ("count", counts), ("offset", offsets)):
            f.write("static const uint32_t cm_input_%s[CM_INPUTS] = {%s};\n"
                    % (name, ", ".join("%du" % v for v in vals)))
        f.write("static const uint32_t cm_inputs[CM_ROWS * CM_ROW_FLOATS] = {\n")
        for i in range(0, len(words), 8):
            f.write("  " + ", ".join("0x%08xu" % w for w in words[i:i + 8]) + ",\n")
        f.write("};\n")


if __name__ == "__main__":
    main()
