"""JSON on the wire to the centre: money as JSON numbers written from the exact Decimal, read back
into Decimal, never through a float (national-interface.md, "Types").

msgspec writes a Decimal as its exact digits (`12.30`); the standard library reads a number with a
fraction into Decimal when told (`parse_float`), and a whole number as int.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(decimal_format="number")


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj)


def dumps_text(obj: Any) -> str:
    return _encoder.encode(obj).decode("utf-8")


def loads(data: bytes | str) -> Any:
    return json.loads(data, parse_float=Decimal)
