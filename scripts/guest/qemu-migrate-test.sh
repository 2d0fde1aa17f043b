#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: what migration and snapshots do with a nested
# guest on no-direct-map guest_memfd RAM. KVM cannot log dirty pages of
# guest_memfd memory slots yet, so QEMU must refuse, with a message that
# says so, live migration over a unix socket, migration to a file and
# savevm on a qcow2 disk, and postcopy on a destination; and the guest,
# which filled 32 MiB with a pattern before, must run on unharmed and
# find every page of it intact.
#
# KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

GUEST_MIB=128 FILL_MIB=32
WHY="KVM cannot log dirty pages of guest_memfd RAM"

work=$(mktemp -d)
declare -A pid_of
trap 'kill -9 "${pid_of[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# start NAME [QEMU-ARGS...]: a QEMU for the guest, its serial console in
# NAME.log, the guest's control line on NAME.in, QMP on NAME.qmp.
start()
{
	local name=$1
	shift

	mkfifo "$work/$name.in" "$work/$name.out"
	"${NESTED_QEMU_CMD[@]}" -m ${GUEST_MIB}M \
		-object memory-backend-guest-memfd,id=ram0,size=${GUEST_MIB}M,no-direct-map=on \
		-machine q35,memory-backend=ram0,smm=off \
		-drive "file=$work/snap.qcow2,format=qcow2,if=none,id=snap" \
		-serial "file:$work/$name.log" -serial "pipe:$work/$name" \
		-qmp "unix:$work/$name.qmp,server=on,wait=off" \
		-append "$NESTED_APPEND fill.seed=$seed fill.mib=$FILL_MIB" "$@" \
		< /dev/null > "$work/$name.err" 2>&1 &
	pid_of[$name]=$!
	for _ in $(seq 30); do
		[ -S "$work/$name.qmp" ] && return 0
		sleep 1
	done
	return 1
}

# refused WHAT WANT COMMAND...: COMMAND prints an error containing WANT.
refused()
{
	local what=$1 want=$2 out
	shift 2

	out=$("$@" 2>&1 | tail -1)
	echo "# $what: $out"
	ktap_check "$what is refused: $want" grep -q "$want" <<< "$out"
}

ktap_print_header
nested_qemu_ready || ktap_exit_fail_msg "cannot run a nested guest"
command -v qemu-img > /dev/null || ktap_exit_fail_msg "no qemu-img (Debian's qemu-utils)"
ktap_set_plan 6
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
qemu-img create -q -f qcow2 "$work/snap.qcow2" 64M

start src || ktap_exit_fail_msg "QEMU did not start"
if ! wait_for_line "nested-guest: filled" "$work/src.log" 240 "${pid_of[src]}"; then
	ktap_note "$work/src.err" "$work/src.log"
	ktap_exit_fail_msg "the guest did not fill its RAM; its output above"
fi

start dst -incoming defer || ktap_exit_fail_msg "the destination QEMU did not start"
refused "live migration over a unix socket" "$WHY" \
	qmp "$work/src.qmp" migrate "{\"uri\": \"unix:$work/migrate.sock\"}"
refused "migration to a file" "$WHY" \
	qmp "$work/src.qmp" migrate "{\"uri\": \"file:$work/guest.state\"}"
refused "savevm" "$WHY" \
	qmp "$work/src.qmp" human-monitor-command '{"command-line": "savevm snap1"}'
# The destination is where userfaultfd would have to catch the guest's faults.
refused "postcopy on the destination" "userfaultfd cannot register guest_memfd memory" \
	qmp "$work/dst.qmp" migrate-set-capabilities \
	'{"capabilities": [{"capability": "postcopy-ram", "state": true}]}'
qmp "$work/dst.qmp" quit > /dev/null

echo go > "$work/src.in"
rc=0
wait "${pid_of[src]}" || rc=$?
unset "pid_of[src]"
sed -n 's/^nested-guest: /# guest: /p' "$work/src.log"
ktap_check "the guest ran on to the end (QEMU exited $rc)" \
	eval '[ $rc = 0 ] && grep -q "^nested-guest: done" "$work/src.log"'
ktap_check "the guest finds all $((FILL_MIB * 256)) pages of its pattern intact" \
	grep -q "^nested-guest: $((FILL_MIB * 256)) of $((FILL_MIB * 256)) pages intact" "$work/src.log"
ktap_finished
