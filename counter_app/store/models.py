"""The counter's tables (SQLAlchemy 2 typed ORM).

Balances and year totals are ledgers: every change is a new row with its reason and the
settlement that caused it, and nothing is updated in place except the cached balance and version
on `Account`, which exist for fast reads and row locking and are checked against the ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import Money, Ratio


class Base(DeclarativeBase):
    pass


class Institution(Base):
    """A designated medical institution or pharmacy that runs counters."""

    __tablename__ = "institution"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # fixmedins_code
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer)  # 0..3
    kind: Mapped[str] = mapped_column(String(20))  # hospital, primary_care, clinic, pharmacy, internet
    designated: Mapped[bool] = mapped_column(Boolean, default=True)
    admdvs: Mapped[str] = mapped_column(String(6))  # administrative division
    policy: Mapped[str] = mapped_column(String(40))  # policy pack id in force here


class Person(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), unique=True)
    certno: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    insutype: Mapped[str] = mapped_column(String(3))  # 310, 390, 510
    psn_type: Mapped[str] = mapped_column(String(30))  # in_service, retired, flexible_*
    retired_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="normal")  # normal, suspended, arrears
    hospitalized: Mapped[bool] = mapped_column(Boolean, default=False)
    contribution_base: Mapped[Decimal | None] = mapped_column(Money)  # for monthly crediting, WH-6
    died_on: Mapped[dt.date | None] = mapped_column(Date)
    # 0009: the registry as a cache of the centre's 1101 answers: where the person is insured
    # (NULL: not learned from a centre, taken as the institution's own area), when and from where
    # it was learned, and the account balance the centre reported then
    insuplc_admdvs: Mapped[str | None] = mapped_column(String(6))
    learned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    learned_from: Mapped[str | None] = mapped_column(String(100))
    centre_balance: Mapped[Decimal | None] = mapped_column(Money)

    account: Mapped[Account | None] = relationship(back_populates="person", uselist=False)
    credentials: Mapped[list[Credential]] = relationship(back_populates="person")


class Credential(Base):
    """Something scanned at the counter that resolves to a person (WH-26)."""

    __tablename__ = "credential"
    __table_args__ = (UniqueConstraint("kind", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # card (社保卡), evoucher (医保电子凭证)
    code: Mapped[str] = mapped_column(String(200), index=True)  # a scan looks up by code alone (0015)
    person: Mapped[Person] = relationship(back_populates="credentials")


class CatalogueItem(Base):
    """A drug, service or material with its class and pre-pay share (WH-3)."""

    __tablename__ = "catalogue_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    pinyin: Mapped[str] = mapped_column(String(50), index=True)  # initials, for search as you type
    kind: Mapped[str] = mapped_column(String(12))  # drug, service, material
    cls: Mapped[str] = mapped_column(String(1))  # A, B, C
    prepay_ratio: Mapped[Decimal] = mapped_column(Ratio, default=Decimal("0"))
    price: Mapped[Decimal] = mapped_column(Money)
    unit: Mapped[str] = mapped_column(String(10))
    account_payable: Mapped[bool] = mapped_column(Boolean, default=True)  # WH-9
    # The hospital's price list (0010): its code is `code`; the platform's is `national_code`
    # (目录对照). Class, pre-pay share and price cap come from the national catalogue in force on
    # the visit date (services/catalogue.py); `cls`/`prepay_ratio` above are the hospital's own
    # classing, used only where the catalogue has no terms for the code (training data).
    national_code: Mapped[str | None] = mapped_column(String(50), index=True)
    spec: Mapped[str] = mapped_column(String(100), default="")
    barcode: Mapped[str | None] = mapped_column(String(50), index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class NationalItem(Base):
    """An item of the platform's catalogues: 1301 drugs, 1302 herbal pieces, 1305 medical services,
    1306 materials (med_list_codg and name, as the download file gives them)."""

    __tablename__ = "national_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)  # med_list_codg
    name: Mapped[str] = mapped_column(String(200))
    catalogue: Mapped[str] = mapped_column(String(4))  # the download's infno: 1301, 1302, 1305, 1306
    version: Mapped[str] = mapped_column(String(40))  # the file's version (`ver`) that last changed it


class NationalTerm(Base):
    """A payment term of a national code from a date: its class (1312 chrgitm_lv), first self-pay
    ratio (1319 selfpay_prop) or price cap (1318 hilist_pric_uplmt_amt). Reloads add, never edit."""

    __tablename__ = "national_term"
    __table_args__ = (UniqueConstraint("code", "kind", "begndate"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # class, selfpay, cap
    cls: Mapped[str | None] = mapped_column(String(1))  # A, B, C (kind class)
    ratio: Mapped[Decimal | None] = mapped_column(Ratio)  # kind selfpay
    amount: Mapped[Decimal | None] = mapped_column(Money)  # kind cap: the highest unit price paid
    begndate: Mapped[dt.date] = mapped_column(Date)
    enddate: Mapped[dt.date | None] = mapped_column(Date)


class Disease(Base):
    """A diagnosis of the platform's disease catalogues (1307 diseases, 1309 chronic/special)."""

    __tablename__ = "disease"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    pinyin: Mapped[str] = mapped_column(String(50), index=True)
    catalogue: Mapped[str] = mapped_column(String(4))
    version: Mapped[str] = mapped_column(String(40))


class CatalogueVersion(Base):
    """The newest version held of each downloaded catalogue: what the next download asks after."""

    __tablename__ = "catalogue_version"
    catalogue: Mapped[str] = mapped_column(String(4), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Department(Base):
    """A clinical department of the institution (dept_code, and the platform's 科别 `caty`)."""

    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    caty: Mapped[str] = mapped_column(String(6))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # the visit's when none is chosen
    diagnosis: Mapped[str | None] = mapped_column(String(20))  # its usual diagnosis (README, "Go live")


class Doctor(Base):
    """A practitioner by the platform's practitioner code (atddr_no), in a department."""

    __tablename__ = "doctor"
    __table_args__ = (UniqueConstraint("institution_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(50))
    dept_code: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # the department's when none is chosen


class Account(Base):
    """A personal account (个人账户). `balance` caches the ledger sum; `version` guards writes."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint("balance >= 0", name="account_balance_not_negative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)  # withdrawn or transferred (HF-2.2)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    person: Mapped[Person] = relationship(back_populates="account")


class LedgerEntry(Base):
    """One credit or debit of an account; never updated or deleted."""

    __tablename__ = "ledger_entry"
    # A batch posts at most one entry of a kind per account and period (crediting month "2026-05",
    # interest year "2025"): running a batch twice credits once. Counter entries have no period.
    __table_args__ = (Index("uq_ledger_entry_batch_period", "account_id", "kind", "period", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)  # + credit, - debit
    balance_after: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(20))  # opening, credit, interest, settle, mulaid, refund
    note: Mapped[str] = mapped_column(String(200))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)
    period: Mapped[str | None] = mapped_column(String(7))  # crediting month "2024-05" (idempotence)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class YearTotal(Base):
    """A change to a person's year accumulators (deductible met, outpatient pooling paid)."""

    __tablename__ = "year_total"
    __table_args__ = (Index("ix_year_total_person_year", "person_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    year: Mapped[int] = mapped_column(Integer)
    deductible_paid: Mapped[Decimal] = mapped_column(Money)
    outpatient_pool_paid: Mapped[Decimal] = mapped_column(Money)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)
    note: Mapped[str] = mapped_column(String(200))


class FamilyBinding(Base):
    """A provider's account opened to a direct relative (HF-1..3, WH-25).

    `relation` is the beneficiary's relation to the provider, as the provider declares it (HF-6
    counts these); the claim needs the provider's relation to the patient, derived from it.
    """

    __tablename__ = "family_binding"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))  # father, mother, spouse, child
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime)
    commitment_signed_at: Mapped[dt.datetime] = mapped_column(DateTime)  # HF-3 承诺书
    commitment_sha256: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(100))
    clerk: Mapped[str] = mapped_column(String(30))
    policy: Mapped[str | None] = mapped_column(String(40))  # the pack it was made under; NULL: before 0006

    provider: Mapped[Person] = relationship(foreign_keys=[provider_id])
    beneficiary: Mapped[Person] = relationship(foreign_keys=[beneficiary_id])
    proofs: Mapped[list[BindingProof]] = relationship(back_populates="binding")


class BindingProof(Base):
    """A proof document (marriage certificate, household register) kept as a file and its hash."""

    __tablename__ = "binding_proof"
    id: Mapped[int] = mapped_column(primary_key=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("family_binding.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    binding: Mapped[FamilyBinding] = relationship(back_populates="proofs")


class NumberSequence(Base):
    """Per-institution counters for settlement numbers: incremented under the write lock, so a
    committed number is never issued twice."""

    __tablename__ = "number_sequence"
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Settlement(Base):
    """A settlement or its reversal (kind `refund`), with the engine's whole answer kept."""

    __tablename__ = "settlement"
    __table_args__ = (UniqueConstraint("institution_id", "setl_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    setl_no: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(10))  # settle, refund
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    # None for a self-pay patient the registry does not hold (自费, 0010): then `payer_*` name them
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    med_type: Mapped[str] = mapped_column(String(2))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    settled_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    cashier: Mapped[str] = mapped_column(String(30))
    approver: Mapped[str | None] = mapped_column(String(30))
    counter: Mapped[str] = mapped_column(String(30))
    policy: Mapped[str] = mapped_column(String(40))
    policy_version: Mapped[str] = mapped_column(String(20))
    medfee_sumamt: Mapped[Decimal] = mapped_column(Money)
    fund_pay_sumamt: Mapped[Decimal] = mapped_column(Money)
    hifp_pay: Mapped[Decimal] = mapped_column(Money)
    acct_pay: Mapped[Decimal] = mapped_column(Money)
    acct_mulaid_pay: Mapped[Decimal] = mapped_column(Money)
    psn_cash_pay: Mapped[Decimal] = mapped_column(Money)
    claim_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shift.id"), index=True)
    business_day: Mapped[dt.date | None] = mapped_column(Date, index=True)  # the day it is closed under
    tender: Mapped[str] = mapped_column(String(10), default="cash")  # how the cash part was paid
    tendered: Mapped[Decimal | None] = mapped_column(
        Money
    )  # cash handed over (0008); the change is this - cash
    visit_json: Mapped[str | None] = mapped_column(Text)  # department, doctor, diagnoses (0010)
    payer_name: Mapped[str | None] = mapped_column(String(50))  # a self-pay patient's (0010)
    payer_certno: Mapped[str | None] = mapped_column(String(18))

    person: Mapped[Person | None] = relationship()
    institution: Mapped[Institution] = relationship()


class SettlementTender(Base):
    """One means of payment of a bill paid by several (tender 'mixed' on its settlement, 0014):
    the amounts sum to the settlement's cash part; a refund's are negative."""

    __tablename__ = "settlement_tender"
    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    tender: Mapped[str] = mapped_column(String(10))  # cash, card, wechat, alipay
    amount: Mapped[Decimal] = mapped_column(Money)


class Outbox(Base):
    """A message for the insurance centre, written in the same transaction as its settlement."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_id", "status", "id"),  # the drain walks pending messages in id order
        Index("ix_outbox_person_id", "person_key", "id"),  # "anything earlier unsent for this person?"
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    msgid: Mapped[str] = mapped_column(String(30), unique=True)
    infno: Mapped[str] = mapped_column(String(4))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(30), index=True)  # order is kept per person
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending, sent, parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    response: Mapped[str | None] = mapped_column(Text)
    visit_key: Mapped[str | None] = mapped_column(String(30), index=True)  # ipt_otp_no / adm_no (0007)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    operator: Mapped[str | None] = mapped_column(String(30))  # staff_no of who queued it


class CentreSignIn(Base):
    """An operator's sign-in with the centre (9001): its sign_no goes on every message the operator
    sends while it is in force; 9002 ends it (signed_out_at)."""

    __tablename__ = "centre_sign_in"
    __table_args__ = (Index("ix_centre_sign_in_operator", "institution_id", "operator", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    operator: Mapped[str] = mapped_column(String(30))
    sign_no: Mapped[str] = mapped_column(String(30))
    signed_in_at: Mapped[dt.datetime] = mapped_column(DateTime)
    signed_out_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ip: Mapped[str] = mapped_column(String(20))
    mac: Mapped[str] = mapped_column(String(20))


class CentreResult(Base):
    """The centre's answer to one settlement, and whether it equals the counter's own split.

    Never overwritten: a difference stays for a supervisor to review (reviewed_by / reviewed_at)."""

    __tablename__ = "centre_result"
    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), unique=True)
    msgid: Mapped[str] = mapped_column(String(30))
    mdtrt_id: Mapped[str] = mapped_column(String(30))
    setl_id: Mapped[str] = mapped_column(String(30))
    equal: Mapped[bool] = mapped_column(Boolean, index=True)
    differences: Mapped[str] = mapped_column(Text)  # JSON: {field: [ours, centre's]}
    setlinfo: Mapped[str] = mapped_column(Text)  # the centre's setlinfo, as it sent it
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(30))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Staff(Base):
    """A user of the counters; the role decides what they may do (services/staff.py)."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_no: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(
        String(30)
    )  # outpatient_cashier, inpatient_cashier, pharmacy_clerk, supervisor
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)  # set at first sign-in
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last success
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class RefundApproval(Base):
    """A supervisor's approval of one refund, made only by their password check (issue 26): bound
    to the settlement, the institution and counter where it was typed, good for a few minutes, and
    consumed by the refund it approves."""

    __tablename__ = "refund_approval"
    id: Mapped[int] = mapped_column(primary_key=True)
    setl_no: Mapped[str] = mapped_column(String(30))
    institution_code: Mapped[str] = mapped_column(String(12))
    counter: Mapped[str] = mapped_column(String(30))
    approver: Mapped[str] = mapped_column(String(30))
    approved_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """One link of the append-only audit chain (services/audit.py): who did what, where, when,
    the amounts before and after, the digest of the rows it wrote, and the previous link's hash."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the chain position, 1, 2, ...
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    staff_no: Mapped[str] = mapped_column(String(30))
    counter: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(30), index=True)
    object: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON: before, after, covers, rows_sha256
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditSeal(Base):
    """The digest of one row that changes in place (a binding, a staff row, an outbox message) as
    the audit entry `entry_id` left it (store/audit.py): the newest seal of a row must match it."""

    __tablename__ = "audit_seal"
    __table_args__ = (Index("ix_audit_seal_row", "tbl", "row_id", "entry_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer, index=True)
    tbl: Mapped[str] = mapped_column(String(30))
    row_id: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # "-": the entry deleted the row


class DatabaseIdentity(Base):
    """One row, stamped when the database is made (0013): which database this is (a restore takes
    only its own backups), from which audit entry on the chain is keyed, and a check that this
    counter's audit key is the database's (store/audit_key.py)."""

    __tablename__ = "database_identity"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(36))  # a UUID
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    keyed_from: Mapped[int] = mapped_column(Integer)
    key_check: Mapped[str] = mapped_column(String(64))


class SlipPrint(Base):
    """Every slip printed or reprinted: the slip number is the settlement number and this count."""

    __tablename__ = "slip_print"
    __table_args__ = (UniqueConstraint("settlement_id", "copy"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    copy: Mapped[int] = mapped_column(Integer)  # 1 = the original print, 2.. = reprints
    printed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    printed_by: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(100))  # pdf path or printer name


class Shift(Base):
    """A cashier's shift at one counter: opened with a cash float before any money is taken."""

    __tablename__ = "shift"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    counter: Mapped[str] = mapped_column(String(30))
    cashier: Mapped[str] = mapped_column(String(30), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    opening_float: Mapped[Decimal] = mapped_column(Money)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    counted_cash: Mapped[Decimal | None] = mapped_column(Money)
    expected_cash: Mapped[Decimal | None] = mapped_column(Money)
    report_json: Mapped[str | None] = mapped_column(Text)


class DayClose(Base):
    """A business day closed for an institution; once only. Later settlements go to the next day."""

    __tablename__ = "day_close"
    __table_args__ = (UniqueConstraint("institution_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_by: Mapped[str] = mapped_column(String(30))
    report_json: Mapped[str] = mapped_column(Text)


class Admission(Base):
    """An inpatient stay: deposit taken on admission, fees posted during it, settled at discharge."""

    __tablename__ = "admission"
    id: Mapped[int] = mapped_column(primary_key=True)
    adm_no: Mapped[str] = mapped_column(String(30), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    admitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    admitted_by: Mapped[str] = mapped_column(String(30))
    discharged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"))
    status: Mapped[str] = mapped_column(String(12), default="admitted")  # admitted, discharged
    visit_json: Mapped[str | None] = mapped_column(Text)  # department, doctor, diagnoses (0010)

    person: Mapped[Person] = relationship()


class AdmissionFee(Base):
    """A fee item posted to a stay (never edited; a correction is a negative quantity line)."""

    __tablename__ = "admission_fee"
    id: Mapped[int] = mapped_column(primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("admission.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    quantity: Mapped[Decimal] = mapped_column(Ratio)
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    posted_by: Mapped[str] = mapped_column(String(30))
    # 0007: the line this posting was uploaded as (2301): for a correction, the net quantity left;
    # `cancels` the lines it cancelled (2302), comma-separated; the settlement that took the row
    feedetl_sn: Mapped[str | None] = mapped_column(String(30))
    line_quantity: Mapped[Decimal | None] = mapped_column(Ratio)
    cancels: Mapped[str | None] = mapped_column(Text)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"))


class DepositEntry(Base):
    """Deposit (押金) taken, applied at discharge, or paid back: a ledger per stay."""

    __tablename__ = "deposit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("admission.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)  # + taken, - applied or paid back
    kind: Mapped[str] = mapped_column(String(12))  # taken, applied, refunded
    receipt_no: Mapped[str] = mapped_column(String(30), unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    cashier: Mapped[str] = mapped_column(String(30))
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shift.id"))
    tender: Mapped[str] = mapped_column(String(10), default="cash")
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"))  # 0007: what it paid for


class BatchRun(Base):
    """One run of an agency batch (monthly crediting, yearly interest): who, when, and its totals.

    The entries themselves are in the ledger; this is the run's receipt, shown to the supervisor
    and kept for audit. A run that stopped part way is finished by running it again."""

    __tablename__ = "batch_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # crediting, interest
    period: Mapped[str] = mapped_column(String(7))  # "2026-05" or "2025"
    policy: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_by: Mapped[str] = mapped_column(String(30))
    posted: Mapped[int] = mapped_column(Integer, default=0)  # entries written by this run
    already: Mapped[int] = mapped_column(Integer, default=0)  # accounts found done by an earlier run
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # accounts with no entry due, by rule
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    report_json: Mapped[str | None] = mapped_column(Text)
