#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--debug] [NAME...]: boot the test kernel once, run every test
# in it (or only the NAMEs given) and report. Everything the run produced
# stays in out/results/check: each test's log, the guest's dmesg, the
# console. The test kernel runs with page poisoning on.
# --debug (make check-debug): the debug kernel (KASAN, kmemleak) with
# init_on_free=1 instead, running the tests that drive unmapped memory
# hardest; results in out/results/check-debug.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

flavour=test res=$RESULTS/check
append="secretmem.enable=1 page_poison=1"
if [ "${1:-}" = --debug ]; then
	shift
	flavour=debug res=$RESULTS/check-debug
	append="secretmem.enable=1 init_on_free=1"
	[ $# = 0 ] && set -- guest_memfd_no_direct_map_test guest_memfd_fuzz_test \
		guest_memfd_stress_test guest_memfd_test unmapped_sysfs unmapped_leaks
fi
rm -rf "$res"
mkdir -p "$res"
log "booting the $flavour kernel under TCG and running the tests (logs: $res)"
start=$(date +%s)
VM_APPEND="$append" "$TOP/scripts/vm.sh" -f $flavour -t "${VM_TIMEOUT:-2400}" -w "$res" \
	-c "$res/console.log" -- "$TOP/scripts/vm-tests.sh" "$res" "$BUILD/selftests-test" "$@"
rc=$?
log "test VM finished in $(( $(date +%s) - start )) s with status $rc"
if [ $rc != 0 ]; then
	echo "the test VM exited with status $rc (124: timed out)" > "$res/vm-session.log"
	echo "$rc 0" > "$res/vm-session.rc"
fi
exec "$PYTHON" "$TOP/scripts/report.py" "$res" "$KSRC" \
	--kunit-suites "$TOP/scripts/kunit-suites.list"
