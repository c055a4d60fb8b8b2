"""Finding the person from what was scanned (WH-26)."""

from __future__ import annotations

import pytest

from counter_app.identity import CertnoError
from counter_app.services import lookup
from counter_app.services.demo import create_demo
from counter_app.services.errors import NotFound, ServiceError
from counter_app.store import Database
from counter_app.store.models import Credential

from .world import build


def test_find_by_certno_card_evoucher_and_psn_no(sqlite_url):
    db = Database(sqlite_url)
    create_demo(db, 30, seed=5)
    with db.sessions() as s:
        card, evoucher = s.query(Credential).filter_by(person_id=3).order_by(Credential.kind).all()
        person = lookup.person_view(s, 3, 2024)
        for scanned in (
            person.certno,
            person.certno.lower(),
            card.code,
            evoucher.code,
            person.psn_no,
            f" {card.code}\n",
        ):
            assert lookup.find_person_id(s, scanned) == 3, scanned


def test_bad_and_unknown_scans_say_so(sqlite_url):
    w = build(sqlite_url)
    with w.db.sessions() as s:
        with pytest.raises(CertnoError, match="校验位错误"):
            lookup.find_person_id(
                s, w.certnos["child"][:-1] + ("0" if w.certnos["child"][-1] != "0" else "1")
            )
        with pytest.raises(NotFound, match="未找到参保人"):
            lookup.find_person_id(s, "EVUNKNOWN")
        with pytest.raises(ServiceError, match="请扫描"):
            lookup.find_person_id(s, "   ")


def test_person_view_shows_providers_in_binding_order_with_their_relation(sqlite_url):
    w = build(sqlite_url)
    with w.db.sessions() as s:
        view = lookup.person_view(s, w.child, 2024)
    assert view.masked_certno == w.certnos["child"][:6] + "********" + w.certnos["child"][-4:]
    assert [(p.name, p.relation, str(p.balance)) for p in view.providers] == [
        ("李芳", "mother", "500.00"),
        ("张伟", "father", "300.00"),
    ]


def test_the_scan_field_refuses_control_characters_megabytes_and_bad_checksums_with_a_reason(sqlite_url):
    import pytest

    from counter_app.identity import CertnoError
    from counter_app.services.errors import ServiceError
    from counter_app.services.lookup import MAX_SCAN, find_person_id

    w = build(sqlite_url)
    good = w.certnos["child"]
    bad_checksum = good[:17] + ("0" if good[17] != "0" else "1")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in good)  # ３４０２… as an IME may type it
    with w.db.sessions() as s:
        for text, message in (
            ("34020\x0020150301", "控制字符"),
            ("9" * 2_000_000, f"最多 {MAX_SCAN} 个"),
            ("\x1b[2J", "控制字符"),
            (bad_checksum, "校验位错误"),
            ("   ", "请扫描"),
        ):
            with pytest.raises((ServiceError, CertnoError), match=message):
                find_person_id(s, text)
        with pytest.raises(ServiceError, match="未找到参保人"):
            find_person_id(s, full_width)
        assert find_person_id(s, f"  {good.lower()}  ") == w.child
