"""Python threads named at the OS level (``/proc/PID/task/TID/comm``), for ``bench.e2e``.

``bench.e2e`` tells a process's event loop and database threads from its model threads by
these names; TensorFlow's native threads keep their own names (or their creator's).
"""

from __future__ import annotations

import ctypes
import threading

PR_SET_NAME = 15


def name_threads() -> None:
    """From now on every Python thread names itself; the calling thread is ``MainThread``."""
    libc = ctypes.CDLL(None)
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def bootstrap(self: threading.Thread) -> None:
        libc.prctl(PR_SET_NAME, self.name.encode()[:15], 0, 0, 0)
        original(self)

    threading.Thread._bootstrap_inner = bootstrap  # type: ignore[attr-defined]
    libc.prctl(PR_SET_NAME, b"MainThread", 0, 0, 0)
