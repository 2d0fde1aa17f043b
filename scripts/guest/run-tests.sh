#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM (vng shares the host's root filesystem, so the
# host-built binaries are at the same paths). run-tests.sh RESULTS
# SELFTESTS NAME...: run those tests of scripts/tests.list in the order
# given, each under its timeout, and leave every output, exit code and the
# kernel log under RESULTS for scripts/host/report.py.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

res=$1 selftests=$2
shift 2

mkdir -p "$res"
# The packaged kernel (make deb-check) has KVM as modules.
[ -e /dev/kvm ] || modprobe kvm_amd || echo "no /dev/kvm: kvm_amd did not load" >&2
mount -t debugfs none /sys/kernel/debug 2>/dev/null
# kmemleak (make check-debug) reports only what leaks from here on.
"$TOP/scripts/guest/unmapped-leak-check.sh" --mark

for name in "$@"; do
	run_test "$res" "$selftests" "$name"
done
dmesg > "$res/dmesg.log"
