"""Settle a claim given as JSON text: decode, check, choose the pack, settle.

This is the engine's face for JSON callers (the `settle` command, integrations, the bench); the
counter services build `Claim` values from the store and call the engine directly.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .engine import ClaimError, PackError, PackNotInForce, Settlement, parse_claim, settle
from .policies import load_pack, pack_ids


def decode(text: str) -> Any:
    """JSON with numbers as Decimal (never float), so money sent as a number is still seen exactly."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ClaimError([f"claim: not valid JSON: {exc}"]) from None


def settle_data(data: Any) -> Settlement:
    """A Settlement from decoded claim JSON; ClaimError (problem lines) on any bad input."""
    claim = parse_claim(data, pack_ids())
    try:
        return settle(claim, load_pack(claim.policy))
    except PackNotInForce as exc:
        raise ClaimError([str(exc)]) from None
    except PackError as exc:
        raise ClaimError([f"policy: {exc}"]) from None


def settle_text(text: str) -> dict[str, Any]:
    return settle_data(decode(text)).to_json()
