#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kselftest-tarball.sh: `make kselftest-tarball`. Package the KVM selftests
# scripts/tests.list gives the hw flavour (ours, the upstream ones `make
# check` runs and upstream's SEV tests), statically linked, with the
# kselftest runner (run_kselftest.sh), so that a host with SEV-SNP or TDX
# hardware running our kernel can run the cases TCG cannot. Writes
# out/build/unmapped-gmem-kselftest.tar.gz.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

sel=$BUILD/selftests-test
name=unmapped-gmem-kselftest
stage=$BUILD/kselftest/$name
tarball=$BUILD/$name.tar.gz

tests=$(tests_selftests hw)
log "building the selftests for hardware hosts"
# shellcheck disable=SC2046
make -C "$KSRC/tools/testing/selftests/kvm" -j"$(nproc)" -s CC="ccache gcc" OUTPUT="$sel" \
	KHDR_INCLUDES="-isystem $KOUT_BASE-test/usr/include" EXTRA_CFLAGS=-static \
	$(for t in $tests; do printf '%s/%s ' "$sel" "$t"; done)

rm -rf "$stage"
mkdir -p "$stage/kvm" "$stage/kselftest"
cp "$KSRC/tools/testing/selftests/run_kselftest.sh" "$stage/"
cp "$KSRC"/tools/testing/selftests/kselftest/{runner.sh,prefix.pl,module.sh,ktap_helpers.sh,ksft.py} \
	"$stage/kselftest/"
# The runner runs each test by its base name from the collection's
# directory, so the binaries sit side by side in kvm/.
for t in $tests; do
	[ -x "$sel/$t" ] || die "missing $sel/$t: run 'make selftests' first"
	install -m 0755 "$sel/$t" "$stage/kvm/"
	echo "kvm:${t##*/}"
done > "$stage/kselftest-list.txt"
# The longest timeout the registry gives (TCG); real hardware needs less.
echo "timeout=$(tests_select hw | awk '$3 > m { m = $3 } END { print m }')" > "$stage/kvm/settings"

cat > "$stage/README" <<EOF
unmapped-gmem KVM selftests for $(git -C "$TOP" describe --always --dirty 2>/dev/null)

On a host running the unmapped-gmem kernel (make deb), as root, with
debugfs mounted at /sys/kernel/debug:

    ./run_kselftest.sh -c kvm 2>&1 | tee results.tap

A single test: ./run_kselftest.sh -t kvm:guest_memfd_no_direct_map_test
(-l lists them). guest_memfd_no_direct_map_test has SEV, SEV-ES, SNP and
TDX variants that run where the host offers that VM type and skip
elsewhere; the sev_* tests are upstream's and exercise the launch and
teardown paths the SEV patches change.

Send back: results.tap, the output of 'dmesg', 'uname -a', the CPU model
(grep -m1 'model name' /proc/cpuinfo) and which of SEV, SEV-SNP and TDX
the host has enabled (dmesg | grep -i -e sev -e tdx).
EOF

tar --sort=name --mtime="2026-01-01 00:00:00Z" --owner=0 --group=0 --numeric-owner \
	-C "$BUILD/kselftest" -cf - "$name" | gzip -n > "$tarball"
log "wrote $tarball ($(wc -l < "$stage/kselftest-list.txt") tests)"
