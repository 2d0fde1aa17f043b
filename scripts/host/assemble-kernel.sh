#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Assemble the kernel source tree in out/build/linux:
#   1. unpack pristine 7.2.13 once, as a git repository with one commit
#      (tag "pristine");
#   2. apply patches/linux/series with git am;
#   3. copy our overlay files on top.
# Each step touches only files whose contents change, so make and ccache
# rebuild only what an edit really affects.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

STAMP=$BUILD/linux-series.stamp
MANIFEST=$BUILD/linux-overlay.list

unpack_pristine()
{
	local deb

	git -C "$KSRC" rev-parse -q --verify pristine >/dev/null 2>&1 && return 0
	deb=$("$TOP/scripts/host/fetch.sh" linux)
	log "unpacking pristine Linux $LINUX_RELEASE into $KSRC"
	rm -rf "$KSRC" "$STAMP" "$MANIFEST"
	mkdir -p "$KSRC"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/$LINUX_PKG.tar.xz" |
		tar -xJ -C "$KSRC" --strip-components=1
	tree_commit_pristine "$KSRC" "Linux $LINUX_RELEASE (Debian $LINUX_PKG $LINUX_VER, pristine)"
}

copy_overlay()
{
	local d f new

	new=$(mktemp "$BUILD/overlay.XXXXXX")
	for d in $KERNEL_OVERLAY_DIRS; do
		[ -d "$TOP/$d" ] || continue
		(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "$d" 2>/dev/null ||
			find "$d" -type f)
	done | sort -u > "$new"
	while read -r f; do
		[ -f "$TOP/$f" ] || continue
		if git -C "$KSRC" cat-file -e "pristine:$f" 2>/dev/null; then
			die "$f is an upstream file: change it with a patch in patches/linux, not a copy"
		fi
	done < "$new"
	# Drop files that left the overlay since the last run.
	if [ -f "$MANIFEST" ]; then
		comm -23 "$MANIFEST" "$new" | while read -r f; do rm -f "$KSRC/$f"; done
	fi
	# -c: compare contents, so unchanged files keep their timestamps.
	(cd "$TOP" && rsync -c -r --files-from="$new" . "$KSRC/")
	mv "$new" "$MANIFEST"
}

mkdir -p "$BUILD"
unpack_pristine
tree_apply_series "$KSRC" "$TOP/patches/linux" "$STAMP"
copy_overlay
