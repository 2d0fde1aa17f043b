#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# series.sh: `make series`. Export our kernel work as one git format-patch
# series against pristine Linux: patches/linux/series in order, each of our
# whole files folded into the patch that first builds it
# (patches/linux/overlay-files), with the cover letter of
# patches/linux/cover-letter.txt and a base-commit line. Then check it:
# scripts/checkpatch.pl --strict on every patch and a build of every
# prefix of the series with the test config. Writes out/build/series/.
# The same inputs always give byte-identical patches.
#
# SERIES_BUILD=last builds only the whole series (a quick look), =none
# skips the builds.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

builds=${SERIES_BUILD:-all}
dir=$TOP/patches/linux
tree=$BUILD/series/linux
out=$BUILD/series/patches
kout=$KOUT_BASE-series

"$TOP/scripts/host/assemble-kernel.sh"
# The series' commits, and so its cover letter, carry the project's name.
export GIT_COMMITTER_NAME=unmapped-gmem GIT_COMMITTER_EMAIL=dev@unmapped-gmem.invalid

# Every overlay file must say which patch it joins.
# shellcheck disable=SC2086
overlay=$(cd "$TOP" && git ls-files $KERNEL_OVERLAY_DIRS | grep -v '/\.')
for f in $overlay; do
	awk -v f="$f" '!/^#/ { for (i = 2; i <= NF; i++) if ($i == f) found = 1 } END { exit !found }' \
		"$dir/overlay-files" || die "$f is in no patch: add it to patches/linux/overlay-files"
done

# A worktree of the assembled tree's repository, back at pristine.
if [ ! -e "$tree/.git" ]; then
	log "checking out a worktree for the series ($tree)"
	mkdir -p "$BUILD/series"
	git -C "$KSRC" worktree add -q --detach "$tree" pristine
fi
git -C "$tree" checkout -q -f --detach pristine
git -C "$tree" clean -q -fdx

log "applying the series and folding in our files"
while read -r p; do
	git -C "$tree" am -q --whitespace=nowarn "$dir/$p" || die "$p does not apply"
	files=$(awk -v n="${p%%-*}" '$1 == n { for (i = 2; i <= NF; i++) print $i }' "$dir/overlay-files")
	[ -n "$files" ] || continue
	for f in $files; do
		mkdir -p "$tree/$(dirname "$f")"
		cp "$TOP/$f" "$tree/$f"
	done
	# shellcheck disable=SC2086
	git -C "$tree" add -f $files
	git -C "$tree" commit -q --amend --no-edit
done < <(list_entries "$dir/series")

export_series "$tree" "$out" "$dir/cover-letter.txt"
n=$(find "$out" -name '0*.patch' ! -name '0000-*' | wc -l)
cover=$(ls "$out"/0000-*.patch)

# checkpatch's SPDX check needs python3-ply and python3-git.
install_missing python3-ply python3-git
log "checkpatch --strict on every patch"
bad=0
for p in "$out"/0*.patch; do
	[ "$p" = "$cover" ] && continue
	num=$(basename "$p" | cut -c1-4)
	ignore=$(awk -v n="$num" '!/^#/ && ($1 == n || $1 == "*") { print $2 }' \
		 "$dir/checkpatch-exceptions" | paste -sd,)
	# Debian's python3, which has ply, for the SPDX check.
	if ! (cd "$tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict -q \
		${ignore:+--ignore "$ignore"} "$p"); then
		echo "checkpatch: $(basename "$p") is not clean" >&2
		bad=1
	fi
done
[ $bad = 0 ] || die "checkpatch found problems (above)"

prefix_build()
{
	local i=$1 rev=$2

	git -C "$tree" checkout -q -f --detach "$rev"
	mkdir -p "$kout"
	# The test config, minus what this prefix does not know yet.
	cp "$KOUT_BASE-test/.config" "$kout/.config"
	make -C "$tree" O="$kout" -s olddefconfig >/dev/null
	log "building prefix $i/$n: $(git -C "$tree" log -1 --format=%s "$rev")"
	make -C "$tree" O="$kout" -j"$(nproc)" -s CC="ccache gcc" HOSTCC="ccache gcc" \
		"${KBUILD_REPRO[@]}" bzImage ||
		die "prefix $i/$n does not build: $(git -C "$tree" log -1 --format=%s "$rev")"
}

[ -f "$KOUT_BASE-test/.config" ] || die "build the test kernel first (make kernel)"
case $builds in
none) ;;
last) prefix_build "$n" HEAD ;;
*)
	i=0
	for rev in $(git -C "$tree" rev-list --reverse pristine..HEAD); do
		i=$((i + 1))
		prefix_build $i "$rev"
	done ;;
esac
log "series: $out ($n patches, checkpatch clean, builds: $builds)"
