#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM: a nested guest on memory-backend-guest-memfd
# reads and writes virtio-blk disks, one for each cache and aio mode, as a
# host operator would attach them. The image files sit on ext4 on a loop
# device, so cache=none's O_DIRECT really pins the guest's pages (tmpfs
# would copy through QEMU's mapping instead and prove nothing). Each disk
# starts with 1 MiB of random data and 1 MiB of zeroes; the guest prints
# the md5sum of the first half and copies it over the second. One more
# disk is a vhost-user-blk export of qemu-storage-daemon (Debian's), which
# maps guest RAM itself from the guest_memfd QEMU passes it. Run with
# no-direct-map=on, and with no-direct-map=off as the control; QEMU's
# trace shows that only the first bounced its O_DIRECT requests.
#
# KTAP on stdout.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KTAP_HELPERS"

MODES=$DISK_MODES
# qemu-storage-daemon's vhost-user-blk export; its serial is fixed.
VHOST_USER=vhost_user_blk
HALF_BLOCKS=16	# 64 KiB blocks: 1 MiB
NR_DISKS=$(($(wc -w <<< "$MODES") + 1))

work=$(mktemp -d)
mnt=$work/ext4
qsd=

cleanup()
{
	[ -n "$qsd" ] && kill "$qsd" 2>/dev/null && wait "$qsd"
	ext4_on_loop_cleanup "$work"
	rm -rf "$work"
}
trap cleanup EXIT

# make_image PATH: random data, then as many zeroes.
make_image()
{
	head -c $((HALF_BLOCKS * 64 * 1024)) /dev/urandom > "$1"
	truncate -s $((2 * HALF_BLOCKS * 64 * 1024)) "$1"
}

# The disk of a mode (cache:aio, or VHOST_USER) and how the guest names it.
image()
{
	echo "$mnt/$1-${2/:/-}.raw"
}

serial()
{
	echo "${1/:/-}"
}

describe()
{
	case $1 in
	"$VHOST_USER") echo "vhost-user-blk (qemu-storage-daemon)" ;;
	*) echo "cache=${1%:*} aio=${1#*:}" ;;
	esac
}

# disk_run on|off: one guest with a disk for each mode.
disk_run()
{
	local ndm=$1 log=$work/serial-$1.log trace=$work/trace-$1.log pieces
	local args=() i=0 mode img want got bounced rc=0

	for mode in $MODES; do
		img=$(image "$ndm" "$mode")
		make_image "$img"
		# shellcheck disable=SC2207
		args+=($(disk_args "$mode" "$img" disk$i))
		i=$((i + 1))
	done
	# The daemon does buffered I/O: it cannot tell which of its mappings
	# O_DIRECT could not pin.
	img=$(image "$ndm" "$VHOST_USER")
	make_image "$img"
	rm -f "$work/vhost-user.sock"
	qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$img,cache.direct=off" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export "type=vhost-user-blk,id=export0,node-name=disk0,writable=on,addr.type=unix,addr.path=$work/vhost-user.sock" \
		> "$work/qsd-$ndm.log" 2>&1 &
	qsd=$!
	for _ in $(seq 30); do
		[ -S "$work/vhost-user.sock" ] && break
		sleep 1
	done
	args+=(-chardev "socket,id=vhost-user,path=$work/vhost-user.sock"
	       -device vhost-user-blk-pci,chardev=vhost-user)

	timeout 300 "${NESTED_QEMU_CMD[@]}" -m 128M \
		-object memory-backend-guest-memfd,id=ram0,size=128M,no-direct-map="$ndm" \
		-machine q35,memory-backend=ram0,smm=off "${args[@]}" \
		-trace file_bounce_unpinnable -trace luring_co_submit_bounced \
		-D "$trace" -serial "file:$log" \
		-append "$NESTED_APPEND disk.copy=$HALF_BLOCKS" \
		< /dev/null > "$work/qemu-$ndm.err" 2>&1 || rc=$?
	kill "$qsd" 2>/dev/null
	wait "$qsd"
	qsd=
	if [ $rc != 0 ] || ! grep -q '^nested-guest: done' "$log"; then
		ktap_note "$work/qemu-$ndm.err" "$work/qsd-$ndm.log" "$log"
		ktap_test_fail "no-direct-map=$ndm: the guest did not finish (QEMU exited $rc); its output above"
	else
		ktap_test_pass "no-direct-map=$ndm: the guest ran with $NR_DISKS disks"
	fi
	sed -n 's/^nested-guest: /# guest: /p' "$log"

	for mode in $MODES $VHOST_USER; do
		img=$(image "$ndm" "$mode")
		want=$(head -c $((HALF_BLOCKS * 64 * 1024)) "$img" | md5sum | cut -d' ' -f1)
		got=$(tr -d '\r' < "$log" | sed -n "s/^nested-guest: disk $(serial "$mode") md5 //p")
		ktap_check "no-direct-map=$ndm $(describe "$mode"): the guest read the disk's data" \
			test "$got" = "$want"
		ktap_check "no-direct-map=$ndm $(describe "$mode"): the guest's write reached the disk" \
			cmp -s -n $((HALF_BLOCKS * 64 * 1024)) "$img" <(tail -c +$((HALF_BLOCKS * 64 * 1024 + 1)) "$img")
	done

	# cache=none requests into no-direct-map RAM are bounced, and only those.
	bounced=$(grep -c file_bounce_unpinnable "$trace" 2>/dev/null)
	if [ "$ndm" = on ]; then
		ktap_check "no-direct-map=on: QEMU bounced the O_DIRECT requests (${bounced:-0})" \
			test "${bounced:-0}" -gt 0
		# The guest's 1 MiB requests went through several buffers at once.
		pieces=$(grep -c 'luring_co_submit_bounced.* nbytes 262144 ' "$trace")
		ktap_check "no-direct-map=on: io_uring cut large requests into 256 KiB pieces ($pieces)" \
			test "$pieces" -gt 0
	else
		ktap_check "no-direct-map=off: QEMU bounced nothing (${bounced:-0})" \
			test "${bounced:-0}" = 0
	fi
}

ktap_print_header
nested_qemu_ready || ktap_exit_fail_msg "cannot run a nested guest"
ext4_on_loop "$work" 64 || ktap_exit_fail_msg "cannot put ext4 on a loop device (CONFIG_BLK_DEV_LOOP, CONFIG_EXT4_FS)"
command -v qemu-storage-daemon > /dev/null || ktap_exit_fail_msg "no qemu-storage-daemon (Debian's qemu-utils)"
# per run: finished, data read and written per disk, bounces; on: pieces
ktap_set_plan $((2 * (2 + 2 * NR_DISKS) + 1))
disk_run on
disk_run off
ktap_finished
