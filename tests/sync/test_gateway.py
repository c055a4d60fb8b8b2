"""The gateway's signature, checked at its exact edges with a fixed clock (no waiting on time)."""

from __future__ import annotations

import hashlib

from counter_app.sync.gateway import Credentials, sign
from reference_centre.gateway import Verifier

CREDS = Credentials("H34020200001", "s3cret-passtoken")
NOW = 1_764_400_000.0


def test_the_signature_is_sha256_of_timestamp_passtoken_nonce_timestamp():
    h = sign(CREDS, now=NOW, nonce="abc")
    assert h == {
        "x-tif-paasid": "H34020200001",
        "x-tif-timestamp": "1764400000",
        "x-tif-nonce": "abc",
        "x-tif-signature": hashlib.sha256(b"1764400000s3cret-passtokenabc1764400000").hexdigest(),
    }


def test_the_window_is_five_minutes_each_way_and_a_nonce_counts_once():
    gate = Verifier({CREDS.paasid: CREDS.passtoken})
    assert gate.refusal(sign(CREDS, now=NOW - 300, nonce="n1"), now=NOW) is None
    assert gate.refusal(sign(CREDS, now=NOW + 300, nonce="n2"), now=NOW) is None
    assert gate.refusal(sign(CREDS, now=NOW - 301, nonce="n3"), now=NOW) == "时间戳与网关时间相差超过 300 秒"
    assert gate.refusal(sign(CREDS, now=NOW + 301, nonce="n4"), now=NOW) == "时间戳与网关时间相差超过 300 秒"
    assert gate.refusal(sign(CREDS, now=NOW, nonce="n1"), now=NOW) == "nonce 已使用过（重放）"
    tampered = dict(sign(CREDS, now=NOW, nonce="n5"), **{"x-tif-timestamp": str(int(NOW) + 1)})
    assert gate.refusal(tampered, now=NOW) == "签名不正确"
    assert gate.refusal({"x-tif-paasid": "H34020200001"}, now=NOW).startswith(
        "缺少网关签名头：x-tif-timestamp"
    )
