#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--debug | --deb] [NAME...]: run the tests scripts/tests.list
# gives this flavour (or only the NAMEs given) where the list says: host
# tests first, then one boot of the kernel under TCG for the VM tests
# (and the KUnit suites it runs at boot), one for the tests that run
# nested guests (twice if the first fails, see below), and a short one
# with two fake NUMA nodes for the numa tests. Everything the run produced
# stays in out/results/check: each test's log, the guest's dmesg, the
# console. The test kernel runs with page poisoning on.
# --debug (make check-debug): the debug kernel (KASAN, kmemleak) with
# init_on_free=1 instead; results in out/results/check-debug.
# --deb (make deb-check): the kernel of the package make deb built,
# unpacked as dpkg would install it, KVM as modules, Debian's config;
# results in out/results/check-deb.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=test res=$RESULTS/check
append="secretmem.enable=1 page_poison=1"
case ${1:-} in
--debug)
	shift
	flavour=debug res=$RESULTS/check-debug
	append="secretmem.enable=1 init_on_free=1"
	;;
--deb)
	shift
	flavour=deb res=$RESULTS/check-deb
	append="secretmem.enable=1"
	;;
esac
for name in "$@"; do
	[ -n "$(tests_line "$name")" ] || die "no test '$name' in scripts/tests.list"
done

# selected WHERE: the names of this flavour's tests that run there, in
# the registry's order, limited to the NAMEs given on the command line.
selected()
{
	local name
	tests_select $flavour "$1" | while read -r name _; do
		if [ $# -eq 1 ] || [[ " ${*:2} " == *" $name "* ]]; then
			echo "$name"
		fi
	done
}

host_tests=$(selected host "$@")
vm_tests=$(selected vm "$@")
nested_tests=$(selected nested "$@")
numa_tests=$(selected numa "$@")
kunit_args=()
for suite in $(selected kunit "$@"); do
	kunit_args+=(--kunit-suite "$suite")
done
[ -n "$host_tests$vm_tests$nested_tests$numa_tests" ] || [ ${#kunit_args[@]} -gt 0 ] ||
	die "none of '$*' runs in the $flavour flavour (scripts/tests.list)"
rm -rf "$res"
mkdir -p "$res"

if [ -n "$host_tests" ]; then
	for name in $host_tests; do
		log "host test $name"
		run_test "$res/host" "$BUILD/selftests-test" "$name"
	done
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

# boot_and_run DIR APPEND TIMEOUT NAME...: one boot running those tests.
boot_and_run()
{
	local dir=$1 extra=$2 limit=$3 start rc
	shift 3

	mkdir -p "$dir"
	log "booting the $flavour kernel under TCG ($extra) for: $*"
	start=$(date +%s)
	VM_APPEND="$extra" "$TOP/scripts/host/vm.sh" "${boot[@]}" -t "$limit" -w "$dir" \
		-c "$dir/console.log" -- env OUT="$OUT" "$TOP/scripts/guest/run-tests.sh" \
		"$dir" "$BUILD/selftests-test" "$@"
	rc=$?
	log "test VM finished in $(( $(date +%s) - start )) s with status $rc"
	if [ $rc != 0 ]; then
		echo "the test VM exited with status $rc (124: timed out)" > "$dir/vm-session.log"
		echo "$rc 0" > "$dir/vm-session.rc"
	fi
}

# The KUnit suites run at every boot of the kernel: the main boot is the
# one whose log report.py reads them from.
if [ -n "$vm_tests" ] || [ ${#kunit_args[@]} -gt 0 ]; then
	# shellcheck disable=SC2086
	boot_and_run "$res" "$append" "${VM_TIMEOUT:-2400}" $vm_tests
fi
# The nested guests get a boot of their own, and a second one if the
# first fails in any way. TCG's emulation of SVM (Debian's QEMU 10.0, the
# L0 of every run) now and then delivers an interrupt the vCPU's state
# should hold off while the test kernel runs KVM guests: that kernel or its
# guest then crashes or hangs, a kernel without our patches too (README).
# The first attempt's results stay in nested.first-attempt, and report.py
# lists them; only the second attempt's count.
nested_boot()
{
	# shellcheck disable=SC2086
	boot_and_run "$res/nested" "$append kunit.enable=0" 2400 $nested_tests
}
if [ -n "$nested_tests" ]; then
	nested_boot
	if ! "$PYTHON" "$TOP/scripts/host/report.py" "$res/nested" "$KSRC" > /dev/null; then
		# Judged again where it now lies, so that its log paths are right.
		first=$res/nested.first-attempt
		mv "$res/nested" "$first"
		"$PYTHON" "$TOP/scripts/host/report.py" "$first" "$KSRC" > "$first/verdict.txt"
		log "the nested guests' boot failed ($(grep "^failed:" "$first/verdict.txt")): booting again"
		nested_boot
	fi
fi
# No KUnit in the NUMA boot: its cases count blocks on one node.
if [ -n "$numa_tests" ]; then
	# shellcheck disable=SC2086
	boot_and_run "$res/numa" "$append numa=fake=2 kunit.enable=0" 600 $numa_tests
fi
exec "$PYTHON" "$TOP/scripts/host/report.py" "$res" "$KSRC" "${kunit_args[@]}"
