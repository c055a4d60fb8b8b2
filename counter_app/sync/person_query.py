"""1101: asking the centre who the patient is (national-interface.md, "Person information (1101)").

The scanned credential goes as `mdtrt_cert_type` / `mdtrt_cert_no` (with the card's `card_sn`
for a social-security card); the answer's `baseinfo`, `insuinfo[]` and `idetinfo[]` are read
into services.registry.CentrePerson. `insuinfo` and `idetinfo` may come as one object or as a
list (answers.records).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..services.registry import CentrePerson, Insurance
from ..store.models import Institution
from . import answers
from . import fields as F
from .client import CentreClient


def request(cert_type: str, cert_no: str, card_sn: str = "") -> dict[str, Any]:
    """1101's input: the credential; the optional identity details go empty."""
    return {
        "data": {
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
            "card_sn": card_sn,
            "begntime": "",
            "psn_cert_type": "",
            "certno": "",
            "psn_name": "",
        }
    }


def ask(
    client: CentreClient,
    inst: Institution,
    *,
    msgid: str,
    operator: str,
    operator_name: str,
    sign_no: str,
    at: dt.datetime,
    cert_type: str,
    cert_no: str,
    card_sn: str = "",
) -> CentrePerson:
    """The centre's answer about the scanned person; raises Transient, Rejected or BadAnswer."""
    env = F.envelope(
        infno=F.PERSON_INFO,
        msgid=msgid,
        institution_code=inst.code,
        institution_name=inst.name,
        admdvs=inst.admdvs,
        operator=operator,
        operator_name=operator_name,
        at=at,
        input=request(cert_type, cert_no, card_sn),
        sign_no=sign_no,
    )
    return read(client.send(env), source=client.base_url)


def read(answer: dict[str, Any], *, source: str = "") -> CentrePerson:
    """A checked 1101 answer (answers.check) as the registry's record of it."""
    out = answers.output(answer)
    base = answers.node(out, "baseinfo")
    insurances = tuple(
        Insurance(
            insutype=answers.text(rec.get("insutype")),
            psn_type=answers.text(rec.get("psn_type")),
            status=answers.text(rec.get("psn_insu_stas")),
            balance=answers.amount(rec.get("balc"), "balc"),
            insuplc_admdvs=answers.text(rec.get("insuplc_admdvs")),
            emp_name=answers.text(rec.get("emp_name")),
            insured_on=answers.text(rec.get("psn_insu_date")),
            suspended_on=answers.text(rec.get("paus_insu_date")),
            civil_servant=answers.text(rec.get("cvlserv_flag")) == "1",
        )
        for rec in answers.records(out, "insuinfo")
    )
    identities = tuple(answers.text(rec.get("psn_idet_type")) for rec in answers.records(out, "idetinfo"))
    return CentrePerson(
        psn_no=answers.text(base.get("psn_no")),
        certno=answers.text(base.get("certno")),
        name=answers.text(base.get("psn_name")),
        insurances=insurances,
        identities=identities,
        source=source,
    )
