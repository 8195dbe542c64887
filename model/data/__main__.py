"""Command line: ``python -m model.data build [--cache DIR] [--only SOURCE,...] [--force]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.data.build import build_all, default_cache_dir
from model.data.sources import SOURCES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model.data", description="Build the training corpora."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="download, extract and split all corpora")
    build.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache directory (default: $MODEL_DATA_DIR or <repo>/data/corpora)",
    )
    build.add_argument(
        "--only", default=None, help="comma-separated source names (see the 'sources' command)"
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="re-extract sources even if their cached output is current",
    )
    sub.add_parser("sources", help="list the sources, their tasks and licences")
    return parser


def _list_sources() -> int:
    for spec in SOURCES:
        print(f"{spec.name:<20} {spec.task:<16} {spec.licence}")
    return 0


def _summary(manifest: dict) -> str:
    lines = ["", "sources:"]
    for name, entry in manifest["sources"].items():
        lines.append(f"  {name:<20} {entry['pairs']:>7} pairs  ({entry['licence']})")
    lines.append("tasks:")
    for task, entry in manifest["tasks"].items():
        counts = ", ".join(f"{k}={v['pairs']}" for k, v in entry["splits"].items())
        lines.append(f"  {task:<17} {counts}")
    if manifest.get("failed"):
        lines.append("failed: " + json.dumps(manifest["failed"], ensure_ascii=False))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (1 if a source failed)."""
    args = _parser().parse_args(argv)
    if args.command == "sources":
        return _list_sources()
    cache = args.cache or default_cache_dir()
    only = {s.strip() for s in args.only.split(",") if s.strip()} if args.only else None
    try:
        manifest = build_all(cache, only=only, force=args.force)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_summary(manifest))
    print(f"\nmanifest: {cache / 'manifest.json'}")
    return 1 if manifest.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
