#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-vm.sh OUTDIR BENCH [ARGS...]: inside the benchmark VM, record the
# machine and run guest_memfd_bench once; its CSV goes to OUTDIR/results.csv.
set -euo pipefail

out=$1 bench=$2
shift 2
mkdir -p "$out"
{
	echo "kernel: $(uname -r) ($(uname -v))"
	echo "cmdline: $(tr " " "\n" < /proc/cmdline | grep -v "^virtme\|^root\|^init=\|^console=\|^earlyprintk=\|^nr_open=\|^raid=\|^ro$\|^debug$\|^panic=" | paste -sd " ")"
	echo "cpus: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "memory: $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
	echo "direct map: $(grep '^DirectMap' /proc/meminfo | tr -s ' ' | paste -sd ' ')"
} > "$out/machine-vm.txt"
"$bench" "$@" -o "$out/results.csv"
