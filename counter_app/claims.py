"""Settle a claim given as JSON text: decode, check, choose the pack, settle.

This is the engine's face for JSON callers (the `settle` command, integrations, the bench); the
counter services build `Claim` values from the store and call the engine directly.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .engine import ClaimError, PackError, PackNotInForce, SettlementResult, parse_claim, settle
from .engine.claim import MAX_CLAIM_CHARS, MAX_DEPTH, Claim
from .engine.fast import fast_claim
from .policies import load_pack, pack_ids


def decode(text: str) -> Any:
    """JSON with numbers as Decimal (never float), so money sent as a number is still seen exactly.
    Oversized text, nesting the decoder cannot follow and absurd numbers are ClaimErrors too."""
    if not isinstance(text, str):
        raise ClaimError([f"claim: expected JSON text, got {type(text).__name__}"])
    if len(text) > MAX_CLAIM_CHARS:
        raise ClaimError([f"claim: {len(text)} characters, more than MAX_CLAIM_CHARS = {MAX_CLAIM_CHARS}"])
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ClaimError([f"claim: not valid JSON: {exc}"]) from None
    except RecursionError:
        raise ClaimError(
            [f"claim: JSON nested far deeper than a claim is (MAX_DEPTH = {MAX_DEPTH})"]
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits, or NaN
        raise ClaimError([f"claim: unacceptable JSON number: {str(exc)[:120]}"]) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def settle_data(data: Any) -> SettlementResult:
    """A SettlementResult from decoded claim JSON; ClaimError (problem lines) on any bad input."""
    return _settle(parse_claim(data, pack_ids()))


def settle_text(text: str) -> dict[str, Any]:
    """The settlement JSON of a claim's JSON text. A well-formed claim takes the fast path (typed
    decoding, engine/fast.py); anything else is decoded and checked field by field, naming every
    problem, exactly as before the fast path existed."""
    claim = fast_claim(text, pack_ids()) if isinstance(text, str) else None
    if claim is None:
        return settle_data(decode(text)).to_json()
    return _settle(claim).to_json()


def _settle(claim: Claim) -> SettlementResult:
    try:
        return settle(claim, load_pack(claim.policy))
    except PackNotInForce as exc:
        raise ClaimError([str(exc)]) from None
    except PackError as exc:
        raise ClaimError([f"policy: {exc}"]) from None
