#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qmp.py SOCKET COMMAND [JSON-ARGUMENTS]

Send one QMP command to the QEMU listening on SOCKET, through QEMU's own
Python QMP library (from the QEMU source tree, QEMU_PYTHON), and print
what it returns as JSON. A QMP error goes to stderr, exit status 1.
"""
import json
import os
import sys

sys.path.insert(0, os.environ["QEMU_PYTHON"])
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[0])
    args = json.loads(sys.argv[3]) if len(sys.argv) == 4 else None
    qmp = QEMUMonitorProtocol(sys.argv[1])
    qmp.connect()
    try:
        resp = qmp.cmd_raw(sys.argv[2], args)
    finally:
        qmp.close()
    if "error" in resp:
        print(resp["error"]["desc"], file=sys.stderr)
        sys.exit(1)
    print(json.dumps(resp["return"]))


if __name__ == "__main__":
    main()
