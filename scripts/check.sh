#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [NAME...]: boot the test kernel once, run every test in it (or
# only the NAMEs given) and report. Everything the run produced stays in
# out/results/check: each test's log, the guest's dmesg, the console.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

res=$RESULTS/check
rm -rf "$res"
mkdir -p "$res"
log "booting the test kernel under TCG and running the tests (logs: $res)"
start=$(date +%s)
VM_APPEND="secretmem.enable=1" "$TOP/scripts/vm.sh" -t "${VM_TIMEOUT:-2400}" -w "$res" -c "$res/console.log" -- \
	"$TOP/scripts/vm-tests.sh" "$res" "$BUILD/selftests-test" "$@"
rc=$?
log "test VM finished in $(( $(date +%s) - start )) s with status $rc"
if [ $rc != 0 ]; then
	echo "the test VM exited with status $rc (124: timed out)" > "$res/vm-session.log"
	echo "$rc 0" > "$res/vm-session.rc"
fi
exec "$PYTHON" "$TOP/scripts/report.py" "$res" "$KSRC" \
	--kunit-suites "$TOP/scripts/kunit-suites.list"
