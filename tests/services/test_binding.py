"""Family binding rules (HF-1..3, HF-6, HF-2.2, WH-25): each refusal names its rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from counter_app import identity
from counter_app.policies import load_pack
from counter_app.services import binding as svc
from counter_app.services.errors import BindingRefused, NotFound
from counter_app.store.models import BindingProof, FamilyBinding, Person

from .world import build, person

HEFEI = load_pack("hefei-2019")
WUHU = load_pack("wuhu-2022")


def req(
    provider: str,
    beneficiary: str,
    relation: str = "child",
    *,
    again: str | None = None,
    signed: bool = True,
    proofs=(),
) -> svc.BindRequest:
    return svc.BindRequest(
        provider, beneficiary, beneficiary if again is None else again, relation, signed, proofs
    )


def refused(w, request, pack=HEFEI) -> BindingRefused:
    with pytest.raises(BindingRefused) as err:
        svc.bind(w.db, w.clerk, pack, request, w.proofs)
    return err.value


@pytest.fixture
def w(db_url, tmp_path):
    world = build(db_url)
    world.proofs = tmp_path / "proofs"
    world.clerk = world.actor("agency_clerk")
    return world


def add_children(w, n: int, start: int = 10) -> list[str]:
    certnos = []
    with w.db.transaction() as s:
        for k in range(n):
            certno = identity.make("340202", dt.date(2010, 1, 1 + k), 20 + 2 * k)
            person(s, start + k, f"孩子{k}", certno, "390")
            certnos.append(certno)
    return certnos


def test_HF_3_binding_with_commitment_and_proof_is_recorded(w):
    proof = svc.Proof("household_register", "户口簿.jpg", b"\xff\xd8 scanned page")
    printed = svc.prepare_commitment(
        w.db,
        HEFEI,
        w.certnos["retiree"],
        w.certnos["stranger"],
        "child",
        "芜湖市第一人民医院",
        dt.date(2024, 5, 10),
    )
    assert "享受人：赵强（" + identity.mask(w.certnos["stranger"]) + "），为提供人之子女" in printed.text
    request = svc.BindRequest(
        w.certnos["retiree"],
        w.certnos["stranger"],
        w.certnos["stranger"],
        "child",
        True,
        (proof,),
        printed.institution,
        printed.on,
        printed.sha256,
    )
    other = svc.prepare_commitment(
        w.db,
        HEFEI,
        w.certnos["retiree"],
        w.certnos["child"],
        "child",
        "芜湖市第一人民医院",
        dt.date(2024, 5, 10),
    )  # signed for somebody else
    with pytest.raises(BindingRefused, match="承诺书与本次绑定") as err:
        svc.bind(w.db, w.clerk, HEFEI, dataclasses.replace(request, commitment_sha256=other.sha256), w.proofs)
    assert err.value.rule == "HF-3"
    bid = svc.bind(w.db, w.clerk, HEFEI, request, w.proofs)
    with w.db.sessions() as s:
        b = s.get(FamilyBinding, bid)
        assert (b.provider.name, b.beneficiary.name, b.relation, b.ended_at) == (
            "王建国",
            "赵强",
            "child",
            None,
        )
        assert b.commitment_sha256 == printed.sha256 == hashlib.sha256(printed.text.encode()).hexdigest()
        stored = s.scalar(select(BindingProof))
    digest = hashlib.sha256(proof.content).hexdigest()
    assert stored.sha256 == digest and (w.proofs / digest[:2] / digest).read_bytes() == proof.content


def test_HF_3_the_printed_commitment_makes_all_three_promises_in_order_naming_the_beneficiary(w):
    """The Hefei attachment's 承诺书: 一 knowing the notice and paying relatives from 历年结余, 二 the
    relatives' details true, 三 bearing the other liabilities of a false commitment; read back
    from the PDF as the provider signs it."""
    import io

    from pypdf import PdfReader

    from counter_app.printing import commitment

    printed = svc.prepare_commitment(
        w.db,
        HEFEI,
        w.certnos["retiree"],
        w.certnos["stranger"],
        "child",
        "合肥市第二人民医院",
        dt.date(2024, 5, 10),
    )
    named = f"直系亲属赵强（{identity.mask(w.certnos['stranger'])}）（子女）之间建立"
    assert named in printed.text
    lines = printed.text.splitlines()
    firsts = [n for n, line in enumerate(lines) if line.startswith(("一、", "二、", "三、"))]
    assert [lines[n][:2] for n in firsts] == ["一、", "二、", "三、"] and firsts == sorted(firsts)
    assert "历年结余资金" in lines[firsts[0]] and "虚假承诺" in lines[firsts[2]]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(commitment.render(printed.text))).pages)
    flat = text.replace("\n", "").replace(" ", "")
    for promise in ("一、本人已经知晓", "二、本人确认", "三、本人愿意承担因虚假承诺所导致的其他责任"):
        assert promise in flat, promise
    wuhu = svc.prepare_commitment(
        w.db,
        load_pack("wuhu-2022"),
        w.certnos["retiree"],
        w.certnos["stranger"],
        "child",
        "芜湖市第一人民医院",
        dt.date(2024, 5, 10),
    )
    assert "历年结余" not in wuhu.text and wuhu.text.count("、本人") == 3  # WH-8 (2) has no such limit


def test_HF_3_beneficiary_id_must_be_entered_twice_the_same(w):
    e = refused(w, req(w.certnos["retiree"], w.certnos["stranger"], again=w.certnos["child"]))
    assert e.rule == "HF-3" and "两次输入" in e.message


def test_HF_3_commitment_must_be_signed(w):
    assert refused(w, req(w.certnos["retiree"], w.certnos["stranger"], signed=False)).rule == "HF-3"


def test_HF_1_1_only_father_mother_spouse_child(w):
    assert refused(w, req(w.certnos["retiree"], w.certnos["stranger"], "uncle")).rule == "HF-1.1"
    assert refused(w, req(w.certnos["retiree"], w.certnos["retiree"])).rule == "HF-1.1"


def test_HF_1_2_provider_must_be_an_employee(w):
    assert refused(w, req(w.certnos["child"], w.certnos["stranger"], "father")).rule == "HF-1.2"


def test_HF_1_3_beneficiary_must_be_normal(w):
    with w.db.transaction() as s:
        s.scalar(select(Person).where(Person.certno == w.certnos["stranger"])).status = "suspended"
    assert refused(w, req(w.certnos["retiree"], w.certnos["stranger"])).rule == "HF-1.3"


def test_HF_6_at_most_four_children_and_seven_in_all(w):
    kids = add_children(w, 5)
    for certno in kids[:4]:
        svc.bind(w.db, w.clerk, HEFEI, req(w.certnos["retiree"], certno), w.proofs)
    e = refused(w, req(w.certnos["retiree"], kids[4]))
    assert e.rule == "HF-6" and "子女 4 人" in e.message


def test_HF_6_one_spouse(w):
    svc.bind(w.db, w.clerk, HEFEI, req(w.certnos["retiree"], w.certnos["stranger"], "spouse"), w.proofs)
    assert refused(w, req(w.certnos["retiree"], w.certnos["child"], "spouse")).rule == "HF-6"


def test_wuhu_limits_one_spouse_father_and_mother_and_no_count_of_children(w):
    marriage = svc.Proof("marriage_certificate", "结婚证.jpg", b"scan")
    svc.bind(
        w.db,
        w.clerk,
        WUHU,
        req(w.certnos["retiree"], w.certnos["stranger"], "spouse", proofs=(marriage,)),
        w.proofs,
    )
    second = identity.make("340202", dt.date(1960, 3, 3), 24)
    with w.db.transaction() as s:
        person(s, 30, "另一配偶", second, "390")
    e = refused(w, req(w.certnos["retiree"], second, "spouse", proofs=(marriage,)), pack=WUHU)
    assert e.rule == "WH-8 (2)" and "最多绑定配偶 1 人" in e.message
    birth = svc.Proof("birth_certificate", "出生医学证明.jpg", b"scan")
    for certno in add_children(w, 5):
        svc.bind(w.db, w.clerk, WUHU, req(w.certnos["retiree"], certno, proofs=(birth,)), w.proofs)


def test_same_pair_cannot_be_bound_twice(w):
    e = refused(w, req(w.certnos["mother"], w.certnos["child"]))
    assert "已与该提供人绑定" in e.message


def test_malformed_or_unknown_id_numbers(w):
    assert "校验位错误" in refused(w, req(w.certnos["retiree"][:-1] + "0", w.certnos["stranger"])).message
    with pytest.raises(NotFound):
        svc.bind(
            w.db,
            w.clerk,
            HEFEI,
            req(w.certnos["retiree"], identity.make("110105", dt.date(2000, 1, 1), 1)),
            w.proofs,
        )


def test_WH_25_empty_proof_is_refused_and_nothing_written(w):
    empty = (svc.Proof("birth_certificate", "x.pdf", b""),)
    assert (
        refused(w, req(w.certnos["retiree"], w.certnos["stranger"], proofs=empty), pack=WUHU).rule == "WH-25"
    )
    assert (
        refused(w, req(w.certnos["retiree"], w.certnos["stranger"], proofs=empty)).rule == "HF-3"
    )  # Hefei's pack
    with w.db.sessions() as s:
        assert len(svc.active_bindings(s, 4)) == 0


def test_HF_3_only_the_provider_unbinds(w):
    with w.db.sessions() as s:
        binding_id = s.scalar(select(FamilyBinding.id).where(FamilyBinding.provider_id == w.mother))
    with pytest.raises(BindingRefused, match="只有提供人本人"):
        svc.unbind(w.db, w.clerk, binding_id, w.certnos["father"])
    svc.unbind(w.db, w.clerk, binding_id, w.certnos["mother"])
    with w.db.sessions() as s:
        assert s.get(FamilyBinding, binding_id).ended_reason == "提供人解除"


def test_HF_2_2_account_withdrawal_ends_all_of_the_providers_bindings(w):
    svc.bind(w.db, w.clerk, HEFEI, req(w.certnos["mother"], w.certnos["stranger"], "spouse"), w.proofs)
    assert svc.close_account(w.db, w.clerk, w.mother, "提取") == 2
    with w.db.sessions() as s:
        assert svc.active_bindings(s, w.mother) == []
    assert refused(w, req(w.certnos["mother"], w.certnos["retiree"], "father")).rule == "HF-2.2"


def test_HF_1_1_a_child_older_than_the_provider_or_a_parent_younger_is_refused(w):
    e = refused(w, req(w.certnos["mother"], w.certnos["retiree"], "child"))  # a man born 1958 as her child
    assert e.rule == "HF-1.1" and "不应比提供人" in e.message and "年长" in e.message
    e = refused(
        w, req(w.certnos["retiree"], w.certnos["stranger"], "father")
    )  # born 1990, as the father of 1958
    assert e.rule == "HF-1.1" and "年轻" in e.message
    e = refused(w, req(w.certnos["stranger"], w.certnos["retiree"], "mother"))  # the retiree is a man
    assert e.rule == "HF-1.1" and "性别" in e.message


def test_WH_25_proofs_are_required_in_wuhu_and_must_fit_the_relation(w):
    birth = svc.Proof("birth_certificate", "出生医学证明.jpg", b"scan")
    marriage = svc.Proof("marriage_certificate", "结婚证.jpg", b"scan")
    e = refused(w, req(w.certnos["retiree"], w.certnos["stranger"], "spouse"), pack=WUHU)
    assert e.rule == "WH-25" and "须上传能证明配偶关系的材料（结婚证、居民户口簿）" in e.message
    e = refused(w, req(w.certnos["retiree"], w.certnos["stranger"], "spouse", proofs=(birth,)), pack=WUHU)
    assert e.rule == "WH-25" and "出生医学证明不能证明配偶关系" in e.message
    e = refused(w, req(w.certnos["retiree"], w.certnos["stranger"], "spouse", proofs=(birth,)), pack=HEFEI)
    assert e.rule == "HF-3"  # Hefei asks for none, but one given must still fit
    svc.bind(
        w.db,
        w.clerk,
        WUHU,
        req(w.certnos["retiree"], w.certnos["stranger"], "spouse", proofs=(marriage,)),
        w.proofs,
    )


def test_every_refusal_names_its_rule(w):
    cases = [
        req(w.certnos["retiree"], "12345", "child"),
        req(w.certnos["mother"], w.certnos["child"]),
        req(w.certnos["retiree"], w.certnos["stranger"], "cousin"),
        req(w.certnos["retiree"], w.certnos["stranger"], again=w.certnos["child"]),
        req(w.certnos["retiree"], w.certnos["stranger"], signed=False),
    ]
    assert all(refused(w, r).rule for r in cases)
