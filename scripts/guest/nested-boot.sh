#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: boot a nested guest (our test kernel and the
# busybox initramfs) with our QEMU on KVM, and check it came up and shut
# down cleanly. KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

ktap_print_header
nested_qemu_ready || ktap_exit_fail_msg "cannot run a nested guest"
ktap_set_plan 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
# Under its own timeout, so that a guest that hangs still shows its console.
timeout 200 "${NESTED_QEMU_CMD[@]}" -m 256M -serial "file:$log" \
	-append "$NESTED_APPEND" < /dev/null || rc=$?
sed 's/^/# /' "$log"
ktap_check "QEMU exits with 0 ($rc)" test $rc = 0
ktap_check "the nested guest ran to the end" grep -q '^nested-guest: done' "$log"
ktap_finished
