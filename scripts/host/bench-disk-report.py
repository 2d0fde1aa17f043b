#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-disk-report.py DIR: DIR/disk.csv (bench-disk.sh) to DIR/disk.md,
a table of the median throughput of each cache/aio mode and access
pattern with no-direct-map on and off, and their ratio."""
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

PATTERNS = [("seqread", "1024"), ("seqwrite", "1024"),
            ("randread", "4"), ("randwrite", "4")]


def main():
    res = Path(sys.argv[1])
    runs = defaultdict(list)
    with open(res / "disk.csv") as f:
        for row in csv.DictReader(f):
            key = (row["cache"], row["aio"], row["pattern"], row["no_direct_map"])
            runs[key].append(float(row["mib_per_s"]))
    modes = sorted({(c, a) for c, a, _, _ in runs}, key=lambda m: (m[0] != "none", m))
    lines = [(res / "machine.txt").read_text().rstrip(), "",
             "Guest disk throughput, MiB/s, median of the repetitions: no-direct-map=on",
             "(bounced, for cache=none) against =off, and on/off.", "",
             "| cache | aio | pattern | block | on | off | on/off |",
             "|---|---|---|---|---:|---:|---:|"]
    for cache, aio in modes:
        for pattern, block in PATTERNS:
            on = runs.get((cache, aio, pattern, "on"))
            off = runs.get((cache, aio, pattern, "off"))
            if not on or not off:
                continue
            m_on, m_off = statistics.median(on), statistics.median(off)
            ratio = f"{m_on / m_off:.2f}x" if m_off else "-"
            lines.append(f"| {cache} | {aio} | {pattern} | {block} KiB | "
                         f"{m_on:.1f} | {m_off:.1f} | {ratio} |")
    (res / "disk.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
