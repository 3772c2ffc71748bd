"""Text normalisation applied between extraction and chunking (op ``index.normalise``)."""

import re
import unicodedata

# Typographic characters folded to ASCII equivalents.
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2013": "-", "\u2014": " - ", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\ufeff": "", "\u00ad": "",
    "\u2022": "-", "\u25cf": "-", "\u25aa": "-", "\u2023": "-",
})

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_SPACES = re.compile(r"[ \t]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def _join_wrapped_lines(text):
    """Re-flow hard-wrapped paragraphs; keep list items and blank lines."""
    out = []
    for paragraph in text.split("\n\n"):
        lines = [ln.strip() for ln in paragraph.split("\n")]
        merged = []
        for line in lines:
            if not line:
                continue
            if merged and not _LIST_ITEM.match(line) and not merged[-1].endswith(":"):
                merged[-1] = merged[-1] + " " + line
            else:
                merged.append(line)
        if merged:
            out.append("\n".join(merged))
    return "\n\n".join(out)


def normalise_text(text):
    """Unicode NFKC, typographic folding, control-char removal, de-hyphenation,
    paragraph re-flow and whitespace collapsing.  Single return (profiler)."""
    value = unicodedata.normalize("NFKC", text)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.translate(_TRANSLATE)
    value = _CONTROL.sub("", value)
    value = _HYPHEN_BREAK.sub(r"\1\2", value)
    value = _SPACES.sub(" ", value)
    value = _MANY_NEWLINES.sub("\n\n", value)
    value = _join_wrapped_lines(value)
    normalised = value.strip()
    return normalised
