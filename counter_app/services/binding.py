"""Family bindings: a provider opens their account to direct relatives (HF-1..3, HF-6, WH-25).

Every refusal names the rule. Proof documents are kept content-addressed (by SHA-256) in a
folder beside the database, and their hashes in the binding's rows, so a proof cannot be swapped
without the record showing it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import identity
from ..engine.policy import FamilyRules, PolicyPack
from ..store import Database
from ..store.models import Account, BindingProof, FamilyBinding, Person
from . import ledger
from .actor import Actor
from .audit import record
from .enrolment import end_bindings
from .errors import BindingRefused, NotFound

RELATION_NAMES = {"father": "父亲", "mother": "母亲", "spouse": "配偶", "child": "子女", "self": "本人"}
SELF = "self"  # HF-2.1: one's own employee account, for one's own resident costs, while that enrolment is suspended
PROOF_KINDS = {
    "marriage_certificate": "结婚证",
    "household_register": "居民户口簿",
    "birth_certificate": "出生医学证明",
    "other": "其他证明",
}
MAX_PROOF_BYTES = 20 * 1024 * 1024


# HF-3: the provider's commitment (承诺书), in substance as the Hefei notice words it.
@dataclass(frozen=True, slots=True)
class Proof:
    kind: str
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class BindRequest:
    provider_certno: str
    beneficiary_certno: str
    beneficiary_certno_again: str  # HF-3: typed a second time to confirm
    relation: str  # the beneficiary's relation to the provider
    commitment_signed: bool
    proofs: tuple[Proof, ...] = ()
    # The commitment as printed for signature (prepare_commitment): where and on which day, and the
    # digest of its text; the binding stores the digest of exactly that text.
    commitment_institution: str = ""
    commitment_on: dt.date | None = None
    commitment_sha256: str | None = None


def commitment_text(
    pack: PolicyPack, provider: Person, beneficiary: Person, relation: str, institution: str, on: dt.date
) -> str:
    """The commitment as printed (HF-3): the pack's wording, every promise in the document's order,
    the beneficiary named; then who binds whom, where and when, with both ID numbers shown as the
    desk's second confirmation shows them (masked)."""
    wording = pack.family.commitment
    if wording is None:
        raise BindingRefused(f"政策 {pack.id} 没有承诺书文本", pack.family.provider_rule)
    named = f"{beneficiary.name}（{identity.mask(beneficiary.certno)}）"
    return "\n".join(
        (
            wording.title,
            wording.preamble.format(beneficiary=named, relation=RELATION_NAMES[relation]),
            *wording.promises,
            f"提供人：{provider.name}（{identity.mask(provider.certno)}）",
            f"享受人：{named}，为提供人之{RELATION_NAMES[relation]}",
            f"经办机构：{institution}　日期：{on:%Y年%m月%d日}",
        )
    )


@dataclass(frozen=True, slots=True)
class Commitment:
    text: str
    sha256: str
    institution: str
    on: dt.date


def prepare_commitment(
    db: Database,
    pack: PolicyPack,
    provider_certno: str,
    beneficiary_certno: str,
    relation: str,
    institution: str,
    on: dt.date,
) -> Commitment:
    """The text to print for the provider's signature, and its digest (stored with the binding)."""
    if relation not in RELATION_NAMES:
        raise BindingRefused(f"关系只能是父亲、母亲、配偶或子女（{relation}）", "HF-1.1")
    with db.sessions() as session:
        provider = _person_by_certno(session, provider_certno, "提供人")
        beneficiary = _person_by_certno(session, beneficiary_certno, "享受人")
        text = commitment_text(pack, provider, beneficiary, relation, institution, on)
    return Commitment(text, hashlib.sha256(text.encode()).hexdigest(), institution, on)


def _person_by_certno(session: Session, certno: str, who: str) -> Person:
    try:
        normal = identity.normalise(certno)
    except identity.CertnoError as exc:
        raise BindingRefused(f"{who}{exc}", "HF-3") from None
    person = session.scalar(select(Person).where(Person.certno == normal))
    if person is None:
        raise NotFound(f"{who}身份证号 {identity.mask(normal)} 未找到参保记录")
    return person


def active_bindings(session: Session, provider_id: int) -> list[FamilyBinding]:
    return list(
        session.scalars(
            select(FamilyBinding)
            .where(FamilyBinding.provider_id == provider_id, FamilyBinding.ended_at.is_(None))
            .order_by(FamilyBinding.id)
        )
    )


def check(session: Session, pack: PolicyPack, req: BindRequest) -> tuple[Person, Person]:
    """Every binding rule, in the order a clerk meets them; returns (provider, beneficiary)."""
    rules = pack.family
    if req.relation == SELF and rules.self_rule is None:
        raise BindingRefused("本政策没有以本人职工账户支付本人居民医保费用的规定", rules.provider_rule)
    if req.relation not in rules.relations and req.relation != SELF:
        raise BindingRefused(f"关系只能是父亲、母亲、配偶或子女（{req.relation}）", "HF-1.1")
    if req.beneficiary_certno.strip().upper() != req.beneficiary_certno_again.strip().upper():
        raise BindingRefused("两次输入的享受人身份证号不一致", "HF-3")
    if not req.commitment_signed:
        raise BindingRefused("提供人须签署《医保个人账户亲属支付关系确认承诺书》", "HF-3")
    provider = _person_by_certno(session, req.provider_certno, "提供人")
    beneficiary = _person_by_certno(session, req.beneficiary_certno, "享受人")
    if (provider.id == beneficiary.id) != (req.relation == SELF):
        raise BindingRefused(
            "只有“本人”关系可绑定本人，且须为同一人", "HF-1.1" if req.relation != SELF else rules.self_rule
        )
    if req.relation == SELF:
        return _check_self(session, rules, provider)
    if provider.insutype not in rules.provider_insutypes:
        raise BindingRefused(
            f"提供人须为职工医保参保人员（当前险种 {provider.insutype}）", rules.provider_rule
        )
    if provider.died_on is not None:
        raise BindingRefused(f"提供人已于 {provider.died_on} 死亡，账户不能再为亲属支付", rules.ended_rule)
    account = session.scalar(select(Account).where(Account.person_id == provider.id))
    if account is None or account.closed_on is not None:
        raise BindingRefused("提供人没有可用的职工医保个人账户", "HF-2.2")
    if beneficiary.insutype not in rules.beneficiary_insutypes:
        raise BindingRefused(
            f"享受人须为职工医保、城乡居民医保或职工生育保险参保人员（当前险种 {beneficiary.insutype}）",
            rules.beneficiary_rule,
        )
    if beneficiary.status != "normal" or beneficiary.died_on is not None:
        raise BindingRefused("享受人待遇状态须为正常", rules.beneficiary_rule)
    current = [
        b for b in active_bindings(session, provider.id) if b.relation != SELF
    ]  # HF-6 counts relatives
    if any(b.beneficiary_id == beneficiary.id for b in current):
        raise BindingRefused(f"{beneficiary.name} 已与该提供人绑定", "HF-3")
    _check_ages(provider, beneficiary, req.relation)
    if rules.max_per_relation is not None:
        same = sum(1 for b in current if b.relation == req.relation)
        limit = rules.max_per_relation[req.relation]
        if same >= limit:
            raise BindingRefused(
                f"一名提供人最多绑定{RELATION_NAMES[req.relation]} {limit} 人，已绑定 {same} 人",
                rules.limits_rule,
            )
        if rules.max_total is not None and len(current) >= rules.max_total:
            raise BindingRefused(
                f"一名提供人同一时间最多与 {rules.max_total} 名直系亲属建立共济关系", rules.limits_rule
            )
    _check_proofs(rules, req)
    return provider, beneficiary


def _check_self(session: Session, rules: FamilyRules, person: Person) -> tuple[Person, Person]:
    """HF-2.1: the person is now a normally enrolled resident (390), their employee enrolment
    suspended, and its account still open: it may pay their own resident costs."""
    if person.insutype != "390":  # a resident only: not maternity (510), not an employee (decision 8)
        raise BindingRefused(
            f"本人须已转为城乡居民医保参保（当前险种 {person.insutype}），职工医保处于停保状态",
            rules.self_rule,
        )
    if person.status != "normal" or person.died_on is not None:
        raise BindingRefused("本人居民医保待遇状态须为正常", rules.self_rule)
    account = session.scalar(select(Account).where(Account.person_id == person.id))
    if account is None or account.closed_on is not None:
        raise BindingRefused("本人没有可用的职工医保个人账户", rules.self_rule)
    if any(b.beneficiary_id == person.id for b in active_bindings(session, person.id)):
        raise BindingRefused(f"{person.name} 已绑定本人账户", rules.self_rule)
    return person, person


def _check_ages(provider: Person, beneficiary: Person, relation: str) -> None:
    """HF-1.1: a child is younger than the provider, a parent older; a father is a man, a mother a
    woman (both from the ID number)."""
    p_born, b_born = identity.birth_date(provider.certno), identity.birth_date(beneficiary.certno)
    if relation == "child" and b_born <= p_born:
        raise BindingRefused(
            f"子女（{b_born:%Y-%m-%d} 出生）不应比提供人（{p_born:%Y-%m-%d} 出生）年长", "HF-1.1"
        )
    if relation in ("father", "mother") and b_born >= p_born:
        raise BindingRefused(
            f"{RELATION_NAMES[relation]}（{b_born:%Y-%m-%d} 出生）不应比提供人（{p_born:%Y-%m-%d} 出生）年轻",
            "HF-1.1",
        )
    if relation in ("father", "mother") and identity.is_male(beneficiary.certno) != (relation == "father"):
        raise BindingRefused(f"身份证号显示的性别与“{RELATION_NAMES[relation]}”不符", "HF-1.1")


def _check_proofs(rules: FamilyRules, req: BindRequest) -> None:
    """WH-25: proofs the pack asks for, each of a kind that proves this relation."""
    rule = rules.proofs_rule or "WH-25"
    for proof in req.proofs:
        if proof.kind not in PROOF_KINDS:
            raise BindingRefused(f"未知的证明材料类型：{proof.kind}", rule)
        if not proof.content or len(proof.content) > MAX_PROOF_BYTES:
            raise BindingRefused(f"证明材料 {proof.filename[:40]} 为空或超过 20 MB", rule)
    fitting = rules.proof_kinds.get(req.relation, ()) if rules.proof_kinds else ()
    for proof in req.proofs:
        if rules.proof_kinds and proof.kind != "other" and proof.kind not in fitting:
            raise BindingRefused(
                f"{PROOF_KINDS[proof.kind]}不能证明{RELATION_NAMES[req.relation]}关系（可用："
                + "、".join(PROOF_KINDS[k] for k in fitting)
                + "）",
                rule,
            )
    if rules.proofs_required and not any(p.kind in fitting for p in req.proofs):
        raise BindingRefused(
            f"须上传能证明{RELATION_NAMES[req.relation]}关系的材料（"
            + "、".join(PROOF_KINDS[k] for k in fitting)
            + "）",
            rule,
        )


def _store_proof(folder: Path, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    path = folder / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)  # atomic: a crash never leaves half a proof under its hash
    return digest


def bind(
    db: Database,
    actor: Actor,
    pack: PolicyPack,
    req: BindRequest,
    proof_dir: Path,
    *,
    now: dt.datetime | None = None,
) -> int:
    actor.require("bind")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        provider, beneficiary = check(session, pack, req)
        text = commitment_text(
            pack,
            provider,
            beneficiary,
            req.relation,
            req.commitment_institution,
            req.commitment_on or at.date(),
        )
        digest = hashlib.sha256(text.encode()).hexdigest()
        if req.commitment_sha256 is not None and req.commitment_sha256 != digest:
            raise BindingRefused("签署的承诺书与本次绑定的人员或关系不符，请重新打印承诺书", "HF-3")
        binding = FamilyBinding(
            provider_id=provider.id,
            beneficiary_id=beneficiary.id,
            relation=req.relation,
            bound_at=at,
            commitment_signed_at=at,
            commitment_sha256=digest,
            clerk=actor.staff_no,
            policy=pack.id,
        )
        session.add(binding)
        session.flush()
        proof_digests = []
        for proof in req.proofs:
            proof_digests.append(_store_proof(proof_dir, proof.content))
            session.add(
                BindingProof(
                    binding_id=binding.id,
                    kind=proof.kind,
                    filename=proof.filename[:200],
                    sha256=proof_digests[-1],
                    size=len(proof.content),
                )
            )
        record(
            session,
            actor,
            "bind",
            f"binding {binding.id}",
            at=at,
            after={
                "provider": provider.psn_no,
                "beneficiary": beneficiary.psn_no,
                "relation": req.relation,
                "proofs": proof_digests,
            },
        )
        return binding.id


def unbind(
    db: Database, actor: Actor, binding_id: int, provider_certno: str, *, now: dt.datetime | None = None
) -> None:
    """HF-3: only the provider unbinds; the binding row is ended, never deleted."""
    actor.require("bind")
    with db.transaction() as session:
        binding = session.get(FamilyBinding, binding_id)
        if binding is None or binding.ended_at is not None:
            raise NotFound("没有这条有效的共济绑定")
        if binding.provider.certno != provider_certno.strip().upper():
            raise BindingRefused("只有提供人本人可以解除绑定", "HF-3")
        binding.ended_at = now or dt.datetime.now()
        binding.ended_reason = "提供人解除"
        record(
            session,
            actor,
            "unbind",
            f"binding {binding.id}",
            at=binding.ended_at,
            before={"active": True},
            after={"active": False, "reason": binding.ended_reason},
        )


def close_account(
    db: Database, actor: Actor, person_id: int, reason: str, *, now: dt.datetime | None = None
) -> int:
    """Transfer away or withdrawal: the account pays out principal and interest (WH-10: both belong
    to the person) and closes, and every binding of this provider ends with it (HF-2.2). Interest not
    yet posted is posted first: last year's if its batch has not run, and this year's up to the
    closing day. Returns how many bindings ended."""
    actor.require("bind")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        account = session.scalar(select(Account).where(Account.person_id == person_id).with_for_update())
        if account is None or account.closed_on is not None:
            raise NotFound("该参保人没有可关闭的个人账户")
        before = account.balance
        entries = ledger.interest_to_close(session, account, at)
        if account.balance:
            entries.append(
                ledger.post(session, account, -account.balance, "withdrawal", f"账户{reason}", at=at)
            )
        account.closed_on = at.date()
        ended = end_bindings(session, person_id, at, f"提供人账户{reason}（HF-2.2）")
        record(
            session,
            actor,
            "account_close",
            f"account {account.id}",
            at=at,
            before={"balance": str(before)},
            after={"balance": str(account.balance), "reason": reason, "bindings_ended": ended},
            covers={"ledger_entry": entries},
        )
        return len(ended)


def binding_counts(session: Session, provider_id: int) -> dict[str, int]:
    """Active bindings by relation, for the desk to show against the HF-6 limits."""
    rows = (
        session.execute(
            select(FamilyBinding.relation, func.count())
            .where(FamilyBinding.provider_id == provider_id, FamilyBinding.ended_at.is_(None))
            .group_by(FamilyBinding.relation)
        )
        .tuples()
        .all()
    )
    return dict(rows)


@dataclass(frozen=True, slots=True)
class BoundRelative:
    binding_id: int
    name: str
    masked_certno: str
    relation: str
    bound_at: dt.datetime
    proofs: int


@dataclass(frozen=True, slots=True)
class ProviderDesk:
    """What the binding desk shows for a provider as the clerk types."""

    name: str
    masked_certno: str
    insutype: str
    account_open: bool
    relatives: tuple[BoundRelative, ...]
    counts: dict[str, int]
    limits: dict[str, int] | None
    max_total: int | None
    limits_rule: str | None


def provider_desk(db: Database, pack: PolicyPack, provider_certno: str) -> ProviderDesk:
    with db.sessions() as session:
        provider = _person_by_certno(session, provider_certno, "提供人")
        account = session.scalar(select(Account).where(Account.person_id == provider.id))
        relatives = tuple(
            BoundRelative(
                b.id,
                b.beneficiary.name,
                identity.mask(b.beneficiary.certno),
                b.relation,
                b.bound_at,
                len(b.proofs),
            )
            for b in active_bindings(session, provider.id)
        )
        counts = binding_counts(session, provider.id)
    rules = pack.family
    return ProviderDesk(
        provider.name,
        identity.mask(provider.certno),
        provider.insutype,
        account is not None and account.closed_on is None,
        relatives,
        counts,
        dict(rules.max_per_relation) if rules.max_per_relation else None,
        rules.max_total,
        rules.limits_rule,
    )
