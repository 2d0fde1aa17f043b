#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: `make bench`. Boot the bench kernel (no debug aids) under TCG
# with secretmem enabled and run guest_memfd_bench once over every path, size
# and repetition, then write results.md, results.csv and the plots to
# out/build/bench/results. BENCH_SIZES (MiB, comma-separated) and
# BENCH_REPS override the defaults.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

sizes=${BENCH_SIZES:-256,512,1024,2048}
reps=${BENCH_REPS:-3}
mem=${VM_MEM:-6G}
res=$BUILD/bench/results

install_missing gnuplot-nox || log "no gnuplot: the report will have no plots"

rm -rf "$res"
mkdir -p "$res"
{
	echo "command: make bench (sizes $sizes MiB, $reps repetitions), $(date -u '+%F %H:%M UTC')"
	echo "host: $(uname -sr), $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "VM: QEMU TCG -cpu max, ${VM_CPUS:-2} vCPUs, $mem, bench kernel (kconfig/base.config + kconfig/bench.config)"
} > "$res/machine.txt"

log "running the benchmark in the bench kernel (sizes $sizes MiB, $reps repetitions)"
start=$(date +%s)
VM_MEM=$mem VM_APPEND="secretmem.enable=1" "$TOP/scripts/host/vm.sh" -f bench -t 7200 \
	-w "$res" -c "$res/console.log" -- \
	"$TOP/scripts/guest/bench-vm.sh" "$res" "$BUILD/selftests-bench/guest_memfd_bench" -s "$sizes" -r "$reps" ||
	die "the benchmark failed; see $res/console.log"
log "benchmark finished in $(( $(date +%s) - start )) s"
sed 's/^/VM /' "$res/machine-vm.txt" >> "$res/machine.txt"
"$PYTHON" "$TOP/scripts/host/bench-report.py" "$res"
log "report: $res/results.md"
