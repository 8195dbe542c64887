"""Text cleaning shared by the corpus extractors.

Every function here is pure (string in, string or bool out) so that it can be unit-tested on
tiny inputs. Placeholders such as ``%s``, ``%1$s``, ``%(name)s``, ``{0}`` and ``{name}`` are
kept verbatim: the tokenizer deals with them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

# --- character classes -------------------------------------------------------------------------

_CJK_IDEOGRAPH = (
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0002ebef"  # extensions B-F
)
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"  # CJK symbols/punctuation, full-width forms
_HAS_CJK = re.compile(f"[{_CJK_IDEOGRAPH}]")
_HAS_CJK_OR_PUNCT = re.compile(f"[{_CJK_IDEOGRAPH}{_CJK_PUNCT}]")
_CJK_CHARS = re.compile(f"[{_CJK_IDEOGRAPH}]")
_LATIN_WORDS = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_WS = re.compile(r"\s+")
_CJK_GAP = re.compile(rf"(?<=[{_CJK_IDEOGRAPH}{_CJK_PUNCT}])\s+(?=[{_CJK_IDEOGRAPH}{_CJK_PUNCT}])")

# --- placeholders ------------------------------------------------------------------------------

PLACEHOLDER_RE = re.compile(
    r"%\([^()\s]{1,40}\)[-+ 0#]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %(name)s
    r"|%(?:\d+\$)?[-+ 0#']*(?:\d+|\*)?(?:\.(?:\d+|\*))?"
    r"(?:hh|h|ll|l|L|q|j|z|t|I64|I32|I)?[diouxXeEfFgGcsSpaA@]"  # %s %5.2f %1$s %lu
    r"|%\d+"  # %1 (Qt / LibreOffice)
    r"|%[A-Z][A-Z0-9_]+%?"  # %PRODUCTNAME (LibreOffice)
    r"|\$\([A-Za-z0-9_]+\)"  # $(ARG1)
    r"|\$\{[A-Za-z0-9_.]+\}"  # ${name}
    r"|\$\d+"  # $1
    r"|\{\{\s*[A-Za-z0-9_.]*\s*\}\}"  # {{ name }}
    r"|\{[A-Za-z0-9_.\[\]]*(?:![rsa])?(?::[^{}\s]{0,12})?\}"  # {} {0} {name} {0:.2f}
)
_MASK = re.compile("\x00(\\d+)\x00")


def mask_placeholders(text: str) -> tuple[str, list[str]]:
    """Replace placeholders by NUL-delimited indexes so other rules cannot damage them."""
    found: list[str] = []

    def _sub(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"\x00{len(found) - 1}\x00"

    return PLACEHOLDER_RE.sub(_sub, text), found


def unmask_placeholders(text: str, found: list[str]) -> str:
    """Inverse of :func:`mask_placeholders`."""
    return _MASK.sub(lambda m: found[int(m.group(1))], text)


def _with_masked(text: str, func: Callable[[str], str]) -> str:
    """Apply ``func`` to ``text`` with its placeholders protected."""
    masked, found = mask_placeholders(text)
    return unmask_placeholders(func(masked), found)


def is_placeholder_only(text: str) -> bool:
    """True when nothing but placeholders, digits, punctuation and spaces is left."""
    rest = PLACEHOLDER_RE.sub(" ", text)
    return not any(ch.isalpha() for ch in rest)


# --- accelerators ------------------------------------------------------------------------------

_ACCEL_SUFFIX = re.compile(r"\s*[(（]\s*[_&~][A-Za-z0-9]\s*[)）]")  # 文件(_F)  打开(&O)
_AMP_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,30});")
_AMP_ACCEL = re.compile(r"&(?=[^\W_])")
_TILDE_ACCEL = re.compile(r"(?<![\w~])~(?=[^\W\d_])")
_UNDERSCORE_WORD_START = re.compile(r"(?<![\w\x00])_(?=[^\W_])")
_UNDERSCORE_MID = re.compile(r"(?<=[^\W\d_])_(?=[^\W_])")


def _strip_ampersands(text: str) -> str:
    """``&File`` -> ``File``, ``&&`` -> ``&``; HTML entities are left alone."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch != "&":
            out.append(ch)
            pos += 1
        elif text.startswith("&&", pos):
            out.append("&")
            pos += 2
        elif entity := _AMP_ENTITY.match(text, pos):
            out.append(entity.group(0))
            pos = entity.end()
        elif _AMP_ACCEL.match(text, pos):
            pos += 1
        else:
            out.append(ch)
            pos += 1
    return "".join(out)


def _looks_like_identifier(text: str) -> bool:
    """``max_size`` or ``foo_bar.baz``: a lone lower-case token with an underscore."""
    return " " not in text.strip() and text.strip() == text.strip().lower()


def _strip_underscores(text: str) -> str:
    """Remove GTK mnemonic underscores (``_File``, ``Save _As``, ``Mo_ve``)."""
    text = _UNDERSCORE_WORD_START.sub("", text, count=1) if text.count("_") == 1 else text
    if text.count("_") == 1 and not _looks_like_identifier(text):
        text = _UNDERSCORE_MID.sub("", text, count=1)
    return text


def strip_accelerators(text: str) -> str:
    """Strip keyboard-accelerator markers used by GTK (``_``), Qt/Windows (``&``) and LibreOffice
    (``~``), including the ``(_F)`` / ``(&F)`` suffixes of Chinese catalogs.

    Placeholders are protected, so ``%(user_name)s`` survives.
    """

    def _strip(masked: str) -> str:
        masked = _ACCEL_SUFFIX.sub("", masked)
        masked = _strip_ampersands(masked)
        masked = _TILDE_ACCEL.sub("", masked)
        return _strip_underscores(masked)

    return _with_masked(text, _strip)


# --- markup ------------------------------------------------------------------------------------

_INLINE_TAGS = (
    "a|abbr|acronym|ahelp|alt|application|b|big|bookmark_value|caseinline|cite|code|command|"
    "computeroutput|defaultinline|del|dfn|em|emph|emphasis|filename|font|guibutton|guilabel|"
    "guimenu|guimenuitem|i|ins|item|kbd|keycode|link|literal|markup|menuitem|option|q|quote|"
    "replaceable|s|samp|small|span|strike|strong|sub|sup|switchinline|systemitem|tt|u|ulink|"
    "userinput|var|variable|xref"
)
_BLOCK_TAGS = (
    "blockquote|bookmark|br|center|dd|div|dl|dt|footnote|h[1-6]|hr|img|input|li|ol|p|para|"
    "pre|table|td|th|title|tr|ul"
)
_INLINE_TAG = re.compile(rf"</?(?:{_INLINE_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_ATTR_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))+\s*/?>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def strip_markup(text: str) -> str:
    """Remove HTML/XML/Pango tags and comments but keep ``<file>``-style command-line operands.

    Inline tags vanish; block tags and comments become a space.
    """
    text = _COMMENT.sub(" ", text)
    text = _BLOCK_TAG.sub(" ", text)
    text = _INLINE_TAG.sub("", text)
    return _ATTR_TAG.sub("", text)


def unescape_entities(text: str) -> str:
    """Decode HTML/XML character entities (``&amp;``, ``&#39;``, ``&nbsp;``...)."""
    return html.unescape(text)


def collapse_whitespace(text: str) -> str:
    """Turn every run of whitespace (tabs and newlines included) into one space; strip ends."""
    return _WS.sub(" ", text.replace("\u00ad", "").replace("\u200b", "")).strip()


def tidy_markup_spaces(text: str) -> str:
    """Remove spaces left by tag stripping: before punctuation, inside brackets and between
    two CJK characters."""
    text = re.sub(r"\s+([,;:!?.](?=\s|$)|[)\]}，。；：！？）])", r"\1", text)
    text = re.sub(r"([(\[{（])\s+", r"\1", text)
    return _CJK_GAP.sub("", text)


def clean_ui_text(text: str) -> str:
    """Full cleaning chain for a gettext / UI string or an HTML fragment.

    accelerators -> GCC quote directives -> markup -> entities -> whitespace.
    """
    text = strip_accelerators(text)
    text = text.replace("%<", "'").replace("%>", "'")  # GCC's quoting directives
    text = strip_markup(text)
    text = unescape_entities(text)
    text = collapse_whitespace(text)
    return tidy_markup_spaces(text)


def clean_plain(text: str) -> str:
    """Cleaning for plain prose (chat turns, descriptions): entities and whitespace only."""
    return collapse_whitespace(unescape_entities(text))


# --- traditional vs simplified Chinese --------------------------------------------------------

# Frequent characters whose traditional and simplified forms differ, aligned pairwise.
_TRADITIONAL = (
    "個們這來時說對會見為無與麼點還過開關門問間電號體發頁網檔資訊設選擇顯視錯誤請輸舊將從應當"
    "數據庫儲載讀寫屬標題區塊紀錄記刪編輯幫檢頭長項務動態變執狀類單雙產處統計認證書館圖畫線條"
    "顏樣實際現導覽歷權帳戶碼鑰憑傳報鍵盤擊連結瀏機構專參轉換義話語環境經歲歡樂氣車東華國聽聲讓"
    "給種紅綠藍黃斷層夠嗎麗黨節葉蘭萬壓縮讚鐘鏈銷鎖閱隱險陽陰雜雖靜韓順預領頻額風飛養騎驗"
    "魚鳥鹽麥齊齒龍龜簽詳細夾組織員獲擁備規則質購買賣價費貨幣匯總稅訂試級紙張歸隊團廣場陸島灣舉譯"
    "調適觀邊遠達運遞鏡鐵銀錢針鈕閉啟聯絡純約練終續維護識議評論許誰課談謝貼負責財復髮"
)
_SIMPLIFIED = (
    "个们这来时说对会见为无与么点还过开关门问间电号体发页网档资讯设选择显视错误请输旧将从应当"
    "数据库储载读写属标题区块纪录记删编辑帮检头长项务动态变执状类单双产处统计认证书馆图画线条"
    "颜样实际现导览历权帐户码钥凭传报键盘击连结浏机构专参转换义话语环境经岁欢乐气车东华国听声让"
    "给种红绿蓝黄断层够吗丽党节叶兰万压缩赞钟链销锁阅隐险阳阴杂虽静韩顺预领频额风飞养骑验"
    "鱼鸟盐麦齐齿龙龟签详细夹组织员获拥备规则质购买卖价费货币汇总税订试级纸张归队团广场陆岛湾举译"
    "调适观边远达运递镜铁银钱针钮闭启联络纯约练终续维护识议评论许谁课谈谢贴负责财复发"
)
_TRADITIONAL_ONLY = frozenset(_TRADITIONAL) - frozenset(_SIMPLIFIED)
_SIMPLIFIED_ONLY = frozenset(_SIMPLIFIED) - frozenset(_TRADITIONAL)


def looks_traditional(text: str) -> bool:
    """True when ``text`` uses more traditional-only than simplified-only frequent characters
    (mislabelled ``zh_Hans`` catalogs exist)."""
    traditional = sum(ch in _TRADITIONAL_ONLY for ch in text)
    simplified = sum(ch in _SIMPLIFIED_ONLY for ch in text)
    return traditional > simplified


# --- predicates --------------------------------------------------------------------------------


def has_cjk(text: str) -> bool:
    """True if ``text`` contains at least one CJK ideograph."""
    return _HAS_CJK.search(text) is not None


def has_cjk_or_fullwidth(text: str) -> bool:
    """True if ``text`` contains a CJK ideograph, CJK punctuation or a full-width form."""
    return _HAS_CJK_OR_PUNCT.search(text) is not None


def word_count(text: str) -> int:
    """Whitespace-separated words (the measure used for English length limits)."""
    return len(text.split())


def zh_length(text: str) -> int:
    """Length of a Chinese string in 'units': one per ideograph plus one per Latin word."""
    return len(_CJK_CHARS.findall(text)) + len(_LATIN_WORDS.findall(_CJK_CHARS.sub(" ", text)))


def length_ratio_ok(en: str, zh: str, low: float = 0.5, high: float = 3.5) -> bool:
    """Plausibility of an en/zh pair: Chinese units per English word within ``[low, high]``.

    Very short strings (at most 3 English words) get looser bounds because a single word can
    legitimately become 1-8 characters.
    """
    words = max(word_count(en), 1)
    units = zh_length(zh)
    if units == 0:
        return False
    ratio = units / words
    if words <= 3:
        return 0.25 <= ratio <= 8.0
    return low <= ratio <= high


def normalize_key(text: str) -> str:
    """Key used for duplicate detection across splits: NFKC, casefold, collapsed whitespace."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def truncate_words(text: str, limit: int) -> str:
    """Keep the first ``limit`` whitespace-separated words."""
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit])
