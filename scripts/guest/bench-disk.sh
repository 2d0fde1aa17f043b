#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-disk.sh OUTDIR SECONDS REPS: inside the benchmark VM, a nested
# guest on memory-backend-guest-memfd measures its virtio-blk disks
# (guest-io, O_DIRECT in the guest: sequential 1 MiB and random 4 KiB
# reads and writes, SECONDS each), one disk for each cache and aio mode,
# the images on ext4 on a loop device. no-direct-map=on and =off take
# turns, REPS guests each. Every result is a line of OUTDIR/disk.csv.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

out=$1 seconds=$2 reps=$3
IMAGE_MIB=64

work=$(mktemp -d)
trap 'ext4_on_loop_cleanup "$work"; rm -rf "$work"' EXIT
nested_qemu_ready || die "cannot run a nested guest"
ext4_on_loop "$work" $((IMAGE_MIB * 6)) || die "cannot put ext4 on a loop device"
args=()
i=0
for mode in $DISK_MODES; do
	img=$work/ext4/${mode/:/-}.raw
	# Written data: O_DIRECT reads of unwritten extents would not reach the disk.
	dd if=/dev/urandom of="$img" bs=1M count=$IMAGE_MIB status=none
	# shellcheck disable=SC2207
	args+=($(disk_args "$mode" "$img" disk$i))
	i=$((i + 1))
done

echo "no_direct_map,cache,aio,pattern,block_kib,mib_per_s,requests,rep" > "$out/disk.csv"
for rep in $(seq "$reps"); do
	for ndm in on off; do
		log=$work/serial.log
		timeout 900 "${NESTED_QEMU_CMD[@]}" -m 256M \
			-object memory-backend-guest-memfd,id=ram0,size=256M,no-direct-map=$ndm \
			-machine q35,memory-backend=ram0,smm=off "${args[@]}" \
			-serial "file:$log" -append "$NESTED_APPEND disk.bench=$seconds" < /dev/null ||
			die "the nested guest failed (no-direct-map=$ndm)"
		# nested-guest: disk none-native guest-io: /dev/vdb randread 4 KiB: 12.3 MiB/s (3149 requests)
		tr -d '\r' < "$log" | sed -n 's/^nested-guest: disk \([a-z]*\)-\([a-z_]*\) guest-io: [^ ]* \([a-z]*\) \([0-9]*\) KiB: \([0-9.]*\) MiB\/s (\([0-9]*\) requests)/\1,\2,\3,\4,\5,\6/p' |
			sed "s/^/$ndm,/; s/\$/,$rep/" >> "$out/disk.csv"
		grep -q "^nested-guest: done" "$log" || die "the nested guest did not finish: $(tail -5 "$log")"
	done
done
