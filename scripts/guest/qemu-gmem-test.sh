#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: our QEMU boots a nested guest whose RAM is a
# memory-backend-guest-memfd, once with no-direct-map=on and once, as the
# control, with no-direct-map=off. The guest fills most of its RAM with a
# pattern and holds it; meanwhile this script checks, from the host side,
# that the pool holds the guest's RAM, that the kernel cannot read it
# through QEMU's mapping (/proc/PID/mem) and that a scan of all host RAM
# through the direct map (/proc/kcore) does not find the pattern, while
# the control finds it, and that KVM maps the guest's RAM 2 MiB at a time
# on huge guest_memfd folios (QMP query-stats: pages_2m), which the
# control's 4 KiB folios never are. Then it tries each configuration QEMU
# must refuse.
#
# KTAP on stdout.
#
# qemu-gmem-test.sh [on|off]: only that run (make run).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

scan=$BUILD/demo/kcore-scan
GUEST_MIB=256 FILL_MIB=160
# KTAP results: a run with the pattern held (on: 6, off: 5), each
# refusal and acceptance below (10).
RESULTS_ON=6 RESULTS_OFF=5 RESULTS_CONFIGS=11

work=$(mktemp -d)
qpid=
trap '[ -n "$qpid" ] && kill -9 $qpid 2>/dev/null; rm -rf "$work"' EXIT

ok()
{
	ktap_test_pass "$*"
}

not_ok()
{
	ktap_test_fail "$*"
}

# guest_run on|off: boot, check while the guest holds its pattern, release.
guest_run()
{
	local ndm=$1 log=$work/serial-$1.log ctl=$work/ctl-$1 seed pool0 pool1
	local addr matches rc unmapped want want_pages=$((FILL_MIB * 256)) pages_2m

	seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
	mkfifo "$ctl.in" "$ctl.out"
	pool0=$(vmstat nr_unmapped_pool)
	"${NESTED_QEMU_CMD[@]}" -m ${GUEST_MIB}M \
		-object memory-backend-guest-memfd,id=ram0,size=${GUEST_MIB}M,no-direct-map=$ndm \
		-machine q35,memory-backend=ram0,smm=off \
		-serial "file:$log" -serial "pipe:$ctl" \
		-qmp "unix:$work/qmp-$ndm,server=on,wait=off" \
		-append "$NESTED_APPEND fill.seed=$seed fill.mib=$FILL_MIB" \
		< /dev/null > "$work/qemu-$ndm.err" 2>&1 &
	qpid=$!
	if ! wait_for_line "nested-guest: filled" "$log" 240 "$qpid"; then
		ktap_note "$work/qemu-$ndm.err" "$log"
		not_ok "no-direct-map=$ndm: the guest did not fill its RAM; its output above"
		kill -9 "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
		qpid=
		return
	fi
	sed -n 's/^nested-guest: /# guest: /p' "$log"
	pool1=$(vmstat nr_unmapped_pool)
	echo "# pool: nr_unmapped_pool $pool0 -> $pool1 pages," \
	     "nr_unmapped_free $(vmstat nr_unmapped_free), unmapped_alloc $(vmstat unmapped_alloc)"

	# QEMU's own mapping of guest RAM, through the kernel (GUP).
	addr=$(awk '/kvm-gmem/ { split($1, r, "-"); print r[1]; exit }' /proc/$qpid/maps)
	if [ -z "$addr" ]; then
		not_ok "no-direct-map=$ndm: no guest_memfd mapping in QEMU"
	elif dd if=/proc/$qpid/mem of=/dev/null bs=4096 count=1 \
		iflag=skip_bytes skip=$((16#$addr)) 2>/dev/null; then
		[ "$ndm" = off ] && ok "no-direct-map=off: the kernel reads guest RAM through QEMU's mapping" ||
			not_ok "no-direct-map=on: the kernel read guest RAM through QEMU's mapping"
	else
		[ "$ndm" = on ] && ok "no-direct-map=on: the kernel cannot read guest RAM through QEMU's mapping" ||
			not_ok "no-direct-map=off: /proc/PID/mem of guest RAM failed"
	fi

	# The operator's view: the tool finds QEMU's guest RAM per VM.
	"$PYTHON" "$TOP/tools/mm/unmapped_stat.py" > "$work/stat" 2>&1
	ktap_note "$work/stat"
	# The UNMAPPED column: "N.N MiB", then the 2 MiB folio and fallback counts.
	unmapped=$(awk -v p="$qpid" '$1 == p { print int($(NF - 3)) }' "$work/stat")
	# on: at least the pattern the guest wrote; off (the control): none.
	if [ "$ndm" = on ]; then
		want="-ge $FILL_MIB"
	else
		want="-eq 0"
	fi
	# shellcheck disable=SC2086
	if [ -n "$unmapped" ] && [ "$unmapped" $want ]; then
		ok "no-direct-map=$ndm: unmapped_stat.py shows ${unmapped} MiB of QEMU's RAM unmapped"
	else
		not_ok "no-direct-map=$ndm: unmapped_stat.py shows '${unmapped}' MiB unmapped for QEMU"
	fi

	"$scan" "$seed" > "$work/scan"
	ktap_note "$work/scan"
	matches=$(awk '{ print $2 }' "$work/scan")
	if [ "$ndm" = on ]; then
		[ $((pool1 - pool0)) -ge "$want_pages" ] &&
			ok "no-direct-map=on: the pool holds the guest's RAM" ||
			not_ok "no-direct-map=on: the pool grew by $((pool1 - pool0)) pages, want >= $want_pages"
		[ "$matches" = 0 ] &&
			ok "no-direct-map=on: no page of the guest's pattern in host RAM through the direct map" ||
			not_ok "no-direct-map=on: $matches pages of the guest's pattern readable through the direct map"
	else
		[ "${matches:-0}" -ge $((want_pages * 9 / 10)) ] &&
			ok "no-direct-map=off: $matches of $want_pages pattern pages found (the control)" ||
			not_ok "no-direct-map=off: only ${matches:-0} of $want_pages pattern pages found: the scan is blind"
	fi

	# KVM's view: the pattern's pages lie in at least FILL_MIB / 2 of the
	# guest's 2 MiB ranges; on huge folios each is one 2 MiB mapping.
	pages_2m=$(qmp "$work/qmp-$ndm" query-stats '{"target": "vm"}' | "$PYTHON" -c '
import json, sys
print(sum(s["value"] for p in json.load(sys.stdin) for s in p["stats"]
          if s["name"] == "pages_2m"))')
	if [ "$ndm" = on ]; then
		[ "${pages_2m:-0}" -ge $((FILL_MIB / 2)) ] &&
			ok "no-direct-map=on: KVM maps the guest's RAM with $pages_2m 2 MiB entries" ||
			not_ok "no-direct-map=on: KVM has '$pages_2m' 2 MiB mappings, want >= $((FILL_MIB / 2))"
	else
		[ "$pages_2m" = 0 ] &&
			ok "no-direct-map=off: KVM maps 4 KiB pages only (the control)" ||
			not_ok "no-direct-map=off: KVM has '$pages_2m' 2 MiB mappings of 4 KiB folios"
	fi

	guest_tell "$ctl.in" go
	rc=0
	wait_exit "$qpid" 120 || rc=$?
	qpid=
	if [ $rc = 0 ] && grep -q "^nested-guest: done" "$log"; then
		ok "no-direct-map=$ndm: the guest ran to completion"
	else
		ktap_note "$work/qemu-$ndm.err" "$log"
		not_ok "no-direct-map=$ndm: QEMU exited with $rc; its output above"
	fi
}

# refused DESCRIPTION EXPECTED-MESSAGE QEMU-ARGS...: QEMU must fail at once.
refused()
{
	local what=$1 want=$2 rc=0
	shift 2

	timeout 60 "$NESTED_QEMU" -nodefaults -display none -S -L /usr/share/seabios \
		-L /usr/share/qemu "$@" < /dev/null > "$work/refused.log" 2>&1 || rc=$?
	if [ $rc != 0 ] && [ $rc != 124 ] && grep -q -- "$want" "$work/refused.log"; then
		ok "refused: $what: $(grep -m1 -- "$want" "$work/refused.log")"
	else
		ktap_note "$work/refused.log"
		not_ok "$what: want an error with '$want', QEMU exited $rc; its output above"
	fi
}

# accepted DESCRIPTION QEMU-ARGS...: QEMU must set up the machine (-S) and
# answer the monitor's quit.
accepted()
{
	local what=$1 rc=0
	shift

	echo quit | timeout 60 "$NESTED_QEMU" -nodefaults -display none -S \
		-L /usr/share/seabios -L /usr/share/qemu -monitor stdio "$@" \
		> "$work/accepted.log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		ok "accepted: $what"
	else
		ktap_note "$work/accepted.log"
		not_ok "$what: QEMU exited $rc; its output above"
	fi
}

backend="memory-backend-guest-memfd,id=ram0,size=64M"
ktap_print_header
nested_qemu_ready && [ -x "$scan" ] || ktap_exit_fail_msg "cannot run the nested guest or $scan"
case ${1:-} in
on)
	ktap_set_plan $RESULTS_ON
	guest_run on
	ktap_finished
	;;
off)
	ktap_set_plan $RESULTS_OFF
	guest_run off
	ktap_finished
	;;
esac

ktap_set_plan $((RESULTS_ON + RESULTS_OFF + RESULTS_CONFIGS))
guest_run on
guest_run off
refused "a non-KVM accelerator" "needs the KVM accelerator" \
	-accel qtest -object "$backend" -machine q35,memory-backend=ram0
refused "SMM (its SMRAM address space maps RAM twice)" "smm=off" \
	-accel kvm -object "$backend" -machine q35,memory-backend=ram0,smm=on
refused "share=off" "share=off is not supported" \
	-accel kvm -object "$backend,share=off" -machine q35,memory-backend=ram0,smm=off
refused "hugetlb (not a guest_memfd property)" "hugetlb" \
	-accel kvm -object "$backend,hugetlb=on" -machine q35,memory-backend=ram0,smm=off
refused "seal (not a guest_memfd property)" "seal" \
	-accel kvm -object "$backend,seal=on" -machine q35,memory-backend=ram0,smm=off
refused "vhost-kernel created before the RAM (tap, vhost=on)" "cannot be used with vhost-kernel" \
	-accel kvm -netdev tap,id=n0,ifname=ugtap0,script=no,downscript=no,vhost=on \
	-object "$backend,no-direct-map=on" -machine q35,memory-backend=ram0,smm=off
refused "vhost-kernel created after the RAM (vhost-vsock)" "vhost-kernel cannot use guest RAM" \
	-accel kvm -object "$backend,no-direct-map=on" -machine q35,memory-backend=ram0,smm=off \
	-device vhost-vsock-pci,guest-cid=3
# Controls: the same vhost devices start next to RAM in the direct map, so
# the refusals above are about no-direct-map, not a broken vhost setup.
accepted "vhost-kernel (tap and vsock) next to no-direct-map=off RAM" \
	-accel kvm -netdev tap,id=n0,ifname=ugtap0,script=no,downscript=no,vhost=on \
	-object "$backend,no-direct-map=off" -machine q35,memory-backend=ram0,smm=off \
	-device vhost-vsock-pci,guest-cid=3
# No SNP or TDX here: only that the options exist and reach the guest's
# setup, which then fails for want of the hardware.
refused "no-direct-map/no-zero/huge-pages on sev-snp-guest without SNP hardware" \
	"SEV-SNP not supported by KVM" \
	-accel kvm -object sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,no-direct-map=on,no-zero=on,huge-pages=on \
	-machine q35,confidential-guest-support=sev0,smm=off
refused "a bad no-zero value on tdx-guest" "'no-zero' expects" \
	-accel kvm -object tdx-guest,id=tdx0,no-zero=maybe -machine q35,confidential-guest-support=tdx0
refused "a bad huge-pages value on tdx-guest" "'huge-pages' does not accept value 'maybe'" \
	-accel kvm -object tdx-guest,id=tdx0,huge-pages=maybe -machine q35,confidential-guest-support=tdx0

ktap_finished
