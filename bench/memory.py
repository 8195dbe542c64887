"""Benchmark: resident memory and load time per shipped model, loaded in turn as the bot does.

    python -m bench.memory [--xla 0|1] [--repo PATH] [--out DIR]

A fresh Python process (``python -c``, run from ``--repo``: another checkout measures another
version of the code, side by side) imports ``model.api``, then loads every shipped model in
the bot's preload order (intent and qa first) through ``model.api.load`` and runs its
``warm_up``, as ``bot.services.inference`` does. After each step it reports its resident
memory and the seconds the step took; whether TensorFlow was imported by then is reported
too. Writes ``bench/results/memory.json`` and ``memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine, table, write_json, write_markdown
from bench.e2e import FIRST, SHIPPED

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, tempfile, time
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

steps = []
started = time.perf_counter()
def step(name):
    global started
    now = time.perf_counter()
    steps.append({"step": name, "seconds": now - started, "rss_mb": rss_mb(),
                  "tensorflow": "tensorflow" in sys.modules})
    started = now

step("python")
from model.api import ModelSettings, load
step("import model.api")
settings = ModelSettings(model_dir=Path(tempfile.mkdtemp()), xla=bool(int(sys.argv[1])))
for task in sys.argv[2].split(","):
    model = load(task, settings)
    model.warm_up(32)
    step(task)
print(json.dumps(steps))
"""


def measure(tasks: list[str], xla: bool, repo: Path) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(int(xla)), ",".join(tasks)],
                          cwd=repo, capture_output=True, text=True, timeout=900, check=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                               "PYTHONPATH": str(repo)})
    steps: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xla", type=int, choices=(0, 1), default=0)
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tasks = sorted(SHIPPED, key=lambda t: (t not in FIRST, t))
    steps = measure(tasks, bool(args.xla), args.repo)
    result: dict[str, Any] = {"tasks": tasks, "xla": bool(args.xla), "repo": str(args.repo),
                              "steps": steps, "machine": machine()}
    write_json("memory", result, args.out)
    rows, last = [], 0.0
    for item in steps:
        rows.append([item["step"], f"{item['seconds']:.2f}", f"{item['rss_mb']:.0f}",
                     f"{item['rss_mb'] - last:+.0f}" if last else "-",
                     "yes" if item["tensorflow"] else "no"])
        last = item["rss_mb"]
    load = float(machine()["load_average_1m"])
    lines = [*table(["step (in order)", "seconds", "resident MB after", "added MB",
                     "TensorFlow imported"], rows), "",
             f"(`MODEL_XLA={args.xla}`, code of {args.repo}; load average {load:.1f} at the end.)"]
    write_markdown("memory", lines, args.out)


if __name__ == "__main__":
    main()
