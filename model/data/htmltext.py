"""A small, lenient HTML/XML block extractor built on :mod:`html.parser`.

It walks a document and returns the text of selected "block" elements (paragraphs, headings,
table cells...). Nested blocks are separated: text belongs to the innermost open block. Content
of skipped elements (scripts, navigation, hidden OS-specific variants...) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from model.data.clean import collapse_whitespace, tidy_markup_spaces

Attrs = dict[str, str]
Selector = Callable[[str, Attrs], str | None]
Skipper = Callable[[str, Attrs], bool]

VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


@dataclass
class Block:
    """Text of one selected element, with the key returned by the selector."""

    key: str
    tag: str
    text: str
    attrs: Attrs = field(default_factory=dict)


@dataclass
class _Frame:
    tag: str
    kind: str  # "block" or "skip"
    key: str = ""
    attrs: Attrs = field(default_factory=dict)
    depth: int = 1
    parts: list[str] = field(default_factory=list)


class BlockParser(HTMLParser):
    """Collect :class:`Block` objects for elements accepted by ``select``."""

    def __init__(self, select: Selector, skip: Skipper) -> None:
        super().__init__(convert_charrefs=True)
        self._select = select
        self._skip = skip
        self._stack: list[_Frame] = []
        self.blocks: list[Block] = []

    def _skipping(self) -> bool:
        return any(f.kind == "skip" for f in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a block or skip frame, or bump nesting counters for same-named tags."""
        if tag in VOID_TAGS:
            if tag == "br":
                self.handle_data(" ")
            return
        attr_map = {k: v or "" for k, v in attrs}
        for frame in self._stack:
            if frame.tag == tag:
                frame.depth += 1
        if self._skip(tag, attr_map):
            self._stack.append(_Frame(tag, "skip"))
            return
        if self._skipping():
            return
        key = self._select(tag, attr_map)
        if key is not None:
            self._stack.append(_Frame(tag, "block", key, attr_map))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Self-closing tags never open a frame."""
        if tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        """Close frames whose nesting count for ``tag`` drops to zero."""
        if tag in VOID_TAGS:
            return
        for frame in self._stack:
            if frame.tag == tag:
                frame.depth -= 1
        closed = next((i for i, f in enumerate(self._stack) if f.depth <= 0), None)
        if closed is None:
            return
        while len(self._stack) > closed:  # frames above it were left open: close them too
            frame = self._stack.pop()
            if frame.kind == "block":
                self._emit(frame)

    def handle_data(self, data: str) -> None:
        """Append text to the innermost open block unless inside a skipped element."""
        if self._skipping():
            return
        for frame in reversed(self._stack):
            if frame.kind == "block":
                frame.parts.append(data)
                return

    def close(self) -> None:
        """Flush blocks left open by truncated documents."""
        super().close()
        while self._stack:
            frame = self._stack.pop()
            if frame.kind == "block":
                self._emit(frame)

    def _emit(self, frame: _Frame) -> None:
        text = tidy_markup_spaces(collapse_whitespace("".join(frame.parts)))
        self.blocks.append(Block(frame.key, frame.tag, text, frame.attrs))


def extract_blocks(markup: str, select: Selector, skip: Skipper) -> list[Block]:
    """Parse ``markup`` and return its selected blocks in closing order."""
    parser = BlockParser(select, skip)
    parser.feed(markup)
    parser.close()
    return parser.blocks


def read_markup(path: Path) -> str:
    """Read an HTML/XML file as UTF-8, replacing undecodable bytes."""
    return Path(path).read_text(encoding="utf-8", errors="replace")
