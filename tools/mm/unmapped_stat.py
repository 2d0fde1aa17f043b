#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""unmapped_stat: what the unmapped_alloc() pools hold and which VMs use it.

Reads only what the kernel exports: /sys/kernel/mm/unmapped (the pools'
knobs), /proc/vmstat (their counters, TLB flushes and direct-map splits),
/proc/meminfo (the direct map's page sizes) and, per process, the fdinfo
of its guest_memfd files (which VM each belongs to, how much of it is
allocated and outside the direct map, how many 2 MiB folios it took). Per-VM figures need root to read
other processes' fdinfo.

usage: unmapped_stat.py [-i SECONDS]   (with -i: repeat, showing rates)
"""

import argparse
import os
import sys
import time

SYSFS = "/sys/kernel/mm/unmapped"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def read_keyed(path, sep=None):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split(sep, 1)
                if len(parts) == 2:
                    out[parts[0].strip().rstrip(":")] = parts[1].strip()
    except OSError:
        pass
    return out


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def mib(kb):
    return f"{kb / 1024:.1f} MiB"


def gmem_files():
    """(pid, comm, fdinfo dict) for every guest_memfd file open on the host."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fddir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fddir)
        except OSError:
            continue
        for fd in fds:
            try:
                if "kvm-gmem" not in os.readlink(f"{fddir}/{fd}"):
                    continue
            except OSError:
                continue
            info = read_keyed(f"/proc/{pid}/fdinfo/{fd}", ":")
            if "gmem-vm" in info:
                comm = open(f"/proc/{pid}/comm").read().strip()
                yield int(pid), comm, info


def per_vm():
    """Sum guest_memfd memory by (VMM pid, VM); a file shared by fd is counted once."""
    vms, seen = {}, set()
    for pid, comm, info in gmem_files():
        key = (pid, comm, info["gmem-vm"])
        vm = vms.setdefault(key, {"files": 0, "size": 0, "resident": 0, "unmapped": 0,
                                  "huge": 0, "fallbacks": 0})
        ino = info.get("ino")
        if (pid, ino) in seen:
            continue
        seen.add((pid, ino))
        vm["files"] += 1
        vm["size"] += int(info["gmem-size"]) // 1024
        vm["resident"] += int(info["gmem-resident"].split()[0])
        vm["unmapped"] += int(info["gmem-unmapped"].split()[0])
        vm["huge"] += int(info.get("gmem-huge-folios", 0))
        vm["fallbacks"] += int(info.get("gmem-huge-fallbacks", 0))
    return vms


def report(prev, prev_t):
    vmstat = {k: int(v) for k, v in read_keyed("/proc/vmstat").items()}
    meminfo = read_keyed("/proc/meminfo", ":")
    now = time.monotonic()

    def ev(name):
        val = vmstat.get(name)
        if val is None:
            return "n/a"
        if prev is None or name not in prev:
            return f"{val}"
        return f"{val} (+{(val - prev[name]) / (now - prev_t):.0f}/s)"

    blocks = read_int(f"{SYSFS}/blocks")
    if blocks is None:
        sys.exit(f"{SYSFS} is missing: this kernel has no unmapped_alloc() pools")
    cap = read_int(f"{SYSFS}/max_blocks")
    pool_kb = vmstat.get("nr_unmapped_pool", 0) * PAGE_KB
    free_kb = vmstat.get("nr_unmapped_free", 0) * PAGE_KB

    print("unmapped_alloc() pools")
    print(f"  blocks:            {blocks} (cap max_blocks: {cap or 'none'}, "
          f"free blocks kept free_blocks_max: {read_int(SYSFS + '/free_blocks_max')})")
    print(f"  pool memory:       {mib(pool_kb)}, in use {mib(pool_kb - free_kb)}, "
          f"free {mib(free_kb)}")
    print(f"  pages allocated:   {ev('unmapped_alloc')}, freed: {ev('unmapped_free')}")
    print(f"  block refills:     {ev('unmapped_refill')}, smaller than 2 MiB: "
          f"{ev('unmapped_refill_fallback')}")
    print(f"  releases:          {ev('unmapped_release')}, scrubs: {ev('unmapped_scrub')}")
    print(f"  pool TLB flushes:  {ev('unmapped_tlb_flush')}")
    print(f"  guest_memfd 2 MiB folios: {ev('unmapped_gmem_huge')}, 4 KiB fallbacks: "
          f"{ev('unmapped_gmem_huge_fallback')}, splits: {ev('unmapped_gmem_huge_split')}")
    print("direct map")
    print("  " + ", ".join(f"{k} {meminfo[k]}" for k in
                          ("DirectMap4k", "DirectMap2M", "DirectMap1G") if k in meminfo))
    print(f"  2M / 1G splits:    {ev('direct_map_level2_splits')} / "
          f"{ev('direct_map_level3_splits')}")
    if "nr_tlb_remote_flush" in vmstat:
        print(f"  TLB flushes (all): local {ev('nr_tlb_local_flush_all')} full, "
              f"{ev('nr_tlb_local_flush_one')} single; remote {ev('nr_tlb_remote_flush')}")

    vms = per_vm()
    print("guest_memfd per VM" + ("" if os.geteuid() == 0 else " (yours only: not root)"))
    if not vms:
        print("  none open")
    else:
        print(f"  {'PID':>7} {'COMMAND':<16} {'VM':<14} {'FILES':>5} {'SIZE':>12} "
              f"{'RESIDENT':>12} {'UNMAPPED':>12} {'2M FOLIOS':>9} {'FALLBACKS':>9}")
        for (pid, comm, vm), v in sorted(vms.items()):
            print(f"  {pid:>7} {comm:<16} {vm:<14} {v['files']:>5} {mib(v['size']):>12} "
                  f"{mib(v['resident']):>12} {mib(v['unmapped']):>12} {v['huge']:>9} "
                  f"{v['fallbacks']:>9}")
    return vmstat, now


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-i", "--interval", type=float, help="repeat every SECONDS")
    a = ap.parse_args()
    prev, prev_t = report(None, None)
    while a.interval:
        time.sleep(a.interval)
        print()
        prev, prev_t = report(prev, prev_t)


if __name__ == "__main__":
    main()
