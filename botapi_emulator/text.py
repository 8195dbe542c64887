"""Text handling as the Bot API does it: UTF-16 entity offsets, entity detection, parse modes.

The rules follow tdlib's ``MessageEntity.cpp`` (which the Bot API server runs):

* ``MessageEntity`` offsets and lengths are UTF-16 code units (an emoji outside the BMP is 2);
* the length limits (4096 for texts, 1024 for captions) count characters after parsing, as the
  real server was measured to do;
* texts are cleaned (``\\r`` dropped, other control characters become spaces, U+2028..U+202E
  dropped) and trimmed of leading/trailing spaces and newlines; an empty result is refused;
* ``bot_command``, ``mention``, ``hashtag``, ``url`` and ``email`` entities are detected in every
  text (outgoing too), but not inside code, pre or links;
* the HTML, MarkdownV2 and Markdown parsers are ports of tdlib's, with its error messages, so
  a bot that emits ``a < b`` in HTML mode, or an unescaped ``.`` in MarkdownV2, fails here
  exactly as it would against Telegram (``Bad Request: can't parse entities: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

Entity = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def utf16_offset(text: str, index: int) -> int:
    """UTF-16 offset of the Python string index ``index`` in ``text``."""
    return utf16_len(text[:index])


def utf8_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of the Python string index ``index`` (used in parse errors)."""
    return len(text[:index].encode("utf-8"))


def entity_text(text: str, entity: Entity) -> str:
    """The part of ``text`` an entity covers (offsets in UTF-16 code units)."""
    encoded = text.encode("utf-16-le")
    start = int(entity["offset"]) * 2
    end = start + int(entity["length"]) * 2
    return encoded[start:end].decode("utf-16-le")


def _py_index(text: str, u16: int) -> int:
    """Python index of the UTF-16 offset ``u16`` (clamped to the text)."""
    count = 0
    for index, char in enumerate(text):
        if count >= u16:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def sort_entities(entities: list[Entity]) -> list[Entity]:
    """Entities in the server's order: by offset, longer first."""
    return sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"])))


# --------------------------------------------------------------------------------------------
# cleaning and trimming (tdlib fix_formatted_text)
# --------------------------------------------------------------------------------------------

_REMOVED = frozenset(chr(c) for c in range(0x2028, 0x202F)) | {"\r", "\u0333", "\u033f", "\u030a"}


def clean_text(
    text: str, entities: list[Entity], *, allow_empty: bool = False
) -> tuple[str, list[Entity]]:
    """Clean and trim a text as the server does; 400 when nothing is left (unless allowed)."""
    if (
        text
        and text[0] not in " \n"
        and text[-1] not in " \n"
        and not any(c in _REMOVED or (ord(c) < 32 and c != "\n") for c in text)
    ):
        return text, entities  # fast path: nothing to change
    # map every old UTF-16 position to a new one while removing/replacing characters
    kept: list[str] = []
    new_pos: list[int] = []
    position = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        new_pos.extend([position] * width)
        if char in _REMOVED:
            continue
        kept.append(" " if ord(char) < 32 and char != "\n" else char)
        position += width
    new_pos.append(position)
    cleaned = "".join(kept)
    moved = []
    for entity in entities:
        start = new_pos[min(int(entity["offset"]), len(new_pos) - 1)]
        end = new_pos[min(int(entity["offset"]) + int(entity["length"]), len(new_pos) - 1)]
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    stripped = cleaned.rstrip(" \n")
    if not stripped:
        if allow_empty:
            return "", []
        raise ApiError.bad_request("message text is empty")
    limit = utf16_len(stripped)
    trimmed = []
    for entity in moved:
        end = min(entity["offset"] + entity["length"], limit)
        if end > entity["offset"]:
            trimmed.append({**entity, "length": end - entity["offset"]})
    first_entity = min((e["offset"] for e in trimmed), default=limit)
    lead = 0
    while lead < len(stripped) and lead < first_entity and stripped[lead] in " \n":
        lead += 1
    result = stripped[lead:]
    return result, [{**e, "offset": e["offset"] - lead} for e in trimmed]


# --------------------------------------------------------------------------------------------
# automatic entity detection (tdlib find_entities)
# --------------------------------------------------------------------------------------------


def _word(char: str) -> bool:
    """tdlib's is_word_character: Unicode letters and numbers, and '_'."""
    return char == "_" or char.isalnum()


def _alnum_(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z") or ("0" <= char <= "9")


def _find_commands(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in re.finditer("/", text):
        start = match.start()
        if start > 0 and (_word(text[start - 1]) or text[start - 1] in "/<>"):
            continue
        index = start + 1
        while index < len(text) and _alnum_(text[index]):
            index += 1
        if not 1 <= index - start - 1 <= 64:
            continue
        if index < len(text) and text[index] == "@":
            mention = index + 1
            index = mention
            while index < len(text) and _alnum_(text[index]):
                index += 1
            if not 3 <= index - mention <= 32:
                continue
        if index < len(text) and (_word(text[index]) or text[index] in "/<>"):
            continue
        found.append((start, index, "bot_command"))
    return found


_SHORT_USERNAMES = frozenset({"gif", "wiki", "vid", "bing", "pic", "bold", "imdb", "coub", "like"})


def _find_mentions(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in re.finditer("@", text):
        start = match.start()
        if start > 0 and _word(text[start - 1]):
            continue
        index = start + 1
        while index < len(text) and _alnum_(text[index]):
            index += 1
        name = text[start + 1 : index]
        if not 2 <= len(name) <= 32 or (index < len(text) and _word(text[index])):
            continue
        if len(name) < 4 and name.lower() not in _SHORT_USERNAMES:
            continue
        found.append((start, index, "mention"))
    return found


def _hashtag_letter(char: str) -> bool:
    return (
        char in "_\u200c\u00b7"
        or char.isalpha()
        or char.isdecimal()
        or "\u0d80" <= char <= "\u0dff"
    )


def _find_hashtags(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in re.finditer("#", text):
        start = match.start()
        if start > 0 and _hashtag_letter(text[start - 1]):
            continue
        index = start + 1
        while index < len(text) and _hashtag_letter(text[index]):
            index += 1
        body = text[start + 1 : index]
        if not body or (index < len(text) and text[index] == "#"):
            continue
        if any(c.isalpha() for c in body):
            found.append((start, min(index, start + 257), "hashtag"))
    return found


_TLDS = (
    "com|org|net|io|ru|cn|dev|ai|me|co|uk|de|app|info|edu|gov|fr|jp|xyz|tv|ly|gg|so|to|us|"
    "eu|ca|au|in|br|it|nl|es|ch|se|no|fi|pl|cz|kr|tw|hk|sg|site|online|tech|blog|page|link|me"
)
_URL_RE = re.compile(
    r"(?:(?:https?|ftp)://|(?:tg|ton)://)[^\s<>\"«»]+"
    rf"|(?<![\w@/#.-])(?:[A-Za-z0-9-]+\.)+(?:{_TLDS})(?::\d{{1,5}})?(?:[/?#][^\s<>\"«»]*)?(?![\w-])",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,8}(?![\w-])")
_BAD_URL_END = ".:;,('?!`"


def _find_urls(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _EMAIL_RE.finditer(text):
        found.append((match.start(), match.end(), "email"))
    for match in _URL_RE.finditer(text):
        end = match.end()
        while end > match.start() + 1 and text[end - 1] in _BAD_URL_END:
            end -= 1
        found.append((match.start(), end, "url"))
    return found


#: Entity types that nothing may be detected inside.
_CONTINUOUS = frozenset(
    {
        "code",
        "pre",
        "text_link",
        "text_mention",
        "url",
        "email",
        "custom_emoji",
        "bot_command",
        "mention",
        "hashtag",
        "cashtag",
    }
)


def detect_entities(text: str, existing: list[Entity] | None = None) -> list[Entity]:
    """Find ``bot_command``, ``mention``, ``hashtag``, ``url`` and ``email`` entities.

    ``/cmd`` and ``/cmd@botname`` are found at any position (the ``@botname`` part belongs to
    the command). Detected entities that intersect each other keep the earlier/longer one,
    and none is kept inside a code/pre/link entity of ``existing``. Returns the new ones only.
    """
    spans = _find_commands(text) + _find_mentions(text) + _find_hashtags(text) + _find_urls(text)
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    blocked: list[tuple[int, int]] = []
    for entity in existing or []:
        if entity.get("type") in _CONTINUOUS:
            start = _py_index(text, int(entity["offset"]))
            blocked.append((start, _py_index(text, int(entity["offset"]) + int(entity["length"]))))
    kept: list[tuple[int, int, str]] = []
    last_end = 0
    for start, end, kind in spans:
        if start < last_end or any(not (end <= s or start >= e) for s, e in blocked):
            continue
        kept.append((start, end, kind))
        last_end = end
    return [
        {"offset": utf16_offset(text, start), "length": utf16_len(text[start:end]), "type": kind}
        for start, end, kind in kept
    ]


def with_detected(text: str, entities: list[Entity]) -> list[Entity]:
    """``entities`` plus the automatically detected ones, sorted."""
    return sort_entities([*entities, *detect_entities(text, entities)])


# --------------------------------------------------------------------------------------------
# parse modes (ports of tdlib's parse_html / parse_markdown_v2 / parse_markdown)
# --------------------------------------------------------------------------------------------


def _parse_error(detail: str) -> ApiError:
    return ApiError.bad_request(f"can't parse entities: {detail}")


def _checked_link(url: str) -> str | None:
    """A simplified LinkManager::get_checked_link: normalise or reject a link target."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", url)
    if match is None:
        url = "http://" + url
        match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", url)
        assert match is not None
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme in ("tg", "ton"):
        return url
    if scheme not in ("http", "https", "ftp") or not rest:
        return None
    if not re.search(r"[/?#]", rest):
        url += "/"
    return url


def _link_entity(url: str) -> dict[str, Any] | None:
    """The extra fields of a link entity, or None if the link is not valid."""
    user = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
    if user is not None:
        return {
            "type": "text_mention",
            "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""},
        }
    checked = _checked_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "url": checked}


@dataclass
class _Out:
    """Plain text being built, with its UTF-16 length."""

    parts: list[str] = field(default_factory=list)
    u16: int = 0
    chars: int = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.u16 += utf16_len(chunk)
        self.chars += len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


def _is_space(char: str) -> bool:
    return char in " \t\r\n\0\v\f"


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos`` the way tdlib does (the ``;`` is optional)."""
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        value = 0
        if text.startswith("x", end):
            end += 1
            while end < len(text) and text[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < len(text) and text[end].isdigit() and text[end].isascii():
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        decoded = chr(value)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        names = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        name = text[pos + 1 : end]
        if name not in names:
            return None
        decoded = names[name]
    if text.startswith(";", end):
        end += 1
    return decoded, end


@dataclass
class _HtmlOpen:
    tag: str
    argument: str
    u16: int
    out_chars: int


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """Parse Telegram's HTML parse mode into plain text and entities."""
    out = _Out()
    entities: list[Entity] = []
    nested: list[_HtmlOpen] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def offset(k: int) -> int:
        return utf8_offset(text, k)

    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != "/":
            while i < n and not _is_space(text[i]) and text[i] != ">":
                i += 1
            if i >= n:
                raise _parse_error(f"Unclosed start tag at byte offset {offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise _parse_error(f'Unsupported start tag "{tag}" at byte offset {offset(begin)}')
            argument = ""
            while at(i) != ">":
                while i < n and _is_space(text[i]):
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while i < n and not _is_space(text[i]) and text[i] not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise _parse_error(
                        f'Empty attribute name in the tag "{tag}" at byte offset {offset(begin)}'
                    )
                while i < n and _is_space(text[i]):
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name == "expandable":
                        argument = "expandable"
                        continue
                    raise _parse_error(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {offset(begin)}"
                    )
                i += 1
                while i < n and _is_space(text[i]):
                    i += 1
                if i >= n:
                    raise _parse_error(f'Unclosed start tag "{tag}" at byte offset {offset(begin)}')
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and ((text[i].isalnum() and text[i].isascii()) or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        raise _parse_error(
                            f"Unexpected end of name token at byte offset {offset(token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(text[i])
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise _parse_error(f"Unclosed start tag at byte offset {offset(begin)}")
                if (tag == "a" and name == "href") or (tag == "tg-emoji" and name == "emoji-id"):
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
            if tag == "span" and argument != "spoiler":
                raise _parse_error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}'
                )
            nested.append(_HtmlOpen(tag, argument, out.u16, out.chars))
            i += 1
            continue
        # an end tag
        if not nested:
            raise _parse_error(f"Unexpected end tag at byte offset {offset(begin)}")
        while i < n and not _is_space(text[i]) and text[i] != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and _is_space(text[i]):
            i += 1
        if at(i) != ">":
            raise _parse_error(f"Unclosed end tag at byte offset {offset(begin)}")
        opened = nested[-1]
        if end_tag and end_tag != opened.tag:
            raise _parse_error(
                f"Unmatched end tag at byte offset {offset(begin)}, "
                f'expected "</{opened.tag}>", found "</{end_tag}>"'
            )
        length = out.u16 - opened.u16
        if length > 0:
            entity: Entity = {"offset": opened.u16, "length": length}
            tag = opened.tag
            if tag in _HTML_SIMPLE or (tag == "span" and opened.argument == "spoiler"):
                entity["type"] = _HTML_SIMPLE.get(tag, "spoiler")
            elif tag == "tg-emoji":
                if not opened.argument.isdigit() or int(opened.argument) == 0:
                    raise _parse_error("Invalid custom emoji identifier specified")
                entity.update(type="custom_emoji", custom_emoji_id=opened.argument)
            elif tag == "a":
                url = opened.argument or out.text()[opened.out_chars :]
                link = _link_entity(url)
                entity = {**entity, **link} if link else {}
            elif tag == "pre":
                last = entities[-1] if entities else None
                if (
                    last is not None
                    and last["type"] == "code"
                    and (last["offset"], last["length"]) == (opened.u16, length)
                    and last.get("language")
                ):
                    last["type"] = "pre"
                    entity = {}
                else:
                    entity["type"] = "pre"
            elif tag == "code":
                entity["type"] = "code"
                if opened.argument:
                    entity["language"] = opened.argument
            else:  # blockquote
                expandable = opened.argument == "expandable"
                entity["type"] = "expandable_blockquote" if expandable else "blockquote"
            if entity:
                entities.append(entity)
        nested.pop()
        i += 1
    if nested:
        raise _parse_error(f"Can't find end tag corresponding to start tag {nested[-1].tag}")
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    # a code entity covering exactly a pre entity is dropped (tdlib keeps the pre)
    pres = {(e["offset"], e["length"]) for e in entities if e["type"] == "pre"}
    entities = [
        e for e in entities if not (e["type"] == "code" and (e["offset"], e["length"]) in pres)
    ]
    return out.text(), sort_entities(entities)


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!\n"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


@dataclass
class _MdOpen:
    kind: str
    argument: str
    u16: int
    byte_index: int
    out_chars: int


def _reserved(char: str) -> ApiError:
    return _parse_error(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """Parse the MarkdownV2 parse mode into plain text and entities (tdlib's algorithm)."""
    out = _Out()
    entities: list[Entity] = []
    nested: list[_MdOpen] = []
    have_quote = False
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def name(opened: _MdOpen) -> str:
        return _MDV2_NAMES[opened.kind]

    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        reserved = _MDV2_RESERVED
        if nested and nested[-1].kind in ("code", "pre", "pre_code"):
            reserved = "`"
        if char not in reserved:
            out.add(char)
            i += 1
            continue
        is_end = False
        if nested:
            top = nested[-1].kind
            if have_quote and char == "\n" and at(i + 1) != ">":
                is_end = True
            else:
                is_end = {
                    "bold": char == "*",
                    "italic": char == "_" and at(i + 1) != "_",
                    "code": char == "`",
                    "pre": char == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                    "pre_code": char == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                    "text_link": char == "]",
                    "underline": char == "_" and at(i + 1) == "_",
                    "strikethrough": char == "~",
                    "spoiler": char == "|" and at(i + 1) == "|",
                    "custom_emoji": char == "]",
                    "blockquote": False,
                }[top]
        if not is_end:
            start = i
            kind: str | None = None
            argument = ""
            if char == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise _reserved(char)
                i += 1
                kind = "spoiler"
            elif char == "[":
                kind = "text_link"
            elif char == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while (
                        language_end < n
                        and not _is_space(text[language_end])
                        and (text[language_end] != "`")
                    ):
                        language_end += 1
                    if i != language_end and language_end < n and text[language_end] != "`":
                        kind = "pre_code"
                        argument = text[i:language_end]
                        i = language_end
                    if at(i) in "\n\r":
                        if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif char == "!":
                if at(i + 1) != "[":
                    raise _reserved(char)
                i += 1
                kind = "custom_emoji"
            elif char == "\n":
                out.add("\n")
                if at(i + 1) == ">":
                    i += 1
                    if not have_quote:
                        kind = "blockquote"
                        have_quote = True
            elif char == ">":
                if i != 0:
                    raise _reserved(char)
                kind = "blockquote"
                have_quote = True
            else:
                raise _reserved(char)
            if kind is not None:
                nested.append(_MdOpen(kind, argument, out.u16, start, out.chars))
            i += 1
            continue
        opened = nested[-1]
        if char == "\n" and opened.kind != "blockquote":
            raise _parse_error(
                f"Can't find end of {name(opened)} entity at byte offset "
                f"{utf8_offset(text, opened.byte_index)}"
            )
        skip = out.u16 == opened.u16
        extra: dict[str, Any] = {"type": opened.kind}
        if opened.kind in ("underline", "spoiler"):
            i += 1
        elif opened.kind in ("pre", "pre_code"):
            i += 2
            extra = {"type": "pre"}
            if opened.argument:
                extra["language"] = opened.argument
        elif opened.kind in ("text_link", "custom_emoji"):
            if at(i + 1) != "(":
                if opened.kind == "custom_emoji":
                    raise _parse_error("Custom emoji entity must contain a tg://emoji URL")
                url = out.text()[opened.out_chars :]
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    what = "a custom emoji URL" if opened.kind == "custom_emoji" else "a URL"
                    raise _parse_error(
                        f"Can't find end of {what} at byte offset {utf8_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if opened.kind == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if emoji is None:
                    raise _parse_error("Invalid custom emoji identifier specified")
                extra["custom_emoji_id"] = emoji.group(1)
            else:
                link = _link_entity(url)
                if link is None:
                    skip = True
                else:
                    extra = link
        elif opened.kind == "blockquote":
            have_quote = False
            out.add(char)
        if not skip:
            entities.append({"offset": opened.u16, "length": out.u16 - opened.u16, **extra})
        nested.pop()
        i += 1
    if have_quote and nested and nested[-1].kind == "blockquote":
        opened = nested.pop()
        if out.u16 > opened.u16:
            entities.append(
                {"offset": opened.u16, "length": out.u16 - opened.u16, "type": "blockquote"}
            )
    if nested:
        opened = nested[-1]
        raise _parse_error(
            f"Can't find end of {name(opened)} entity at byte offset "
            f"{utf8_offset(text, opened.byte_index)}"
        )
    return out.text(), sort_entities(entities)


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Parse the legacy Markdown parse mode (tdlib's algorithm: no nesting, few escapes)."""
    out = _Out()
    entities: list[Entity] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and at(i + 1) in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        language = ""
        is_pre = False
        if char == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while (
                language_end < n
                and not _is_space(text[language_end])
                and (text[language_end] != "`")
            ):
                language_end += 1
            if i != language_end and language_end < n and text[language_end] != "`":
                language = text[i:language_end]
                i = language_end
            if at(i) in "\n\r":
                if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                    i += 2
                else:
                    i += 1
        start_u16 = out.u16
        start_chars = out.chars
        while i < n and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.add(text[i])
            i += 1
        if i >= n:
            raise _parse_error(
                f"Can't find end of the entity starting at byte offset {utf8_offset(text, begin)}"
            )
        if out.u16 != start_u16:
            entity: Entity = {"offset": start_u16, "length": out.u16 - start_u16}
            if char == "_":
                entity["type"] = "italic"
            elif char == "*":
                entity["type"] = "bold"
            elif char == "[":
                if at(i + 1) != "(":
                    url = out.text()[start_chars:]
                else:
                    i += 2
                    url_chars = []
                    while i < n and text[i] != ")":
                        url_chars.append(text[i])
                        i += 1
                    url = "".join(url_chars)
                link = _link_entity(url)
                entity = {**entity, **link} if link else {}
            elif is_pre:
                entity["type"] = "pre"
                if language:
                    entity["language"] = language
            else:
                entity["type"] = "code"
            if entity:
                entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return out.text(), sort_entities(entities)


def format_text(
    text: str,
    parse_mode: str | None,
    entities: list[Entity] | None,
    *,
    allow_empty: bool = False,
) -> tuple[str, list[Entity]]:
    """Apply ``parse_mode`` (or explicit ``entities``, which take precedence) to ``text``.

    Then clean and trim the result like the server (an empty result raises ``message text is
    empty``) and add the automatically detected entities.
    """
    if entities is not None:
        plain, found = text, [dict(e) for e in entities]
    else:
        mode = (parse_mode or "").strip().lower()
        if mode == "html":
            plain, found = parse_html(text)
        elif mode == "markdownv2":
            plain, found = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, found = parse_markdown(text)
        elif mode == "":
            plain, found = text, []
        else:
            raise ApiError.bad_request(f'unsupported parse_mode "{parse_mode}"')
    plain, found = clean_text(plain, found, allow_empty=allow_empty)
    return plain, with_detected(plain, found)
