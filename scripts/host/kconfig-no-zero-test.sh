#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs on the host, before the test VM: KVM_GMEM_NO_ZERO_INSECURE_TESTING
# lets guests read stale host memory, so no build may get it by accident.
# allyesconfig (which turns on COMPILE_TEST) must leave it off, while the
# test kernel, which asks for it, has it: the control that shows the check
# reads a .config that can contain it. KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KSRC/tools/testing/selftests/kselftest/ktap_helpers.sh"

opt=CONFIG_KVM_GMEM_NO_ZERO_INSECURE_TESTING
dir=$BUILD/kconfig-allyes

has_option()
{
	grep -qx "$opt=y" "$1/.config"
}

lacks_option()
{
	! has_option "$1"
}

ktap_print_header
ktap_set_plan 2
ktap_test_result "the test kernel has $opt" has_option "$KOUT_BASE-test"
rm -rf "$dir"
mkdir -p "$dir"
if make -C "$KSRC" O="$dir" -s allyesconfig >/dev/null; then
	ktap_test_result "allyesconfig leaves $opt off" lacks_option "$dir"
else
	ktap_test_fail "allyesconfig leaves $opt off (make allyesconfig failed)"
fi
ktap_finished
