"""Pinyin initials for search as the cashier types (`AMXL` 阿莫西林), from pypinyin, not by hand."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

MAX_INITIALS = 50  # the pinyin columns' width


def initials(name: str) -> str:
    """The initials of the Chinese characters, upper case, with latin letters and digits kept as
    they are (维生素C片 → WSSCP); punctuation and spaces dropped."""
    out = []
    for chunk in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default"):
        out.append("".join(ch for ch in chunk if ch.isascii() and ch.isalnum()).upper())
    return "".join(out)[:MAX_INITIALS]
