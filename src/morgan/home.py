"""MORGAN_HOME holds private data (messages, vectors, blobs, keys): owner-only, always.

The server sets a 077 umask before it creates anything, so the database, its WAL, the vector
files, blobs and tokens are born 0600 in 0700 folders; files an older version left wider are
narrowed at start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def secure_home(home: Path) -> int:
    """Umask 077, `home` 0700, everything under it owner-only; returns how many were narrowed."""
    os.umask(0o077)
    home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    narrowed = _narrow(home, DIR_MODE)
    for root, dirs, files in os.walk(home):
        for name in dirs:
            narrowed += _narrow(Path(root, name), DIR_MODE)
        for name in files:
            narrowed += _narrow(Path(root, name), FILE_MODE)
    if narrowed:
        log.info("home_permissions_narrowed", paths=narrowed)
    return narrowed


def _narrow(path: Path, mode: int) -> int:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
            return 0
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077 & 0o7777 | (mode & 0o700))
            return 1
    except OSError:  # vanished or not ours: nothing to narrow
        return 0
    return 0
