"""Document text extraction (op ``index.extract``).

Supports Markdown, reStructuredText, plain text and HTML, all with the
standard library.
"""

import hashlib
import html
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".html", ".htm")


@dataclass
class ExtractedDocument:
    path: str
    text: str
    title: str
    fmt: str
    n_bytes: int
    sha256: str


def _decode(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text


# ---------------------------------------------------------------- markdown
_MD_FENCE = re.compile(r"^(```|~~~)")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REFLINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_MD_HR = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _markdown(text, fallback_title):
    title = ""
    out = []
    in_fence = False
    for line in text.splitlines():
        if _MD_FENCE.match(line.strip()):
            in_fence = not in_fence
            out.append("")
            continue
        if in_fence:
            out.append(line)          # keep code verbatim: it is searchable
            continue
        if _MD_HR.match(line) or _MD_TABLE_SEP.match(line):
            out.append("")
            continue
        m = _MD_HEADING.match(line)
        if m:
            heading = m.group(2)
            if not title and len(m.group(1)) == 1:
                title = heading
            out.append("")
            out.append(heading + ".")
            out.append("")
            continue
        line = _MD_QUOTE.sub("", line)
        line = _MD_IMAGE.sub(r"\1", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_REFLINK.sub(r"\1", line)
        line = _MD_CODE.sub(r"\1", line)
        line = _MD_EMPH.sub(r"\2", line)
        if line.lstrip().startswith("|"):
            line = " ; ".join(c.strip() for c in line.strip().strip("|").split("|"))
        out.append(line)
    return "\n".join(out), (title or fallback_title)


# ---------------------------------------------------------------- rst
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_RST_ROLE = re.compile(r":[a-z]+:`([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def _rst(text, fallback_title):
    lines = text.splitlines()
    title = ""
    out = []
    for i, line in enumerate(lines):
        if _RST_UNDERLINE.match(line):
            if not title and i > 0 and lines[i - 1].strip():
                title = lines[i - 1].strip()
            out.append("")
            continue
        if line.strip().startswith(".. "):
            continue
        line = _RST_ROLE.sub(r"\1", line)
        line = _RST_LITERAL.sub(r"\1", line)
        out.append(line)
    return "\n".join(out), (title or fallback_title)


# ---------------------------------------------------------------- html
class _HTMLText(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
              "h6", "pre", "tr", "table", "section", "article", "blockquote",
              "header", "footer", "dd", "dt"}
    _SKIP = {"script", "style", "nav", "noscript", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.title = ""
        self._skip_depth = 0
        self._in_title = False
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._BLOCK:
            self.parts.append("\n\n" if tag != "li" else "\n- ")
            self._in_heading = tag.startswith("h") and len(tag) == 2

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in self._BLOCK:
            if self._in_heading:
                self.parts.append(".")
                self._in_heading = False
            self.parts.append("\n\n" if tag != "li" else "\n")

    def handle_data(self, data):
        if self._skip_depth:
            return
        if self._in_title:
            self.title += data.strip()
        else:
            self.parts.append(data)


def _html(text, fallback_title):
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    body = html.unescape("".join(parser.parts))
    return body, (parser.title or fallback_title)


def _plain(text, fallback_title):
    first = text.strip().split("\n", 1)[0].strip()
    title = first if 0 < len(first) <= 80 else fallback_title
    return text, title


_CONVERTERS = {
    ".md": ("markdown", _markdown), ".markdown": ("markdown", _markdown),
    ".rst": ("rst", _rst),
    ".html": ("html", _html), ".htm": ("html", _html),
    ".txt": ("text", _plain),
}


def extract_text(path):
    """Read *path* and return an :class:`ExtractedDocument` (single return)."""
    with open(path, "rb") as fh:
        data = fh.read()
    suffix = os.path.splitext(path)[1].lower()
    fmt, convert = _CONVERTERS.get(suffix, ("text", _plain))
    stem = os.path.splitext(os.path.basename(path))[0].replace("-", " ").replace("_", " ")
    text, title = convert(_decode(data), stem)
    document = ExtractedDocument(path=path, text=text, title=title, fmt=fmt,
                                 n_bytes=len(data),
                                 sha256=hashlib.sha256(data).hexdigest())
    return document
