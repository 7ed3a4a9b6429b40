"""Run in a subprocess by test_crash.py: back up or restore, dying at a chosen point.

argv: mode (backup|restore), home, step to die at (or "none"), extra (folder or file),
and optionally a file-size limit in bytes (RLIMIT_FSIZE, SIGXFSZ ignored).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from pathlib import Path

from client.app import build_services
from client.backup import common, service
from client.errors import SocialFeeError

mode, home, die_at, extra = sys.argv[1:5]
limit = int(sys.argv[5]) if len(sys.argv) > 5 else 0


def reached(step: str) -> None:
    if step == die_at:
        os.kill(os.getpid(), signal.SIGKILL)


common._reached = reached
svc = build_services(Path(home))
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    if mode == "backup":
        service.create_backup(svc.home, Path(extra))
    else:
        service.restore(svc, Path(extra))
except SocialFeeError as exc:
    print(exc.message, file=sys.stderr)
    sys.exit(1)
finally:
    svc.close()
