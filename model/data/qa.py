"""Extract question -> answer pairs for the question-answering bank.

* chatterbot-corpus (English and Simplified Chinese): first statement of each conversation ->
  second statement.
* Debian FAQ (English and Simplified Chinese HTML): section heading (the question) -> the text
  that follows it, truncated to about 80 words (160 characters for Chinese).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from model.data.clean import clean_plain, has_cjk
from model.data.htmltext import Attrs, Block, extract_blocks, read_markup
from model.data.manuals import clean_manual_text, strip_heading_number
from model.data.readers import Row, conversation_pairs, load_chatterbot_conversations

ANSWER_WORDS = 80
ANSWER_CJK_CHARS = 160
MIN_ANSWER_WORDS = 3

_HEADINGS = frozenset({"h2", "h3", "h4"})
_TEXT_TAGS = frozenset({"p", "li", "dt", "dd", "td"})
_SKIP_CLASSES = frozenset({"navheader", "navfooter", "toc", "indexterm"})
_QUESTION = re.compile(r"[?？]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def _select(tag: str, attrs: Attrs) -> str | None:
    if tag in _HEADINGS or tag in _TEXT_TAGS:
        return tag
    return None


def _skip(tag: str, attrs: Attrs) -> bool:
    classes = set(attrs.get("class", "").split())
    return tag in {"script", "style", "head", "pre"} or bool(classes & _SKIP_CLASSES)


def truncate_answer(text: str, words: int = ANSWER_WORDS, cjk_chars: int = ANSWER_CJK_CHARS) -> str:
    """Shorten an answer to about ``words`` words (``cjk_chars`` characters for Chinese),
    cutting at the last sentence end inside the limit when there is one past half of it."""
    if has_cjk(text):
        if len(text) <= cjk_chars:
            return text
        head = text[:cjk_chars]
        limit = cjk_chars
    else:
        tokens = text.split()
        if len(tokens) <= words:
            return text
        head = " ".join(tokens[:words])
        limit = len(head)
    ends = [m.start() for m in _SENTENCE_END.finditer(head) if m.start() > 0]
    cut = max((e for e in ends if e >= limit // 2), default=None)
    return head[:cut].strip() if cut else head.strip()


def faq_sections(blocks: list[Block]) -> Iterator[tuple[str, str]]:
    """``(heading, body)`` for each heading followed by at least one text block."""
    heading: str | None = None
    body: list[str] = []
    for block in [*blocks, Block("h2", "h2", "")]:
        if block.key in _HEADINGS:
            if heading and body:
                yield heading, " ".join(body)
            heading, body = strip_heading_number(block.text), []
        elif heading and block.text:
            body.append(block.text)


def faq_rows(pages: Iterable[Path], lang: str) -> list[Row]:
    """Question -> answer rows of Debian FAQ pages; group = ``debian-faq/<lang>/<page>``.

    Only headings containing a question mark are used.
    """
    rows: list[Row] = []
    for path in sorted(pages):
        blocks = extract_blocks(read_markup(path), _select, _skip)
        group = f"debian-faq/{lang}/{path.name.split('.')[0]}"
        for question, body in faq_sections(blocks):
            answer = truncate_answer(clean_manual_text(body))
            question = clean_plain(question)
            if not _QUESTION.search(question):
                continue  # a topic heading ("More kernels"), not a question
            if len(answer.split()) + len(answer) // 4 >= MIN_ANSWER_WORDS:
                rows.append((question, answer, group))
    return rows


def chatterbot_qa_rows(yaml_files: Iterable[Path]) -> list[Row]:
    """First statement -> second statement of every conversation;
    group = ``chatterbot/<language>/<file>``."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for path in sorted(yaml_files):
        group = f"chatterbot/{path.parent.name}/{path.name}"
        for conversation in load_chatterbot_conversations(path):
            pairs = conversation_pairs(conversation)
            if not pairs:
                continue
            question, answer = (clean_plain(t) for t in pairs[0])
            if question and answer and (question, answer) not in seen:
                seen.add((question, answer))
                rows.append((question, answer, group))
    return rows
