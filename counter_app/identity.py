"""Resident ID numbers (GB 11643-1999): checksum, birth date, sex, and masking for display."""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII digits: `\d` would take full-width ones too


class CertnoError(ValueError):
    """Not a valid 18-digit resident ID number; the message says why."""


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=False)) % 11]


def normalise(certno: str) -> str:
    """Upper-case X, no spaces; raises CertnoError when the shape, date or checksum is wrong."""
    text = certno.strip().upper() if isinstance(certno, str) else ""
    if not _SHAPE.fullmatch(text):
        shown = text[:20] + ("…" if len(text) > 20 else "")
        raise CertnoError(f"身份证号应为18位数字（末位可为X）：{shown!r}")
    try:
        dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise CertnoError(f"身份证号中的出生日期无效：{text[6:14]}") from None
    if check_digit(text[:17]) != text[17]:
        raise CertnoError(f"身份证号校验位错误：{text}（应为 {check_digit(text[:17])}）")
    return text


def is_valid(certno: str) -> bool:
    try:
        normalise(certno)
    except CertnoError:
        return False
    return True


def birth_date(certno: str) -> dt.date:
    return dt.date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))


def is_male(certno: str) -> bool:
    """The 17th digit is odd for men."""
    return int(certno[16]) % 2 == 1


def mask(certno: str) -> str:
    """First 6 and last 4 shown, as slips and screens print it."""
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:]


def make(region: str, born: dt.date, serial: int) -> str:
    """A valid ID number (demo data and tests): 6-digit region, birth date, 3-digit serial."""
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)
