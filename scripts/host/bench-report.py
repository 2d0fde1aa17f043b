#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py DIR: turn DIR/results.csv (guest_memfd_bench) into DIR/results.md,
a table per size plus the targets, and, with gnuplot, DIR/throughput.png and
DIR/cost-per-gib.png."""

import csv
import os
import statistics
import subprocess
import sys

# Each path is compared with upstream guest_memfd populated the same way.
BASELINE = {
    "memset": "gmem-mmap", "gmem-mmap": "gmem-mmap", "ndm-mmap": "gmem-mmap",
    "secretmem-mmap": "gmem-mmap", "gmem-kvm": "gmem-kvm", "ndm-kvm": "gmem-kvm",
    "ndm-kvm-unbatched": "gmem-kvm",
    "ndm-warm-kvm": "gmem-kvm", "nozero-kvm": "gmem-kvm",
    "gmem-kvm-2": "gmem-kvm-2", "ndm-kvm-2": "gmem-kvm-2",
    "huge-mmap": "gmem-mmap", "huge-warm-mmap": "gmem-mmap",
    "huge-kvm": "gmem-kvm", "huge-warm-kvm": "gmem-kvm", "huge-nozero-kvm": "gmem-kvm",
}
WHAT = {
    "memset": "memset of faulted anonymous memory (bandwidth)",
    "gmem-mmap": "upstream guest_memfd, mmap touch",
    "ndm-mmap": "NO_DIRECT_MAP, mmap touch, cold pool",
    "secretmem-mmap": "memfd_secret, mmap touch",
    "gmem-kvm": "upstream guest_memfd, KVM pre-fault",
    "ndm-kvm": "NO_DIRECT_MAP, KVM pre-fault, cold pool",
    "ndm-kvm-unbatched": "the same, one block and TLB flush per refill",
    "ndm-warm-kvm": "NO_DIRECT_MAP, KVM pre-fault, prefilled pool",
    "nozero-kvm": "NO_DIRECT_MAP + NO_ZERO, KVM pre-fault",
    "gmem-kvm-2": "upstream guest_memfd, 2 vCPUs",
    "ndm-kvm-2": "NO_DIRECT_MAP, 2 vCPUs, cold pool",
    "huge-mmap": "NO_DIRECT_MAP + HUGE_PAGES (2 MiB folios), mmap touch, cold pool",
    "huge-warm-mmap": "NO_DIRECT_MAP + HUGE_PAGES, mmap touch, prefilled pool",
    "huge-kvm": "NO_DIRECT_MAP + HUGE_PAGES, KVM pre-fault, cold pool",
    "huge-warm-kvm": "NO_DIRECT_MAP + HUGE_PAGES, KVM pre-fault, prefilled pool",
    "huge-nozero-kvm": "NO_DIRECT_MAP + HUGE_PAGES + NO_ZERO, KVM pre-fault",
}
# Paths that take blocks out of the direct map while the clock runs.
COLD = ("ndm-mmap", "ndm-kvm", "ndm-kvm-unbatched", "nozero-kvm", "ndm-kvm-2", "huge-mmap", "huge-kvm",
        "huge-nozero-kvm")


def load(path):
    runs = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["path"], int(row["size_mib"]))
            runs.setdefault(key, []).append(
                {k: float(v) for k, v in row.items() if k != "path"})
    return runs


def med(rows, col):
    # Older results.csv files lack the newer counters.
    return statistics.median(r.get(col, 0) for r in rows)


def faults(rows, path):
    """Faults that populated: KVM's mappings for KVM paths, else page faults."""
    if "-kvm" in path:
        return med(rows, "kvm_pages_4k") + med(rows, "kvm_pages_2m")
    return med(rows, "minor_faults")


def summary(runs):
    out = {}
    for (path, mib), rows in runs.items():
        t = [r["populate_s"] for r in rows]
        gib = mib / 1024
        m = statistics.median(t)
        out[(path, mib)] = {
            "mibs": mib / m, "spread": (max(t) - min(t)) / m * 100, "n": len(t),
            "s_per_gib": m / gib, "teardown": med(rows, "teardown_s"),
            "local": (med(rows, "nr_tlb_local_flush_one") +
                      med(rows, "nr_tlb_local_flush_all")) / gib,
            "remote": med(rows, "nr_tlb_remote_flush") / gib,
            "pool_flush": med(rows, "unmapped_tlb_flush"),
            "refill": med(rows, "unmapped_refill"),
            "l2": med(rows, "direct_map_level2_splits"),
            "l3": med(rows, "direct_map_level3_splits"),
            "dm4k": med(rows, "directmap4k_kib") / 1024,
            # Older results.csv files predate this counter.
            "compact": (f'{med(rows, "compact_stall"):.0f}'
                        if "compact_stall" in rows[0] else "-"),
            "blocks": mib / 2,
            "pool_flush_gib": med(rows, "unmapped_tlb_flush") / gib,
            "faults_gib": faults(rows, path) / gib,
            "kvm_4k": med(rows, "kvm_pages_4k"), "kvm_2m": med(rows, "kvm_pages_2m"),
            "teardown_gib": med(rows, "teardown_s") / gib,
        }
    return out


def ratio(s, path, mib):
    base = s.get((BASELINE[path], mib))
    return s[(path, mib)]["mibs"] / base["mibs"] if base else float("nan")


def table(s, mib, paths):
    lines = [f"### {mib} MiB", "",
             "| path | MiB/s | vs upstream | spread | TLB flushes/GiB local / remote "
             "| pool flushes / 2 MiB blocks | 2M / 1G splits | DirectMap4k +MiB "
             "| compaction stalls | faults/GiB | KVM 4K / 2M maps | teardown s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in paths:
        r = s.get((p, mib))
        if not r:
            continue
        lines.append(
            f"| `{p}` | {r['mibs']:.0f} | {ratio(s, p, mib):.2f}x | {r['spread']:.0f}% "
            f"| {r['local']:.0f} / {r['remote']:.0f} "
            f"| {r['pool_flush']:.0f} / {r['blocks']:.0f} | {r['l2']:.0f} / {r['l3']:.0f} "
            f"| {r['dm4k']:+.0f} | {r['compact']} | {r['faults_gib']:.0f} "
            f"| {r['kvm_4k']:.0f} / {r['kvm_2m']:.0f} | {r['teardown']:.3f} |")
    return lines + [""]


def targets(s, mib):
    def get(p):
        return s.get((p, mib))

    res = []

    def target(name, value, want, ok):
        res.append(f"| {name} | {value} | {want} | {'met' if ok else '**missed**'} |")

    def vs(p, want):
        if get(p) and get(BASELINE[p]):
            r = ratio(s, p, mib)
            target(f"`{p}` vs `{BASELINE[p]}`", f"{r:.2f}x", f">= {want}x", r >= want)

    for p in ("ndm-mmap", "ndm-kvm", "ndm-kvm-2"):
        vs(p, 0.9)
    for p in ("huge-mmap", "huge-kvm"):
        vs(p, 2.5)
    for p in ("huge-warm-mmap", "huge-warm-kvm", "huge-nozero-kvm"):
        vs(p, 5)
    for p in ("huge-mmap", "huge-kvm"):
        if get(p) and get("memset"):
            r = get(p)["mibs"] / get("memset")["mibs"]
            target(f"`{p}` vs `memset`", f"{r:.2f}x", ">= 0.9x", r >= 0.9)
    for p in ("huge-mmap", "huge-warm-mmap", "huge-kvm", "huge-warm-kvm", "huge-nozero-kvm"):
        if get(p):
            target(f"`{p}` faults per GiB", f"{get(p)['faults_gib']:.0f}", "<= 512",
                   get(p)["faults_gib"] <= 512)
    for p in ("huge-mmap", "huge-kvm"):
        base = get(BASELINE[p])
        if get(p) and base:
            t, u = get(p)["teardown_gib"], base["teardown_gib"]
            target(f"`{p}` teardown s/GiB vs `{BASELINE[p]}`", f"{t:.3f} vs {u:.3f}",
                   "no slower", t <= u)
    if get("ndm-mmap") and get("secretmem-mmap"):
        r = get("ndm-mmap")["mibs"] / get("secretmem-mmap")["mibs"]
        target("`ndm-mmap` vs `secretmem-mmap`", f"{r:.1f}x", ">= 4x", r >= 4)
    for p in [p for p in BASELINE if p in COLD or "warm" in p]:
        if get(p):
            target(f"`{p}` 2M splits", f"{get(p)['l2']:.0f}", "0", get(p)["l2"] == 0)
    for p in COLD:
        if get(p) and p != "ndm-kvm-unbatched":
            target(f"`{p}` pool TLB flushes per GiB", f"{get(p)['pool_flush_gib']:.1f}",
                   "<= 8", get(p)["pool_flush_gib"] <= 8)
    if get("nozero-kvm") and get("gmem-kvm"):
        r = ratio(s, "nozero-kvm", mib)
        target("`nozero-kvm` vs `gmem-kvm`", f"{r:.2f}x", ">= 3x", r >= 3)
    return [f"### Targets at {mib} MiB", "", "| target | measured | want | |",
            "|---|---:|---:|---|"] + res + [""]


def plots(d, s, sizes, paths):
    try:
        subprocess.run(["gnuplot", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        print("bench-report: no gnuplot, no plots", file=sys.stderr)
        return
    big = max(sizes)
    with open(os.path.join(d, "throughput.dat"), "w") as f:
        for p in paths:
            if (p, big) in s:
                f.write(f"\"{p}\" {s[(p, big)]['mibs']:.1f}\n")
    with open(os.path.join(d, "cost.dat"), "w") as f:
        for p in paths:
            f.write(f"# {p}\n")
            for mib in sizes:
                if (p, mib) in s:
                    f.write(f"{mib} {s[(p, mib)]['s_per_gib']:.4f}\n")
            f.write("\n\n")
    cost_plots = ", ".join(
        f"'cost.dat' index {i} with linespoints title '{p}'" for i, p in enumerate(paths))
    script = f"""
set terminal png size 1100,550
set output 'throughput.png'
set title 'Populate throughput at {big} MiB (median, MiB/s, log scale; higher is better)'
set style fill solid 0.6
set boxwidth 0.7
set rmargin 10
set xtics rotate by -30
set grid ytics
set logscale y
set yrange [10:*]
plot 'throughput.dat' using 0:2:xtic(1) with boxes notitle
set output 'cost-per-gib.png'
set title 'Seconds per GiB populated, by size (lower is better)'
set xtics norotate
set yrange [*:*]
set xlabel 'MiB populated'
set ylabel 's / GiB'
set logscale y
set key outside right
plot {cost_plots}
"""
    subprocess.run(["gnuplot"], input=script, text=True, cwd=d, check=True)


def main():
    d = sys.argv[1]
    runs = load(os.path.join(d, "results.csv"))
    s = summary(runs)
    sizes = sorted({mib for _, mib in runs})
    paths = [p for p in BASELINE if any((p, m) in s for m in sizes)]
    reps = max(r["n"] for r in s.values())
    lines = ["## Results", "",
             f"Median of {reps} run(s) per cell; spread is (max - min) / median. "
             "Ratios compare with upstream guest_memfd populated the same way "
             "(`gmem-mmap` for mmap paths, `gmem-kvm` for KVM pre-fault, "
             "`gmem-kvm-2` for two vCPUs). Faults per GiB count KVM's "
             "mappings (4 KiB plus 2 MiB, from its binary stats) for KVM paths and "
             "the process's page faults for mmap paths. TLB flushes come from "
             "CONFIG_DEBUG_TLBFLUSH's vmstat counters; pool flushes from "
             "`unmapped_tlb_flush`; compaction stalls (`compact_stall`) show "
             "when the buddy allocator had to compact to find 2 MiB blocks.", "", "| path | what |", "|---|---|"]
    lines += [f"| `{p}` | {WHAT[p]} |" for p in paths] + [""]
    for mib in sizes:
        lines += table(s, mib, paths)
    lines += targets(s, max(sizes))
    machine = os.path.join(d, "machine.txt")
    if os.path.exists(machine):
        lines += ["### Machine", "", "```"] + open(machine).read().splitlines() + ["```", ""]
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(lines))
    plots(d, s, sizes, paths)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
