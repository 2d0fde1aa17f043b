#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs *inside* the test VM (vng shares the host's root filesystem, so the
# host-built binaries are at the same paths). vm-tests.sh RESULTS SELFTESTS
# [NAME...]: run the KVM selftests of scripts/kvm-selftests.list (or only
# the NAMEs given), the nested QEMU boot, and save every output, exit code
# and the kernel log under RESULTS for scripts/report.py.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

res=$1 selftests=$2
shift 2
only=" $* "

# One test: its output to NAME.log, "EXIT_CODE SECONDS" to NAME.rc.
run_one()
{
	local name=$1 limit=$2 start rc
	shift 2

	echo "--- $name" >&2
	start=$(date +%s%N)
	timeout -k 10 "$limit" "$@" > "$res/$name.log" 2>&1 < /dev/null
	rc=$?
	echo "$rc $(( ($(date +%s%N) - start) / 1000000 ))" > "$res/$name.rc"
}

want()
{
	[ "$only" = "  " ] || [[ $only == *" $1 "* ]]
}

mkdir -p "$res/selftests"
# The packaged kernel (make deb-check) has KVM as modules.
[ -e /dev/kvm ] || modprobe kvm_amd || echo "no /dev/kvm: kvm_amd did not load" >&2
mount -t debugfs none /sys/kernel/debug 2>/dev/null
# kmemleak (make check-debug) reports only what leaks from here on.
"$TOP/scripts/unmapped-leak-check.sh" --mark

while read -r path limit args; do
	name=selftests/${path//\//_}
	want "${path##*/}" || want "$path" || continue
	if [ ! -x "$selftests/$path" ]; then
		echo "missing test binary $selftests/$path" > "$res/$name.log"
		echo "127 0" > "$res/$name.rc"
		continue
	fi
	# shellcheck disable=SC2086
	run_one "$name" "$limit" "$selftests/$path" $args
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/scripts/kvm-selftests.list")

if want unmapped_sysfs; then
	run_one unmapped_sysfs 60 "$TOP/scripts/unmapped-sysfs-test.sh"
fi

if want qemu_nested_boot; then
	run_one qemu_nested_boot 300 "$TOP/scripts/nested-boot.sh"
fi

if want bench_smoke; then
	run_one bench_smoke 300 "$TOP/scripts/bench-smoke.sh"
fi

if want qemu_guest_memfd; then
	run_one qemu_guest_memfd 900 "$TOP/scripts/qemu-gmem-test.sh"
fi

# Only when asked for by name: check.sh boots a second VM with
# numa=fake=2 for it.
if [[ $only == *" numa_bind "* ]]; then
	run_one numa_bind 300 "$selftests/guest_memfd_no_direct_map_test" \
		-t numa_bind_respected -t cpuset_mems_respected \
		-t stranded_memory_bounded
fi

# Last: whatever the tests above allocated must all have come back.
if want unmapped_leaks; then
	run_one unmapped_leaks 300 "$TOP/scripts/unmapped-leak-check.sh"
fi

dmesg > "$res/dmesg.log"
