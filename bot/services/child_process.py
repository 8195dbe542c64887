"""Child processes of the bot (the trainer, the gate): started niced and tied to the bot's life,
read event by event (``bot/services/child_events.py``), killed on a time limit or at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.services.child_events import ChildEvent, ErrorReported, parse_event

log = logging.getLogger(__name__)

# Runs a module as ``python -m`` would, after tying the child's life to the bot's (Linux:
# PR_SET_PDEATHSIG) and lowering its priority: os.nice, and on Linux the SCHED_IDLE policy when
# asked (it runs only on CPU time nothing else wants). argv: bot pid, niceness, idle (0/1),
# module, arguments.
LAUNCHER = """\
import ctypes, os, runpy, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
if os.getppid() != int(sys.argv[1]):
    sys.exit("the bot is gone")
os.nice(int(sys.argv[2]))
if sys.argv[3] == "1" and hasattr(os, "SCHED_IDLE"):
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
module = sys.argv[4]
sys.argv = [module, *sys.argv[5:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

EventSink = Callable[[ChildEvent], Awaitable[None]]


class ChildTimeout(Exception):
    """The child ran past its time limit and was killed."""


@dataclass(frozen=True)
class ChildExit:
    code: int  # negative: killed by that signal
    tail: list[str]  # the last lines that were not events (warnings, a traceback)
    error: ErrorReported | None  # the last error the child reported

    def reason(self, step: str) -> str:
        """Why the child failed, for the admins."""
        if self.code < 0:
            return f"{step} process killed by signal {-self.code}"
        if self.error is not None:
            last = f"{self.error.kind}: {self.error.message}"
        else:
            last = next((line for line in reversed(self.tail) if line.strip()), "")
        return f"{step} process exited with status {self.code}: {last[-300:]}"


class ChildRunner:
    """Runs ``python -m module arguments`` with the bot's environment plus ``env``, at
    niceness ``nice`` (and SCHED_IDLE with ``idle``), from ``cwd``."""

    def __init__(self, cwd: Path, env: Mapping[str, str], nice: int, idle: bool) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.nice = nice
        self.idle = idle
        self._children: set[asyncio.subprocess.Process] = set()

    async def run(self, label: str, module: str, arguments: list[str], on_event: EventSink,
                  limit_s: float, on_start: Callable[[int], None] | None = None) -> ChildExit:
        """Run the child to its end; ``on_event`` gets each event as it comes, ``on_start``
        the child's pid. Raises ChildTimeout after ``limit_s`` seconds."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCHER, str(os.getpid()), str(self.nice),
            "1" if self.idle else "0", module, *arguments,
            cwd=self.cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, limit=1 << 20)
        self._children.add(process)
        if on_start is not None:
            on_start(process.pid)
        log.info("%s: %s started as pid %d", label, module, process.pid)
        tail: deque[str] = deque(maxlen=25)
        error: ErrorReported | None = None
        assert process.stdout is not None
        try:
            async with asyncio.timeout(limit_s):
                while chunk := await process.stdout.readline():
                    # a carriage return ends a line too (progress bars redraw with it)
                    text = chunk.decode("utf-8", "replace").replace("\r", "\n")
                    for line in filter(str.strip, text.split("\n")):
                        event = parse_event(line)
                        if event is None:
                            tail.append(line)
                            continue
                        if isinstance(event, ErrorReported):
                            error = event
                        await on_event(event)
                code = await process.wait()
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            if isinstance(exc, TimeoutError):
                raise ChildTimeout(f"{module} did not finish within {limit_s / 60:.0f} min and "
                                   "was stopped (is the machine busy?)") from None
            raise
        finally:
            self._children.discard(process)
        return ChildExit(code, list(tail), error)

    def kill_all(self) -> None:
        for process in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
