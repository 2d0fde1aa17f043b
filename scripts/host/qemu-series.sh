#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# qemu-series.sh: `make qemu-series`. Export qemu-patches/series as a git
# format-patch series against pristine QEMU with the cover letter of
# qemu-patches/cover-letter.txt and a base-commit line, check every patch
# with QEMU's scripts/checkpatch.pl and build every prefix of the series
# (x86_64-softmmu, in the usual QEMU build directory). Writes
# out/build/qemu-series/. The same inputs always give the same patches.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

dir=$TOP/qemu-patches
out=$BUILD/qemu-series

"$TOP/scripts/host/build-qemu.sh"
# The cover letter carries the project's name.
export GIT_COMMITTER_NAME=unmapped-gmem GIT_COMMITTER_EMAIL=dev@unmapped-gmem.invalid
tip=$(git -C "$QSRC" rev-parse HEAD)

export_series "$QSRC" "$out" "$dir/cover-letter.txt"
n=$(find "$out" -name '0*.patch' ! -name '0000-*' | wc -l)
cover=$(ls "$out"/0000-*.patch)

log "QEMU checkpatch on every patch"
for p in "$out"/0*.patch; do
	[ "$p" = "$cover" ] && continue
	(cd "$QSRC" && scripts/checkpatch.pl -q "$p") || die "checkpatch: $(basename "$p") is not clean"
done

# Each prefix in the usual tree and build directory: ninja rebuilds only
# what the patches between two prefixes touch. The tip is restored last.
restore() { git -C "$QSRC" checkout -q -f --detach "$tip"; }
trap restore EXIT
i=0
for rev in $(git -C "$QSRC" rev-list --reverse pristine.."$tip"); do
	i=$((i + 1))
	git -C "$QSRC" checkout -q -f --detach "$rev"
	log "building prefix $i/$n: $(git -C "$QSRC" log -1 --format=%s "$rev")"
	ninja -C "$QOUT" qemu-system-x86_64 > "$QOUT/ninja-series.log" 2>&1 ||
		{ tail -30 "$QOUT/ninja-series.log" >&2; die "prefix $i/$n does not build"; }
done
restore
log "qemu-series: $out ($n patches, checkpatch clean, every prefix builds)"
