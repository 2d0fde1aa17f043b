#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-selftests.sh [FLAVOUR]: build the KVM selftests named in
# scripts/kvm-selftests.list, statically, against the uAPI headers of the
# kernel built for FLAVOUR (default test).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-test}
kout=$KOUT_BASE-$flavour
out=$BUILD/selftests-$flavour
hdrs=$kout/usr/include
[ -d "$hdrs/linux" ] || die "no installed headers in $hdrs: build the $flavour kernel first"

targets=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/scripts/kvm-selftests.list" |
	  awk -v o="$out" '{ print o "/" $1 }' | sort -u)
mkdir -p "$out"
log "building KVM selftests ($out)"
# shellcheck disable=SC2086
make -C "$KSRC/tools/testing/selftests/kvm" -j"$(nproc)" -s \
	CC="ccache gcc" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdrs" EXTRA_CFLAGS=-static $targets
