#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-disk.sh: `make bench-disk`. Boot the bench kernel under TCG; in
# it, nested guests on no-direct-map and on ordinary guest_memfd RAM
# measure their disks in every cache and aio mode, side by side; write
# disk.md and disk.csv to out/build/bench/disk. BENCH_DISK_SECONDS (per
# access pattern, default 2) and BENCH_DISK_REPS (default 3) override.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

seconds=${BENCH_DISK_SECONDS:-2}
reps=${BENCH_DISK_REPS:-3}
res=$BUILD/bench/disk

rm -rf "$res"
mkdir -p "$res"
{
	echo "command: make bench-disk ($seconds s per pattern, $reps repetitions), $(date -u '+%F %H:%M UTC')"
	echo "host: $(uname -sr), $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "VM: QEMU TCG -cpu max, ${VM_CPUS:-2} vCPUs, ${VM_MEM:-4G}, bench kernel; nested guest: our QEMU on KVM, 1 vCPU, 256 MiB, test kernel"
} > "$res/machine.txt"
log "running the disk benchmark in the bench kernel"
start=$(date +%s)
"$TOP/scripts/host/vm.sh" -f bench -t 3600 -w "$res" -c "$res/console.log" -- \
	"$TOP/scripts/guest/bench-disk.sh" "$res" "$seconds" "$reps" ||
	die "the disk benchmark failed; see $res/console.log"
log "disk benchmark finished in $(( $(date +%s) - start )) s"
"$PYTHON" "$TOP/scripts/host/bench-disk-report.py" "$res"
log "report: $res/disk.md"
