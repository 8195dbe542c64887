"""Benchmark: what ``PRAGMA synchronous=FULL`` costs against ``NORMAL`` when storing messages.

    python -m bench.durability [--n 300] [--rounds 5] [--dir DIR]

Each round stores ``n`` incoming messages, one transaction each, exactly as the bot's admission
does (``Turns.begin``: upsert the user and the chat, insert the message), once into a database
in ``NORMAL`` mode and once into one in ``FULL`` mode, alternating which goes first; both are in
WAL mode on the same file system (``--dir``, by default a folder beside this script: ``/tmp``
may be a RAM disk, where an fsync costs nothing). Reports the median time per stored message
of each mode and their ratio. Writes ``bench/results/durability.json`` and ``durability.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, table, write_json, write_markdown
from bot.services.turns import Turns
from bot.storage import Database
from bot.storage.records import IncomingMessage

MODES = ("NORMAL", "FULL")


async def store_messages(directory: Path, mode: str, n: int, round_no: int) -> list[float]:
    """Seconds per stored message, for ``n`` messages in a fresh database in ``mode``."""
    db = Database(f"sqlite+aiosqlite:///{directory / f'{mode}-{round_no}.sqlite3'}",
                  synchronous=mode)
    await db.migrate()
    turns = Turns(db, store_unaddressed=True, default_language="en")
    times = []
    try:
        for i in range(n):
            message = IncomingMessage(1000 + i % 20, "private", None, i + 1, 1000 + i % 20,
                                      "ann", "Ann", "en", f"message number {i}")
            started = time.perf_counter()
            await turns.begin(message)
            times.append(time.perf_counter() - started)
    finally:
        await db.close()
    return times


async def measure(directory: Path, n: int, rounds: int) -> dict[str, Any]:
    per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_no in range(rounds):
        order = MODES if round_no % 2 == 0 else MODES[::-1]
        for mode in order:
            per_mode[mode].extend(await store_messages(directory, mode, n, round_no))
    medians = {mode: statistics.median(values) * 1000 for mode, values in per_mode.items()}
    return {
        "n_per_round": n, "rounds": rounds, "directory": str(directory),
        "median_ms": medians,
        "p95_ms": {m: sorted(v)[int(0.95 * (len(v) - 1))] * 1000 for m, v in per_mode.items()},
        "ratio_full_to_normal": medians["FULL"] / medians["NORMAL"],
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="messages per round and mode")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent,
                        help="where the scratch databases go (the disk the bot would use)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".durability-") as scratch:
        result = asyncio.run(measure(Path(scratch), args.n, args.rounds))
    write_json("durability", result)
    rows = [[mode, f"{result['median_ms'][mode]:.2f}", f"{result['p95_ms'][mode]:.2f}"]
            for mode in MODES]
    write_markdown("durability", [
        f"# Storing a message: synchronous=NORMAL vs FULL ({args.rounds} x {args.n} "
        "transactions per mode, WAL)", "",
        *table(["mode", "median ms", "p95 ms"], rows), "",
        f"FULL / NORMAL (medians): {result['ratio_full_to_normal']:.2f}x",
    ])


if __name__ == "__main__":
    main()
