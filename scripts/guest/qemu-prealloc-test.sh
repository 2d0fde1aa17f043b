#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: memory-backend-guest-memfd with prealloc=on
# populates the whole backend (MADV_POPULATE_WRITE on QEMU's mapping)
# before the guest starts: with no-direct-map=on, from the pool. QEMU is
# started paused (-S); the pool's pages in use are counted once its
# monitor answers. prealloc=off, and no-direct-map=off, are the controls.
#
# KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

SIZE_MIB=256
PAGES=$((SIZE_MIB * 256))

work=$(mktemp -d)
qpid=
trap '[ -n "$qpid" ] && kill -9 $qpid 2>/dev/null; rm -rf "$work"' EXIT

pool_in_use()
{
	echo $(($(vmstat nr_unmapped_pool) - $(vmstat nr_unmapped_free)))
}

# populated NO-DIRECT-MAP PREALLOC: how many pool pages a paused QEMU
# with that backend took, or "failed".
populated()
{
	local before after

	before=$(pool_in_use)
	"$NESTED_QEMU" -accel kvm -nodefaults -display none -S \
		-L /usr/share/seabios -L /usr/share/qemu -m ${SIZE_MIB}M \
		-object memory-backend-guest-memfd,id=ram0,size=${SIZE_MIB}M,no-direct-map=$1,prealloc=$2 \
		-machine q35,memory-backend=ram0,smm=off \
		-qmp "unix:$work/qmp,server=on,wait=off" \
		< /dev/null > "$work/qemu.err" 2>&1 &
	qpid=$!
	for _ in $(seq 120); do
		if qmp "$work/qmp" query-status 2> /dev/null | grep -q prelaunch; then
			after=$(pool_in_use)
			qmp "$work/qmp" quit > /dev/null
			wait $qpid
			qpid=
			echo $((after - before))
			return
		fi
		kill -0 $qpid 2>/dev/null || break
		sleep 1
	done
	ktap_note "$work/qemu.err" >&2
	echo failed
}

ktap_print_header
[ -x "$NESTED_QEMU" ] && [ -w /dev/kvm ] || ktap_exit_fail_msg "no QEMU or no /dev/kvm"
ktap_set_plan 3

got=$(populated on on)
ktap_check "no-direct-map=on prealloc=on: the pool holds the whole backend before the guest starts ($got of $PAGES pages)" \
	test "$got" != failed -a "${got/failed/0}" -ge $PAGES
got=$(populated on off)
ktap_check "no-direct-map=on prealloc=off: nothing populated ($got pages, the control)" \
	test "$got" != failed -a "${got/failed/0}" -lt $((PAGES / 10))
got=$(populated off on)
ktap_check "no-direct-map=off prealloc=on: QEMU starts, the pool untouched ($got pages)" \
	test "$got" != failed -a "${got/failed/1}" -lt $((PAGES / 10))
ktap_finished
