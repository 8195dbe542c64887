"""Build every corpus into the cache and record ``manifest.json``.

Layout of the cache directory::

    raw/                 downloads and unpacked packages (kept between runs)
    sources/<name>.tsv   source<TAB>target<TAB>group, one file per source
    tasks/<task>/{train,dev,test}.tsv   source<TAB>target (+ test-short.tsv for translation)
    manifest.json        sources (licence, origin, counts, sha256) and task splits
    STATUS.txt           human-readable progress of the current/last build
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.data.everyday import HELDOUT_FILES, drop_heldout, heldout_keys
from model.data.fetch import PrivateApt
from model.data.readers import read_tsv_rows, write_tsv
from model.data.sources import SOURCES, SourceSpec, fetch_source, source_recipe
from model.data.tasks import (
    TASK_ORDER,
    TASK_POLICIES,
    TRANSLATION_TASKS,
    dedupe_pairs,
    drop_comment_like,
    split_task,
    write_task,
)

MANIFEST = "manifest.json"
STATUS = "STATUS.txt"
MANIFEST_VERSION = 1
SPLIT_VERSION = "3"  # bump when the split/dedupe rules change

Manifest = dict[str, Any]


def default_cache_dir() -> Path:
    """``$MODEL_DATA_DIR`` if set, else ``<repo>/data/corpora`` (repo = parent of ``model``)."""
    env = os.environ.get("MODEL_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / "corpora"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_sha(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def load_manifest(cache_dir: Path) -> Manifest:
    """The cache's manifest, or an empty one."""
    path = cache_dir / MANIFEST
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == MANIFEST_VERSION:
                return dict(data)
        except (OSError, ValueError):
            pass
    return {"version": MANIFEST_VERSION, "sources": {}, "tasks": {}, "failed": {}}


def save_manifest(cache_dir: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically."""
    path = cache_dir / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


class Status:
    """Appends progress lines to ``STATUS.txt`` (read by people while a build runs)."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / STATUS
        self.start = time.monotonic()
        self.path.write_text(f"build started {_now()}\n", encoding="utf-8")

    def summary(self, manifest: Manifest) -> None:
        """Append the ready task files and their sizes."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\nready task files (source<TAB>target):\n")
            for entry in manifest["tasks"].values():
                for split in entry["splits"].values():
                    handle.write(f"  {split['path']:<40} {split['pairs']:>7} pairs\n")

    def line(self, text: str) -> None:
        """Append one line with the elapsed time."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"[{time.monotonic() - self.start:7.1f}s] {text}\n")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rel(cache_dir: Path, path: Path) -> str:
    return path.relative_to(cache_dir).as_posix()


# --- sources -----------------------------------------------------------------------------------


def source_is_current(cache_dir: Path, spec: SourceSpec, entry: dict[str, Any] | None) -> bool:
    """True when the recorded output exists, matches its checksum and the recipe is unchanged."""
    if not entry:
        return False
    path = cache_dir / entry.get("path", "")
    return (
        path.is_file()
        and entry.get("recipe") == _json_sha(source_recipe(spec))
        and entry.get("sha256") == sha256_file(path)
    )


def _progress_bar(spec: SourceSpec) -> Any:
    """A tqdm bar with one step per download, plus extract and write."""
    from tqdm import tqdm

    total = len(spec.debs) + len(spec.wheels) + int(spec.translation_index) + 2
    return tqdm(total=total, desc=f"{spec.name:<20}", unit="step", leave=True)


def build_source(cache_dir: Path, spec: SourceSpec, apt: PrivateApt) -> dict[str, Any]:
    """Download, extract and write one source; return its manifest entry."""
    started = time.monotonic()
    bar = _progress_bar(spec)

    def _note(item: str) -> None:
        bar.set_postfix_str(item[:30])
        bar.update(1)

    try:
        fetched = fetch_source(spec, cache_dir / "raw", apt, progress=_note)
        bar.set_postfix_str("extracting")
        rows = spec.extract(fetched)
        bar.update(1)
        out = cache_dir / "sources" / f"{spec.name}.tsv"
        count = write_tsv(out, rows)
        bar.update(1)
        bar.set_postfix_str(f"{count} pairs")
    finally:
        bar.close()
    origin = [
        {**a.origin(), "licence": fetched.licences.get(a.name, spec.licence)}
        for a in fetched.artifacts
    ]
    if spec.name == "docstrings":
        origin = [
            {"kind": "installed", "name": n, "version": v} for n, v in _installed_for_origin()
        ]
    return {
        "name": spec.name,
        "task": spec.task,
        "licence": spec.licence,
        "description": spec.description,
        "origin": origin,
        "pairs": count,
        "path": _rel(cache_dir, out),
        "sha256": sha256_file(out),
        "recipe": _json_sha(source_recipe(spec)),
        "seconds": round(time.monotonic() - started, 1),
        "built": _now(),
    }


def _installed_for_origin() -> list[tuple[str, str]]:
    from model.data.sources import installed_distributions

    return installed_distributions()


# --- tasks -------------------------------------------------------------------------------------


def task_is_current(cache_dir: Path, entry: dict[str, Any] | None, inputs: dict[str, str]) -> bool:
    """True when the task was built from the same source checksums and its files are intact."""
    if not entry or entry.get("inputs") != inputs:
        return False
    for split in entry.get("splits", {}).values():
        path = cache_dir / split["path"]
        if not path.is_file() or sha256_file(path) != split["sha256"]:
            return False
    return True


def build_task(
    cache_dir: Path, task: str, source_entries: dict[str, dict[str, Any]], missing: list[str]
) -> dict[str, Any]:
    """Merge the task's source files, split them and write the task directory."""
    rows = []
    for name in sorted(source_entries):
        rows.extend(read_tsv_rows(cache_dir / source_entries[name]["path"]))
    rows = drop_comment_like(dedupe_pairs(rows))
    policy = TASK_POLICIES[task]
    splits = split_task(rows, task, policy)
    dropped = 0
    if task in TRANSLATION_TASKS:
        # the hand-written everyday test/dev sets are never trained on (dev/test of the
        # technical corpus stay as they are, so its figures remain comparable)
        before = len(splits["train"])
        splits["train"] = drop_heldout(splits["train"], heldout_keys(_heldout_files()))
        dropped = before - len(splits["train"])
    paths = write_task(cache_dir / "tasks" / task, splits, policy)
    return {
        "sources": sorted(source_entries),
        "missing_sources": missing,
        "inputs": _task_inputs(task, source_entries),
        "heldout_dropped_from_train": dropped,
        "policy": {
            "dev": policy.dev,
            "test": policy.test,
            "max_heldout": policy.max_heldout,
            "all_in_train": policy.all_in_train,
        },
        "splits": {
            name: {
                "path": _rel(cache_dir, path),
                "pairs": _count_lines(path),
                "sha256": sha256_file(path),
            }
            for name, path in paths.items()
        },
        "built": _now(),
    }


def _task_inputs(task: str, entries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What a task's files depend on: source checksums and the split rules."""
    inputs = {n: str(e["sha256"]) for n, e in sorted(entries.items())}
    policy = TASK_POLICIES[task]
    inputs["_split"] = _json_sha([SPLIT_VERSION, repr(policy)])
    if task in TRANSLATION_TASKS:
        inputs["_heldout"] = _json_sha([sha256_file(p) for p in _heldout_files()])
    return inputs


def _heldout_files() -> tuple[Path, ...]:
    """The everyday test/dev sets; the build refuses to write translation training data
    without them (a missing file would let test sentences into training)."""
    missing = [str(p) for p in HELDOUT_FILES if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"held-out everyday sets missing: {', '.join(missing)}")
    return HELDOUT_FILES


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


# --- driver ------------------------------------------------------------------------------------


def _selected(only: set[str] | None) -> list[SourceSpec]:
    """Sources to consider, in task order (translation first, QA last)."""
    if only:
        unknown = only - {s.name for s in SOURCES}
        if unknown:
            raise ValueError(f"unknown source(s): {', '.join(sorted(unknown))}")
    chosen = [s for s in SOURCES if not only or s.name in only]
    return sorted(chosen, key=lambda s: TASK_ORDER.index(s.task))


def _update_totals(manifest: Manifest) -> None:
    """Download totals over all recorded origins (each file counted once)."""
    files: dict[str, int] = {}
    for entry in manifest["sources"].values():
        for item in entry.get("origin", []):
            if "file" in item:
                files[item["file"]] = int(item.get("bytes", 0))
    manifest["downloads"] = {"files": len(files), "bytes": sum(files.values())}


def _run_source(
    cache_dir: Path,
    spec: SourceSpec,
    apt: PrivateApt,
    manifest: Manifest,
    force: bool,
    status: Status,
) -> None:
    """Build one source unless current; record success or failure in the manifest."""
    entry = manifest["sources"].get(spec.name)
    if entry is not None and not force and source_is_current(cache_dir, spec, entry):
        status.line(f"source {spec.name}: cached ({entry['pairs']} pairs)")
        print(f"{spec.name:<20} cached: {entry['pairs']} pairs")
        return
    status.line(f"source {spec.name}: building")
    try:
        manifest["sources"][spec.name] = build_source(cache_dir, spec, apt)
        manifest["failed"].pop(spec.name, None)
        status.line(f"source {spec.name}: {manifest['sources'][spec.name]['pairs']} pairs")
    except Exception as exc:  # a failing source must not stop the others
        manifest["sources"].pop(spec.name, None)
        manifest["failed"][spec.name] = f"{type(exc).__name__}: {exc}"
        status.line(f"source {spec.name}: FAILED {exc}")
        traceback.print_exc()


def _run_task(cache_dir: Path, task: str, manifest: Manifest, force: bool, status: Status) -> None:
    """(Re)build one task from whichever of its sources have outputs."""
    names = [s.name for s in SOURCES if s.task == task]
    entries = {n: manifest["sources"][n] for n in names if n in manifest["sources"]}
    missing = [n for n in names if n not in entries]
    if not entries:
        status.line(f"task {task}: skipped, no source available")
        return
    inputs = _task_inputs(task, entries)
    if not force and task_is_current(cache_dir, manifest["tasks"].get(task), inputs):
        status.line(f"task {task}: cached")
        return
    manifest["tasks"][task] = build_task(cache_dir, task, entries, missing)
    counts = {k: v["pairs"] for k, v in manifest["tasks"][task]["splits"].items()}
    status.line(f"task {task}: {counts}" + (f" (missing {missing})" if missing else ""))
    print(f"task {task:<17} {counts}")


def build_all(cache_dir: Path, only: set[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Build all (or ``only`` the named) sources, then their tasks; return the manifest.

    A source is skipped when its output exists with the recorded checksum and its recipe
    (pinned packages, extractor version) is unchanged, unless ``force``. Downloads and unpacked
    packages under ``raw/`` are always reused. A task is written as soon as its sources are
    done, so translation data is ready first.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(cache_dir)
    manifest.setdefault("failed", {})
    status = Status(cache_dir)
    apt = PrivateApt(cache_dir / "raw" / "apt")
    started = time.monotonic()
    specs = _selected(only)
    for task in TASK_ORDER:
        task_specs = [s for s in specs if s.task == task]
        if not task_specs:
            continue
        for spec in task_specs:
            _run_source(cache_dir, spec, apt, manifest, force, status)
            save_manifest(cache_dir, manifest)
        _run_task(cache_dir, task, manifest, force, status)
        _update_totals(manifest)
        save_manifest(cache_dir, manifest)
    manifest["last_build"] = {
        "finished": _now(),
        "seconds": round(time.monotonic() - started, 1),
        "only": sorted(only) if only else None,
        "force": force,
    }
    _update_totals(manifest)
    save_manifest(cache_dir, manifest)
    status.line(
        f"done in {time.monotonic() - started:.1f}s; failed: {sorted(manifest['failed']) or 'none'}"
    )
    status.summary(manifest)
    return manifest
