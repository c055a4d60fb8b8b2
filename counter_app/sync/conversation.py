"""Messages a counter sends outside a settlement (reconciliation, catalogue downloads): each draws
its msgid from the institution's counter (digits only) and carries the operator's sign-in (9001,
made here when the operator has none in force)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..services import numbers
from ..store import Database
from ..store.models import Institution, Staff
from . import answers
from . import fields as F
from .client import CentreClient
from .signin import SignIns


class Conversation:
    """Envelopes for one piece of work with the centre, by one operator of one institution."""

    def __init__(
        self, db: Database, client: CentreClient, inst: Institution, operator: str, at: dt.datetime
    ) -> None:
        self.db, self.client, self.inst, self.operator, self.at = db, client, inst, operator, at
        with db.sessions() as s:
            self.name = s.scalar(select(Staff.name).where(Staff.staff_no == operator)) or operator
        self.sign_no = SignIns(db, client).for_operator(inst, operator, self.name, at)

    @classmethod
    def of(
        cls, db: Database, client: CentreClient, institution_code: str, operator: str, at: dt.datetime
    ) -> Conversation:
        with db.sessions() as s:
            inst = s.scalar(select(Institution).where(Institution.code == institution_code))
            if inst is None:
                raise LookupError(f"未知的定点机构编码：{institution_code}")
            s.expunge(inst)
        return cls(db, client, inst, operator, at)

    def envelope(self, infno: str, input: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as s:
            msgid = numbers.msgids(s, s.get_one(Institution, self.inst.id), self.at)[0]
        return F.envelope(
            infno=infno,
            msgid=msgid,
            institution_code=self.inst.code,
            institution_name=self.inst.name,
            admdvs=self.inst.admdvs,
            operator=self.operator,
            operator_name=self.name,
            at=self.at,
            input=input,
            sign_no=self.sign_no,
        )

    def send(self, infno: str, input: dict[str, Any]) -> dict[str, Any]:
        """The checked answer's `output`."""
        return answers.output(self.client.send(self.envelope(infno, input)))

    def download(self, file_qury_no: str, filename: str, fixmedins_code: str | None = None) -> bytes:
        """9102: the named file's bytes."""
        given = {
            "file_qury_no": file_qury_no,
            "filename": filename,
            "fixmedins_code": fixmedins_code or self.inst.code,
        }
        return self.client.download(self.envelope(F.FILE_DOWNLOAD, {"fsDownloadIn": given}))
