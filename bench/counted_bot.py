"""``python -m bot`` with SQL statements and transactions counted, for ``bench.e2e``.

    BENCH_SQL_COUNTS=/path/counts.json python -m bench.counted_bot

SQLAlchemy engine events count every statement sent to the database and every commit and
rollback, in any engine of the process; the totals are written to ``BENCH_SQL_COUNTS`` (JSON)
twice a second, so the benchmark reads them before and after each run. The bot is otherwise
``python -m bot`` unchanged.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.threadnames import name_threads

COUNTS: Counter[str] = Counter()


def _install() -> None:
    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        COUNTS["statements"] += 1
        word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        COUNTS[f"statements_{word.lower()}"] += 1

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        COUNTS["commits"] += 1

    @event.listens_for(Engine, "rollback")
    def _rollback(_conn: Any) -> None:
        COUNTS["rollbacks"] += 1


def _writer(path: Path, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        path.with_suffix(".tmp").write_text(json.dumps(dict(COUNTS)))
        path.with_suffix(".tmp").replace(path)


def main() -> int:
    _install()
    name_threads()
    stop = threading.Event()
    path = Path(os.environ["BENCH_SQL_COUNTS"])
    threading.Thread(target=_writer, args=(path, stop), daemon=True, name="sql-counts").start()
    from bot.__main__ import main as bot_main

    try:
        return bot_main()
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
