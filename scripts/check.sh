#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--debug] [NAME...]: boot the test kernel once, run every test
# in it (or only the NAMEs given) and report. Everything the run produced
# stays in out/results/check: each test's log, the guest's dmesg, the
# console. The test kernel runs with page poisoning on.
# --debug (make check-debug): the debug kernel (KASAN, kmemleak) with
# init_on_free=1 instead, running the tests that drive unmapped memory
# hardest; results in out/results/check-debug.
# --deb (make deb-check): the kernel of the package make deb built,
# unpacked as dpkg would install it, KVM as modules, Debian's config; the
# tests that need nothing of the test rig; results in out/results/check-deb.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

flavour=test res=$RESULTS/check
append="secretmem.enable=1 page_poison=1"
kunit=(--kunit-suites "$TOP/scripts/kunit-suites.list")
case ${1:-} in
--debug)
	shift
	flavour=debug res=$RESULTS/check-debug
	append="secretmem.enable=1 init_on_free=1"
	[ $# = 0 ] && set -- guest_memfd_no_direct_map_test guest_memfd_fuzz_test \
		guest_memfd_stress_test guest_memfd_test unmapped_sysfs unmapped_leaks
	;;
--deb)
	shift
	flavour=deb res=$RESULTS/check-deb kunit=()
	append="secretmem.enable=1"
	[ $# = 0 ] && set -- guest_memfd_no_direct_map_test guest_memfd_test \
		guest_memfd_stress_test guest_memfd_fuzz_test unmapped_sysfs unmapped_leaks
	;;
esac
rm -rf "$res"
mkdir -p "$res"
# Host-side tests of the test kernel's build, before it boots.
if [ $flavour = test ] && { [ $# = 0 ] || [[ " $* " == *" kconfig_no_zero "* ]]; }; then
	mkdir -p "$res/host"
	start=$(date +%s%N)
	"$TOP/scripts/kconfig-no-zero-test.sh" > "$res/host/kconfig_no_zero.log" 2>&1
	echo "$? $(( ($(date +%s%N) - start) / 1000000 ))" > "$res/host/kconfig_no_zero.rc"
fi
boot=(-f $flavour)
if [ $flavour = deb ]; then
	pkg=$(ls "$BUILD"/deb/linux-image-*-unmapped-gmem_*_amd64.deb 2>/dev/null | grep -v -- -dbg_) ||
		die "no kernel package in $BUILD/deb: run 'make deb DEB=kernel' first"
	root=$BUILD/deb-root
	rm -rf "$root"
	dpkg-deb -x "$pkg" "$root"
	boot=(-k "$(ls "$root"/boot/vmlinuz-*)")
fi
log "booting the $flavour kernel under TCG and running the tests (logs: $res)"
start=$(date +%s)
VM_APPEND="$append" "$TOP/scripts/vm.sh" "${boot[@]}" -t "${VM_TIMEOUT:-2400}" -w "$res" \
	-c "$res/console.log" -- "$TOP/scripts/vm-tests.sh" "$res" "$BUILD/selftests-test" "$@"
rc=$?
log "test VM finished in $(( $(date +%s) - start )) s with status $rc"
if [ $rc != 0 ]; then
	echo "the test VM exited with status $rc (124: timed out)" > "$res/vm-session.log"
	echo "$rc 0" > "$res/vm-session.rc"
fi
# Memory policies need two NUMA nodes: a second, short boot with fake ones
# (and no KUnit, whose cases count blocks on one node).
if [ $flavour = test ] && { [ $# = 0 ] || [[ " $* " == *" numa_bind "* ]]; }; then
	mkdir -p "$res/numa"
	log "booting the test kernel again with two NUMA nodes (logs: $res/numa)"
	VM_APPEND="$append numa=fake=2 kunit.enable=0" "$TOP/scripts/vm.sh" -f test -t 600 \
		-w "$res/numa" -c "$res/numa/console.log" -- \
		"$TOP/scripts/vm-tests.sh" "$res/numa" "$BUILD/selftests-test" numa_bind ||
		echo "1 0" > "$res/numa/vm-session.rc"
fi
exec "$PYTHON" "$TOP/scripts/report.py" "$res" "$KSRC" "${kunit[@]}"
