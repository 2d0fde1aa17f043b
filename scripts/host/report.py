#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn what a test-VM run left in a results directory into one verdict.

report.py RESULTS KSRC [--kunit-suite NAME]...

Counts, one result each: every test scripts/tests.list ran (a NAME.rc
beside NAME.log; KVM selftests and our shell tests print KTAP, whose
`not ok` lines fail a test that exits 0 despite them), every KUnit test
case found in the main boot's kernel log, every expected KUnit suite that
did not run (a failure), and whether the kernel logs of the boots are free
of splats. Skips are listed and counted on their own, never as passes.
A failed test's verdict is followed by the last lines of its log. A
boot that check.sh ran a second time left its first attempt in a
directory named *.first-attempt: listed as such, never counted.
Prints `N passed, N failed` last and exits 1 on any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys

KSFT_SKIP = 4
FAILED_LOG_LINES = 80
FIRST_ATTEMPT = ".first-attempt"


def walk(res):
    """os.walk() without the first attempts of boots that ran again."""
    for root, dirs, files in os.walk(res):
        dirs[:] = sorted(d for d in dirs if not d.endswith(FIRST_ATTEMPT))
        yield root, dirs, files

# What a kernel splat looks like in a log; any of these fails the run.
SPLAT = re.compile(
    r"WARNING:|BUG:|Oops|kernel BUG|KASAN|UBSAN|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|INFO: possible|Call Trace:|general protection fault|"
    r"Kernel panic|list_add corruption|list_del corruption|"
    r"page dumped because|Bad page state|"
    r"kmemleak: \d+ new suspected memory leak|kmemleak: Cannot|kmemleak: .*disabled"
)


class Tally:
    def __init__(self):
        self.passed, self.failed, self.skipped = [], [], []

    def add(self, verdict, name, detail=""):
        line = f"{verdict} {name}" + (f"  ({detail})" if detail else "")
        print(line)
        {"PASS": self.passed, "FAIL": self.failed, "SKIP": self.skipped}[verdict].append(name)


def tap_failures(log):
    """'not ok' lines that are not skips: a test that exits 0 despite them fails."""
    return [l for l in log.splitlines()
            if re.match(r"^\s*(# )?not ok ", l) and "# SKIP" not in l and "# XFAIL" not in l]


def test_results(res, tally):
    for root, _, files in walk(res):
        for f in sorted(files):
            if not f.endswith(".rc"):
                continue
            name = os.path.relpath(os.path.join(root, f[:-3]), res)
            rc, ms = open(os.path.join(root, f)).read().split()
            rc = int(rc)
            log_path = os.path.join(root, f[:-3] + ".log")
            log = open(log_path, errors="replace").read() if os.path.exists(log_path) else ""
            totals = re.findall(r"^# Totals: .*$", log, re.M)
            detail = f"{int(ms) / 1000:.1f} s" + (f", {totals[-1][2:]}" if totals else "")
            if rc == 0 and not tap_failures(log):
                tally.add("PASS", name, detail)
            elif rc == KSFT_SKIP:
                reason = re.findall(r"(?:SKIP|skip)[: ]+(.*)", log)
                tally.add("SKIP", name, reason[-1][:100] if reason else detail)
            else:
                why = {124: "timed out", 127: "missing"}.get(rc, f"exit {rc}")
                tally.add("FAIL", name, f"{why}, {detail}; see {log_path}")
                # The end of its log, for a run whose results directory is gone (CI).
                for l in log.splitlines()[-FAILED_LOG_LINES:]:
                    print("    |", l)


def kunit(dmesg, ksrc, expected, tally):
    """Parse the KTAP in the guest's kernel log with the kernel's kunit.py."""
    if not expected and "KTAP version" not in open(dmesg, errors="replace").read():
        return
    out = subprocess.run(
        [sys.executable, os.path.join(ksrc, "tools/testing/kunit/kunit.py"),
         "parse", "--json", dmesg],
        capture_output=True, text=True, cwd=ksrc)
    start = out.stdout.find("\n{")
    if start < 0:
        tally.add("FAIL", "kunit", "kunit.py parse found no results")
        return
    root = json.loads(out.stdout[start:])
    seen = set()
    for suite in root["sub_groups"]:
        seen.add(suite["name"])
        cases = [(c["name"], c["status"]) for c in suite["test_cases"]]
        # A parameterised case is a group of its own: judge it as a whole.
        for g in suite["sub_groups"]:
            m = g["misc"]
            st = ("FAIL" if m["failed"] or m["crashed"] or m["errors"] else
                  "SKIP" if m["skipped"] == m["tests"] else "PASS")
            cases.append((g["name"], st))
        for case, st in cases:
            verdict = {"PASS": "PASS", "SKIP": "SKIP"}.get(st, "FAIL")
            tally.add(verdict, f"kunit/{suite['name']}/{case}")
    for name in expected:
        if name not in seen:
            tally.add("FAIL", f"kunit/{name}", "suite did not run")


def splats(res, tally):
    """Every boot (a directory with a console.log) must have left its dmesg."""
    found, boots, unfinished = [], 0, []
    for root, _, files in walk(res):
        if "console.log" in files:
            boots += 1
            if "dmesg.log" not in files:
                unfinished.append(os.path.relpath(root, res))
        for f in sorted(files):
            if f not in ("dmesg.log", "console.log"):
                continue
            p = os.path.join(root, f)
            found += [f"{os.path.relpath(p, res)}: {l.strip()}"
                      for l in open(p, errors="replace") if SPLAT.search(l)]
    if not boots:
        return
    if unfinished:
        tally.add("FAIL", "kernel-log",
                  f"a VM did not finish: no dmesg.log in {' '.join(unfinished)} (see console.log)")
    elif found:
        for l in found[:20]:
            print("   ", l)
        tally.add("FAIL", "kernel-log", f"{len(found)} splat lines")
    else:
        tally.add("PASS", "kernel-log", "no WARNING/BUG/Oops/KASAN/lockdep")


def first_attempts(res):
    """What made check.sh run a boot again: its first verdict, as notes."""
    for d in sorted(os.listdir(res)):
        verdict = os.path.join(res, d, "verdict.txt")
        if not d.endswith(FIRST_ATTEMPT) or not os.path.exists(verdict):
            continue
        print(f"RERUN {d[:-len(FIRST_ATTEMPT)]}: its first attempt"
              f" ({os.path.join(res, d)}) did not count; it said:")
        for l in open(verdict, errors="replace").read().splitlines():
            print("    |", l)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("ksrc")
    ap.add_argument("--kunit-suite", action="append", default=[])
    a = ap.parse_args()

    tally = Tally()
    test_results(a.results, tally)
    dmesg = os.path.join(a.results, "dmesg.log")
    if os.path.exists(dmesg):
        kunit(dmesg, a.ksrc, a.kunit_suite, tally)
    else:
        for name in a.kunit_suite:
            tally.add("FAIL", f"kunit/{name}", "no kernel log of the main boot")
    splats(a.results, tally)
    first_attempts(a.results)

    if tally.skipped:
        print(f"{len(tally.skipped)} skipped: " + " ".join(tally.skipped))
    if tally.failed:
        print("failed: " + " ".join(tally.failed))
    print(f"{len(tally.passed)} passed, {len(tally.failed)} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
