#!/usr/bin/env python3
"""Executed guest instructions of a program under QEMU, per function.

QEMU does not model cycles, so this counts instructions (an estimate of
cycles, not a measurement). Method: run with `-d in_asm,exec,nochain`.
`in_asm` prints each translation block (TB) once, when it is translated,
just before its first execution; `exec` with `nochain` prints one
"Trace" line each time any TB runs, naming the TB by its host address and
the guest function (from the ELF's symbols). A TB's length is the number of
instruction lines of the last IN: block printed before the first Trace of
its host address (a re-translated TB prints IN: again and is re-measured).
Summing lengths over Trace lines gives the executed instructions exactly,
as long as no TB exits early (an exception or a fault inside a block),
which the runtime's kernels do not do.

  qemu_icount.py LOG [--group NAME=REGEX ...] [--json]
      counts of one log (written with -D LOG)
  qemu_icount.py --run "QEMU ARGS ... {log} ..." [--group ...]
      runs the command line (with {log} replaced by a temporary log path)
      and counts it

Each --group sums the functions whose names match REGEX (re.search);
functions matching no group count under "other". Prints "name count" lines;
"total" is every instruction. Exit 1 with a message on a missing or
malformed log.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

_TRACE = re.compile(r"^Trace \d+: (0x[0-9a-f]+) \[[0-9a-f]+/([0-9a-f]+)/[^\]]*\]\s*(\S*)")
_INSN = re.compile(r"^0x[0-9a-f]+:\s")


def count_log(path):
    """Returns {function: instructions} for one in_asm,exec,nochain log."""
    per_func = {}
    tb_len = {}
    pending = None  # length of the last IN: block not yet tied to a TB
    in_block = False
    traces = 0
    with open(path, "r", errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                in_block, pending = True, 0
                continue
            if in_block:
                if _INSN.match(line):
                    pending += 1
                    continue
                if not line.strip():
                    in_block = False
                    continue
                if not line.startswith("Trace"):
                    continue  # other lines inside a block (e.g. OBJD dumps)
                in_block = False
            m = _TRACE.match(line)
            if not m:
                continue
            traces += 1
            host, func = m.group(1), m.group(3) or "?"
            if pending is not None:
                tb_len[host] = pending
                pending = None
            n = tb_len.get(host)
            if n is None:
                raise ValueError("%s: TB %s runs before its IN: block was printed "
                                 "(was the log written with -d in_asm,exec,nochain?)"
                                 % (path, host))
            per_func[func] = per_func.get(func, 0) + n
    if traces == 0:
        raise ValueError("%s: no 'Trace' lines (run QEMU with -d in_asm,exec,nochain -D LOG)"
                         % path)
    return per_func


def group_counts(per_func, groups):
    out = {name: 0 for name, _ in groups}
    out["other"] = 0
    for func, n in per_func.items():
        for name, rx in groups:
            if rx.search(func):
                out[name] += n
                break
        else:
            out["other"] += n
    out["total"] = sum(per_func.values())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", nargs="?")
    ap.add_argument("--run", help="QEMU command line with {log} where the log goes")
    ap.add_argument("--group", action="append", default=[], metavar="NAME=REGEX")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--functions", action="store_true", help="print every function too")
    a = ap.parse_args()
    groups = []
    for g in a.group:
        if "=" not in g:
            sys.exit("qemu_icount.py: --group wants NAME=REGEX, got '%s'" % g)
        name, rx = g.split("=", 1)
        groups.append((name, re.compile(rx)))
    tmp = None
    try:
        if a.run:
            fd, tmp = tempfile.mkstemp(suffix=".qemu.log")
            os.close(fd)
            cmd = [w.replace("{log}", tmp) for w in shlex.split(a.run)]
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
            if r.returncode != 0:
                sys.exit("qemu_icount.py: '%s' exited %d" % (a.run, r.returncode))
            log = tmp
        elif a.log:
            log = a.log
        else:
            sys.exit("qemu_icount.py: give a LOG or --run")
        try:
            per_func = count_log(log)
        except (OSError, ValueError) as e:
            sys.exit("qemu_icount.py: %s" % e)
    finally:
        if tmp:
            os.unlink(tmp)
    res = group_counts(per_func, groups)
    if a.functions:
        res["functions"] = per_func
    if a.json:
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        for k in [n for n, _ in groups] + ["other", "total"]:
            print("%s %d" % (k, res[k]))
        if a.functions:
            for f, n in sorted(per_func.items(), key=lambda t: -t[1]):
                print("  %-40s %d" % (f, n))


if __name__ == "__main__":
    main()
