"""Loads policy packs from `resources/policies/*.toml` (the engine itself does no I/O)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from .engine.policy import PackError, PolicyPack, pack_from_mapping
from .resources import resource_dir

if TYPE_CHECKING:
    from .engine.interest import InterestRules


@functools.cache
def policy_dir() -> Path:
    return resource_dir() / "policies"


@functools.cache
def pack_ids() -> tuple[str, ...]:
    """The shipped packs' ids (cached: the folder is part of the installed application)."""
    return tuple(sorted(p.stem for p in policy_dir().glob("*.toml")))


def load_pack_file(path: Path) -> PolicyPack:
    """One pack from its file; a missing, unreadable or malformed file is a PackError naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError(f"policy pack {path.stem}: no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"policy pack {path.stem}: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"policy pack {path.stem}: {path.name} is not valid TOML: {exc}") from None
    return pack_from_mapping(path.stem, data)


@functools.cache
def load_pack(pack_id: str) -> PolicyPack:
    """A shipped pack by id (cached: packs are immutable data)."""
    if pack_id not in pack_ids():
        raise PackError(f"unknown policy pack {pack_id!r} (known: {', '.join(pack_ids())})")
    return load_pack_file(policy_dir() / f"{pack_id}.toml")


@functools.cache
def load_interest_rules() -> InterestRules:
    """The deposit rates for personal-account interest (WH-11), `resources/rates/deposit-rates.toml`."""
    from .engine.interest import RatesError, rates_from_mapping

    path = resource_dir() / "rates" / "deposit-rates.toml"
    try:
        return rates_from_mapping(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RatesError(f"deposit rates: cannot read {path}: {exc}") from None
