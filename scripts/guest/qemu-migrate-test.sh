#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: migration and snapshots of a nested guest on
# no-direct-map guest_memfd RAM. The guest fills 32 MiB with a pattern and
# keeps rewriting it, each page with a new generation, so that only a
# migration that carries its latest writes (KVM's dirty log of guest_memfd
# memory slots) leaves the pattern intact. It moves over a unix socket to
# a second QEMU, from there to a file and back into a third, which saves a
# snapshot on a qcow2 disk and loads it again; after each step the guest
# checks every page, and checks once against another seed, which must find
# none. What cannot work is refused with a message that says why: postcopy
# on a destination, zero-copy-send and direct-io, which pin guest pages.
#
# KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

GUEST_MIB=128 FILL_MIB=32
PAGES=$((FILL_MIB * 256))
PINS="the host kernel cannot pin memory outside its direct map"

# Every QEMU of this test runs on the test VM's last CPU. The emulator
# that runs the test VM now and then corrupts the state of a vCPU that
# another vCPU interrupts while it runs a KVM guest (README); a live
# migration does that thousands of times, as the migration thread's
# dirty-log passes kick the guest's vCPU thread off its CPU. Sharing
# one CPU, the vCPU thread is never in the guest when the migration
# thread runs, and KVM has no one to kick.
ON_ONE_CPU=(taskset -c $(($(nproc) - 1)))

work=$(mktemp -d)
declare -A pid_of
trap 'kill -9 "${pid_of[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# guests_output: what every nested QEMU and its guest printed, as KTAP
# diagnostics.
guests_output()
{
	local f

	for f in "$work"/*.err "$work"/*.log; do
		[ -s "$f" ] || continue
		echo "# --- ${f##*/}"
		tail -n 60 "$f" | ktap_note
	done
}
# The runner's time limit ends the test with SIGTERM: say where it stood.
trap 'echo "# out of time; the nested guests printed:"; guests_output; exit 124' TERM

# start NAME [QEMU-ARGS...]: a QEMU for the guest, its serial console in
# NAME.log, the guest's control line on NAME.in, QMP on NAME.qmp. Its RAM
# is out of the direct map unless ndm=off; backend_opts adds to it; with
# nodisk=1 it has no snapshot disk (whose image lock another QEMU holds).
start()
{
	local name=$1 disk=(-drive "file=$work/snap.qcow2,format=qcow2,if=none,id=snap")
	shift
	[ -z "${nodisk:-}" ] || disk=()

	mkfifo "$work/$name.in" "$work/$name.out"
	"${ON_ONE_CPU[@]}" "${NESTED_QEMU_CMD[@]}" -m ${GUEST_MIB}M \
		-object memory-backend-guest-memfd,id=ram0,size=${GUEST_MIB}M,no-direct-map=${ndm:-on}${backend_opts:-} \
		-machine q35,memory-backend=ram0,smm=off \
		"${disk[@]}" \
		-serial "file:$work/$name.log" -serial "pipe:$work/$name" \
		-qmp "unix:$work/$name.qmp,server=on,wait=off" \
		-append "$NESTED_APPEND fill.seed=$seed fill.mib=$FILL_MIB fill.churn=1" "$@" \
		< /dev/null > "$work/$name.err" 2>&1 &
	pid_of[$name]=$!
	for _ in $(seq 30); do
		[ -S "$work/$name.qmp" ] && return 0
		sleep 1
	done
	return 1
}

# migration_status NAME: waits until the migration of QEMU NAME (either
# side) ends, and prints how: completed, failed, or its state at timeout,
# and on the source how much RAM went in how many dirty-log passes.
migration_status()
{
	local status

	for _ in $(seq 240); do
		kill -0 "${pid_of[$1]}" 2>/dev/null || { status="QEMU exited"; break; }
		status=$(qmp "$work/$1.qmp" query-migrate | "$PYTHON" -c '
import json, sys
text = sys.stdin.read()
m = json.loads(text) if text.strip() else {"status": "no answer"}
ram = m.get("ram")
print(m.get("status", "none") + ("" if not ram else
      " (%d MiB sent, %d dirty-log syncs)" % (ram["transferred"] >> 20, ram["dirty-sync-count"])))')
		case $status in completed*|failed*|cancelled*) break ;; esac
		sleep 1
	done
	echo "$status"
}

# ask NAME LINE: sends LINE to the guest of QEMU NAME and prints the
# guest's reply ("... N of M pages intact"), or nothing after 2 minutes
# or once that QEMU has exited.
ask()
{
	local log=$work/$1.log before

	before=$(grep -c "pages intact" "$log")
	guest_tell "$work/$1.in" "$2"
	for _ in $(seq 120); do
		if [ "$(grep -c "pages intact" "$log")" -gt "$before" ]; then
			grep "pages intact" "$log" | tail -1 | tr -d '\r'
			return
		fi
		kill -0 "${pid_of[$1]}" 2>/dev/null || return
		sleep 1
	done
}

# vcpu_state NAME: QEMU NAME's run state and its vCPUs' registers, as KTAP
# diagnostics: a guest that stopped on a bad page walk shows it in CR3.
vcpu_state()
{
	kill -0 "${pid_of[$1]}" 2>/dev/null || return
	{
		qmp "$work/$1.qmp" query-status
		qmp "$work/$1.qmp" human-monitor-command \
			'{"command-line": "info registers -a"}' |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin))'
	} 2>&1 | ktap_note
}

# check_intact NAME WHEN: the guest of QEMU NAME finds every page intact.
# A guest that does not answer will not answer the later checks either:
# the test ends there, with what the nested guests printed.
check_intact()
{
	local reply

	reply=$(ask "$1" verify)
	echo "# $2: ${reply:-no reply}"
	if [ -z "$reply" ]; then
		guests_output
		vcpu_state "$1"
		ktap_exit_fail_msg "$2: the guest of QEMU $1 stopped answering"
	fi
	ktap_check "$2: the guest finds all $PAGES pages intact" \
		grep -q "verify: $PAGES of $PAGES pages intact" <<< "$reply"
}

# migrated WHAT STATUS: the migration ended as completed.
migrated()
{
	echo "# $1: $2"
	ktap_check "$1 completes" grep -q "^completed" <<< "$2"
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
ktap_set_plan 15
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
qemu-img create -q -f qcow2 "$work/snap.qcow2" 64M

start src || ktap_exit_fail_msg "QEMU did not start"
if ! wait_for_line "nested-guest: filled" "$work/src.log" 240 "${pid_of[src]}"; then
	ktap_note "$work/src.err" "$work/src.log"
	ktap_exit_fail_msg "the guest did not fill its RAM; its output above"
fi

# What pins guest pages is refused before anything moves.
refused "zero-copy-send" "$PINS" eval \
	"qmp $work/src.qmp migrate-set-capabilities '{\"capabilities\": [{\"capability\": \"multifd\", \"state\": true}, {\"capability\": \"zero-copy-send\", \"state\": true}]}' &&
	 qmp $work/src.qmp migrate '{\"uri\": \"unix:$work/unused.sock\"}'"
refused "direct-io" "$PINS" eval \
	"qmp $work/src.qmp migrate-set-capabilities '{\"capabilities\": [{\"capability\": \"zero-copy-send\", \"state\": false}, {\"capability\": \"mapped-ram\", \"state\": true}]}' &&
	 qmp $work/src.qmp migrate-set-parameters '{\"direct-io\": true}' &&
	 qmp $work/src.qmp migrate '{\"uri\": \"file:$work/unused.state\"}'"
# Had either gone through, cancel it and let the guest run on.
qmp "$work/src.qmp" migrate_cancel > /dev/null 2>&1
qmp "$work/src.qmp" cont > /dev/null 2>&1
qmp "$work/src.qmp" migrate-set-parameters '{"direct-io": false}' > /dev/null
qmp "$work/src.qmp" migrate-set-capabilities \
	'{"capabilities": [{"capability": "mapped-ram", "state": false}, {"capability": "multifd", "state": false}]}' > /dev/null

start dst -incoming defer || ktap_exit_fail_msg "the destination QEMU did not start"
# The destination is where userfaultfd would have to catch the guest's faults.
refused "postcopy on the destination" "userfaultfd cannot register guest_memfd memory" \
	qmp "$work/dst.qmp" migrate-set-capabilities \
	'{"capabilities": [{"capability": "postcopy-ram", "state": true}]}'

# Live, over a unix socket, while the guest rewrites its pages.
qmp "$work/dst.qmp" migrate-incoming "{\"uri\": \"unix:$work/migrate.sock\"}" > /dev/null
qmp "$work/src.qmp" migrate "{\"uri\": \"unix:$work/migrate.sock\"}" > /dev/null
migrated "live migration over a unix socket" "$(migration_status src)"
qmp "$work/src.qmp" quit > /dev/null 2>&1
check_intact dst "after live migration"
# gmem_kb KEY NAME: kB of that fdinfo line of QEMU NAME's guest_memfd. QEMU
# holds it open twice: the largest, not the sum.
gmem_kb()
{
	grep -h "^$1:" /proc/"${pid_of[$2]}"/fdinfo/* 2>/dev/null |
		awk '$2 > kb { kb = $2 } END { print kb + 0 }'
}
unmapped_kb=$(gmem_kb gmem-unmapped dst)
echo "# the destination's guest_memfd holds $unmapped_kb kB outside the direct map"
ktap_check "the destination's RAM is out of the direct map" \
	test "$unmapped_kb" -ge $((FILL_MIB * 1024))
# The control: the same reading of a QEMU whose RAM stays in the direct
# map, preallocated so that its guest_memfd holds all of it, finds none.
ndm=off backend_opts=,prealloc=on nodisk=1 start ctl -S || ktap_exit_fail_msg "the control QEMU did not start"
for _ in $(seq 60); do
	[ "$(gmem_kb gmem-resident ctl)" -ge $((GUEST_MIB * 1024)) ] && break
	sleep 1
done
resident_kb=$(gmem_kb gmem-resident ctl) unmapped_kb=$(gmem_kb gmem-unmapped ctl)
echo "# control, no-direct-map=off: $resident_kb kB resident, $unmapped_kb kB outside the direct map"
ktap_check "no-direct-map=off RAM, all resident, is not out of the direct map (the control)" \
	test "$resident_kb" -ge $((GUEST_MIB * 1024)) -a "$unmapped_kb" = 0
kill -9 "${pid_of[ctl]}" 2>/dev/null
wait "${pid_of[ctl]}" 2>/dev/null
unset "pid_of[ctl]"

# To a file and back, into a third QEMU.
qmp "$work/dst.qmp" migrate "{\"uri\": \"file:$work/guest.state\"}" > /dev/null
migrated "migration to a file" "$(migration_status dst)"
qmp "$work/dst.qmp" quit > /dev/null 2>&1
start restored -incoming defer || ktap_exit_fail_msg "the third QEMU did not start"
qmp "$work/restored.qmp" migrate-incoming "{\"uri\": \"file:$work/guest.state\"}" > /dev/null
migrated "restoring from the file" "$(migration_status restored)"
check_intact restored "after the round trip through a file"

# A snapshot in the qcow2 disk, then back to it after more rewriting.
hmp()
{
	qmp "$work/restored.qmp" human-monitor-command "{\"command-line\": \"$1\"}"
}
out=$(hmp "savevm snap1" 2>&1)
ktap_check "savevm succeeds${out:+ (it said $out)}" test "$out" = '""'
sleep 5
out=$(hmp "loadvm snap1" 2>&1)
ktap_check "loadvm succeeds${out:+ (it said $out)}" test "$out" = '""'
check_intact restored "after loadvm"

# The control: the same check with another seed finds no page.
reply=$(ask restored other)
echo "# control: ${reply:-no reply}"
ktap_check "the check with another seed finds no page (the control)" \
	grep -q "other seed: 0 of $PAGES pages intact" <<< "$reply"

guest_tell "$work/restored.in" go
rc=0
wait_exit "${pid_of[restored]}" 120 || rc=$?
unset "pid_of[restored]"
ktap_check "the guest ran on to the end (QEMU exited $rc)" \
	eval '[ $rc = 0 ] && grep -q "^nested-guest: done" "$work/restored.log"'
[ "$KTAP_CNT_FAIL" = 0 ] || guests_output
ktap_finished
