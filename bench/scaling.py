"""Benchmark: how the bot's cost grows with concurrent users and with input length.

    python -m bench.scaling [--users 1,5,10,25,50,100,200]

The bot runs as in ``bench.e2e`` (``python -m bot`` on the shipped models against the Bot API
emulator, flood limit raised). Two curves:

* users: 1 to 200 users at once with the mixed workload of ``bench.e2e``, each sending the next
  message as soon as the last is answered (saturation; after an untimed first pass at that
  number of users), and again with users who pause about a second (uniform 0-2 s) before
  their next message;
* input length: ``/translate`` and ``/summarize`` with inputs of 2 to 170 English words (the bot
  reads at most ``MAX_INPUT_CHARS`` = 1000 characters), one user at a time and 20 at once,
  each after an untimed first pass (whose p95 shows the XLA compilations of new shapes).

Writes ``bench/results/scaling.json``, ``scaling.md`` and ``scaling.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    latency_summary,
    machine,
    pyplot,
    table,
    write_json,
    write_markdown,
)
from bench.e2e import MIXES, LiveBench

WORDS = ["the", "file", "is", "saved", "in", "the", "selected", "folder", "and", "the", "new",
         "window", "shows", "the", "current", "document", "with", "its", "table", "of",
         "contents", "so", "that", "you", "can", "choose", "a", "page", "to", "print"]
LENGTHS = [2, 8, 32, 64, 128, 170]


def text_of(words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fixed_text_run(bench: LiveBench, command: str, words: int, users: int, messages: int
                   ) -> dict[str, Any]:
    async def user(seed: int) -> list[float]:
        person, chat = await asyncio.to_thread(bench.new_user)
        latencies = []
        for turn in range(messages):
            started = time.perf_counter()
            await bench.aio.send_text(chat, person, f"{command} {text_of(words, seed * 97 + turn)}")
            await bench.aio.wait_bot_messages(chat, 1, 120)
            latencies.append(time.perf_counter() - started)
        return latencies

    async def everyone() -> list[list[float]]:
        return await asyncio.gather(*(user(seed) for seed in range(users)))

    started = time.perf_counter()
    latencies = [x for run in asyncio.run(everyone()) for x in run]
    wall = time.perf_counter() - started
    return {"command": command, "words": words, "chars": len(text_of(words, 0)), "users": users,
            "messages_per_s": len(latencies) / wall, **latency_summary(latencies)}


def measure(levels: list[int]) -> dict[str, Any]:
    bench = LiveBench(Path(tempfile.mkdtemp(prefix="bench-scaling-")))
    users_rows, length_rows = [], []
    try:
        startup = bench.start()
        bench.run("warm-up", MIXES["mixed"], 50, 4)
        for think in (0.0, 1.0):
            for users in levels:
                messages = max(3, min(20, 400 // users)) if not think else 10
                if not think:  # untimed: new batch shapes get compiled (XLA) here, not below
                    bench.run("first pass", MIXES["mixed"], users, 2)
                result = bench.run(f"{users} users", MIXES["mixed"], users, messages, think)
                integrity = bench.check(result, settle_s=0.5)
                answered = [s.latency_s for s in result.sent if s.latency_s is not None]
                row = {"users": users, "think_s": think, "messages_per_user": messages,
                       "messages_per_s": len(answered) / result.wall_s,
                       **latency_summary(answered),
                       "lost": integrity["lost_replies"],
                       "duplicated": integrity["duplicated_replies"]}
                users_rows.append(row)
                print(row, flush=True)
        for command in ("/translate", "/summarize"):
            for words in LENGTHS:
                for users, messages in ((1, 8), (20, 4)):
                    # Untimed first: XLA compiles each new batch and length shape once (about
                    # a second each); the timed run then shows the steady cost.
                    first = fixed_text_run(bench, command, words, users, 2)
                    row = fixed_text_run(bench, command, words, users, messages)
                    row["first_pass_p95_ms"] = first["p95_ms"]
                    length_rows.append(row)
                    print(row, flush=True)
    finally:
        bench.stop()
    return {"startup": startup, "users": users_rows, "lengths": length_rows,
            "machine": machine()}


def write_outputs(result: dict[str, Any], out: Path) -> None:
    write_json("scaling", result, out)
    users_table = table(
        ["users at once", "pause between messages", "messages/s", "p50 ms", "p95 ms", "p99 ms",
         "lost / duplicated"],
        [[r["users"], "none" if not r["think_s"] else f"~{r['think_s']:.0f} s",
          f"{r['messages_per_s']:.1f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}",
          f"{r['p99_ms']:.0f}", f"{r['lost']} / {r['duplicated']}"] for r in result["users"]])
    length_table = table(
        ["command", "input words (chars)", "users at once", "messages/s", "p50 ms", "p95 ms",
         "first pass p95 ms"],
        [[f"`{r['command']}`", f"{r['words']} ({r['chars']})", r["users"],
          f"{r['messages_per_s']:.1f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}",
          f"{r['first_pass_p95_ms']:.0f}"]
         for r in result["lengths"]])
    m = result["machine"]
    write_markdown("scaling", [
        f"{m['cpu_count']} CPUs, load average {m['load_average_1m']:.1f} at the end, "
        f"{m['measured_at']}.", "", "By concurrent users (mixed workload):", "", *users_table,
        "", "By input length:", "", *length_table], out)

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), dpi=100)
    for think, style in ((0.0, "o-"), (1.0, "s--")):
        rows = [r for r in result["users"] if r["think_s"] == think]
        label = "back to back" if not think else "~1 s pause"
        xs = [r["users"] for r in rows]
        axes[0].plot(xs, [r["p50_ms"] for r in rows], style, label=f"p50, {label}")
        axes[0].plot(xs, [r["p95_ms"] for r in rows], style, label=f"p95, {label}", alpha=0.6)
        axes[1].plot(xs, [r["messages_per_s"] for r in rows], style, label=label)
    axes[0].axhline(250, color="grey", linestyle=":", linewidth=1)
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_xlabel("users at once")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("reply latency, ms")
    axes[1].set_ylabel("messages per second")
    for command in ("/translate", "/summarize"):
        for users, style in ((1, "o-"), (20, "s--")):
            rows = [r for r in result["lengths"] if r["command"] == command
                    and r["users"] == users]
            axes[2].plot([r["chars"] for r in rows], [r["p50_ms"] for r in rows], style,
                         label=f"{command}, {users} user{'s' if users > 1 else ''}")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("input characters")
    axes[2].set_ylabel("reply latency p50, ms")
    axes[2].grid(alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.suptitle("Cost against concurrent users and input length (through the Bot API emulator)")
    fig.tight_layout()
    fig.savefig(out / "scaling.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", default="1,5,10,25,50,100,200")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true", help="redraw from scaling.json")
    args = parser.parse_args()
    if args.render:
        result = json.loads((args.out / "scaling.json").read_text())
    else:
        result = measure([int(x) for x in args.users.split(",")])
    write_outputs(result, args.out)


if __name__ == "__main__":
    main()
