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
. "$(dirname "$0")/lib.sh"

SERIES_DIR=$TOP/patches/linux
STAMP=$BUILD/linux-series.stamp
MANIFEST=$BUILD/linux-overlay.list

unpack_pristine()
{
	local deb

	git -C "$KSRC" rev-parse -q --verify pristine >/dev/null 2>&1 && return 0
	deb=$("$TOP/scripts/fetch.sh" linux)
	log "unpacking pristine Linux 7.2.13 into $KSRC"
	rm -rf "$KSRC" "$STAMP" "$MANIFEST"
	mkdir -p "$KSRC"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-7.2.tar.xz |
		tar -xJ -C "$KSRC" --strip-components=1
	git -C "$KSRC" init -q -b pristine-7.2.13
	git -C "$KSRC" config gc.auto 0
	git -C "$KSRC" add -A -f .
	git -C "$KSRC" commit -q -m "Linux 7.2.13 (Debian $LINUX_PKG $LINUX_VER, pristine)"
	git -C "$KSRC" tag pristine
}

series_patches()
{
	[ -f "$SERIES_DIR/series" ] || return 0
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SERIES_DIR/series" |
		while read -r p; do
			[ -f "$SERIES_DIR/$p" ] || die "patches/linux/series names missing $p"
			echo "$SERIES_DIR/$p"
		done
}

# git am runs in a sparse worktree holding only the files the series
# touches; the main tree then moves to the result, rewriting only files
# whose contents differ.
apply_series()
{
	local patches stamp wt files head

	patches=$(series_patches)
	# shellcheck disable=SC2086
	stamp=$(files_stamp "$SERIES_DIR/series" $patches)
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ] && return 0
	rm -f "$STAMP"

	head=$(git -C "$KSRC" rev-parse pristine)
	if [ -n "$patches" ]; then
		wt=$BUILD/linux-am
		git -C "$KSRC" worktree remove -f "$wt" 2>/dev/null || rm -rf "$wt"
		git -C "$KSRC" worktree prune
		git -C "$KSRC" worktree add -q --no-checkout --detach "$wt" pristine
		# shellcheck disable=SC2086
		files=$(sed -n -e 's|^--- a/||p' -e 's|^+++ b/||p' $patches | sort -u)
		# shellcheck disable=SC2086
		git -C "$wt" sparse-checkout set --no-cone $files
		for p in $patches; do
			log "applying ${p#"$TOP"/}"
			git -C "$wt" am -q --whitespace=nowarn "$p" ||
				{
					git -C "$wt" am --abort || true
					die "patch ${p#"$TOP"/} does not apply to Linux 7.2.13 (plus the patches before it)"
				}
		done
		head=$(git -C "$wt" rev-parse HEAD)
		git -C "$KSRC" worktree remove -f "$wt"
	fi
	git -C "$KSRC" checkout -q -f --detach "$head"
	echo "$stamp" > "$STAMP"
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
apply_series
copy_overlay
