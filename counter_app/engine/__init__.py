"""The embedded settlement engine: pure, Decimal, no I/O (engine-contract.md).

claim = parse_claim(json.loads(text, parse_float=Decimal))
settlement = settle(claim, pack)
"""

from .claim import Claim, ClaimError, claim_to_json, parse_claim
from .policy import PackError, PolicyPack, pack_from_mapping
from .settlement import CentreFund, PackNotInForce, SettlementResult, settle

__all__ = [
    "CentreFund",
    "Claim",
    "ClaimError",
    "PackError",
    "PackNotInForce",
    "PolicyPack",
    "SettlementResult",
    "claim_to_json",
    "pack_from_mapping",
    "parse_claim",
    "settle",
]
