"""The centre, online, for the inpatient counter (services/inpatient.CentrePort): the stay's queue
is sent first (its 2401 gives the mdtrt_id every later message carries), then 2402, 2303, 2304,
2305/2405 go at once and their answers come back to the cashier.

A centre that does not answer is `CentreUnavailable`: nothing is settled and the stay stays open.
A 2304 whose answer the counter cannot act on is reversed (2601); if the centre is away for that
too, the reversal is queued and reaches it before anything else of the person's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..services import upstream
from ..services.actor import Actor
from ..services.centre import CounterCentre
from ..services.elsewhere import ElsewhereVisit
from ..services.errors import CentreRefused, CentreUnavailable
from ..services.inpatient import StayClaim
from ..services.registry import CentrePerson
from ..services.settlement import Preview
from ..store import Database
from ..store.models import Institution, Outbox, Person, Staff
from . import fields as F
from . import hefei_names, person_query, signin, visit_online
from . import messages as M
from .client import CentreClient, Rejected, Transient
from .outbox import RetryPolicy, _mdtrt_id, _output, drain
from .signin import SignIns


class CentreLink:
    def __init__(
        self, db: Database, client: CentreClient, *, now: Callable[[], dt.datetime] = dt.datetime.now
    ) -> None:
        self.db, self.client, self.now = db, client, now
        self._stays: dict[tuple[str, str, str], tuple[Institution, str, dict[str, Any], str]] = {}
        self.sign_ins = SignIns(db, client)

    # ----- the operator's sign-in (signin.py)
    def sign_in(self, institution_code: str, operator: str, operator_name: str) -> str:
        """9001 when the shift opens; raises CentreUnavailable (offline: the drain signs in later)
        or CentreRefused, each with the reason."""
        try:
            return signin.sign_in(
                self.db, self.client, institution_code, operator, operator_name, now=self.now()
            )
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）：联网后自动签到") from None
        except Rejected as exc:
            raise CentreRefused(f"医保签到被拒绝：{exc}") from None

    def sign_out(self, institution_code: str, operator: str, operator_name: str) -> bool:
        """9002 at shift close; False when the operator was not signed in."""
        self.sign_ins.known.clear()  # the next message signs in again
        try:
            return signin.sign_out(
                self.db, self.client, institution_code, operator, operator_name, now=self.now()
            )
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）：签退未完成") from None
        except Rejected as exc:
            raise CentreRefused(f"医保签退被拒绝：{exc}") from None

    # ----- who the patient is (1101)
    def person_info(
        self,
        institution_code: str,
        operator: str,
        operator_name: str,
        cert_type: str,
        cert_no: str,
        card_sn: str = "",
    ) -> CentrePerson:
        """The centre's answer about the scanned person (services.lookup.PersonSource); raises
        CentreUnavailable (offline: the counter uses its cache) or CentreRefused (unknown there)."""
        from ..services import numbers

        at = self.now()
        with self.db.transaction() as session:
            inst = session.execute(
                select(Institution).where(Institution.code == institution_code)
            ).scalar_one()
            if inst is None:
                raise CentreRefused(f"未知的定点机构编码：{institution_code}")
            msgid = numbers.msgids(session, inst, at)[0]
            session.expunge(inst)
        sign_no = self._sign_no(inst, operator, operator_name, at)
        try:
            return person_query.ask(
                self.client,
                inst,
                msgid=msgid,
                operator=operator,
                operator_name=operator_name,
                sign_no=sign_no,
                at=at,
                cert_type=cert_type,
                cert_no=cert_no,
                card_sn=card_sn,
            )
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）") from None
        except Rejected as exc:
            raise CentreRefused(f"{exc.kind}：{exc}") from None

    # ----- a visit the centre settles (services/elsewhere.CentreSettles, decision 12)
    def presettle_elsewhere(self, visit: ElsewhereVisit) -> dict[str, Any]:
        return visit_online.presettle(self.db, self.client, self.sign_ins, visit, self.now)

    def settle_elsewhere(self, visit: ElsewhereVisit) -> list[dict[str, Any]]:
        return visit_online.settle(self.db, self.client, self.sign_ins, visit, self.now)

    def reverse_elsewhere(self, visit: ElsewhereVisit) -> None:
        visit_online.reverse(self.db, self.client, self.sign_ins, visit, self.now)

    # ----- the stay's queue
    def flush(self, psn_no: str) -> None:
        """Send everything queued for the person now; refuse to go on while any of it is not through."""
        try:
            drain(
                self.db,
                self.client,
                person_key=psn_no,
                policy=RetryPolicy(base_seconds=0, cap_seconds=0),
                now=self.now,
            )
        except Exception as exc:  # noqa: BLE001 - any failure here means: not through
            raise CentreUnavailable(
                f"医保中心暂时无法连接（{exc}）：本次住院的入院登记和费用尚未上传完，"
                "不能结算；住院和押金保持不变，请稍后再试"
            ) from None
        with self.db.sessions() as session:
            left = session.execute(
                select(Outbox.status, Outbox.last_error)
                .where(Outbox.person_key == psn_no, Outbox.status.in_(("pending", "parked")))
                .order_by(Outbox.id)
            ).first()
        if left is not None:
            status, error = left
            if status == "parked":
                raise CentreRefused(f"本人有被医保中心拒收的报文（{error}），请主管在上传队列处理后再结算")
            raise CentreUnavailable(
                f"医保中心暂时无法连接（{error or '未应答'}）：本次住院的入院登记和费用尚未上传完，"
                "不能结算；住院和押金保持不变，请稍后再试"
            )

    # ----- online calls
    def _stay(self, stay: StayClaim) -> tuple[Institution, str, dict[str, Any], str]:
        """The institution, the operator's name, the 2401 payload and the stay's mdtrt_id: read once
        the centre has accepted the admission (none of it changes after), not again for each call."""
        key = (stay.institution_code, stay.operator, stay.adm_no)
        if key in self._stays:
            return self._stays[key]
        with self.db.sessions() as session:
            inst = session.execute(
                select(Institution).where(Institution.code == stay.institution_code)
            ).scalar_one()
            name = session.scalar(select(Staff.name).where(Staff.staff_no == stay.operator)) or stay.operator
            row = session.execute(
                select(Outbox.payload, Outbox.response, Outbox.status).where(
                    Outbox.visit_key == stay.adm_no, Outbox.infno == F.ADMIT
                )
            ).first()
        if row is None or row.status != "sent":
            raise CentreUnavailable(f"住院号 {stay.adm_no} 的入院登记尚未被医保中心接受，不能结算")
        self._stays[key] = inst, name, json.loads(row.payload), _mdtrt_id(_output(row.response))
        return self._stays[key]

    def _call(
        self, stay: StayClaim, infno: str, input: dict[str, Any], msgid: str | None = None
    ) -> dict[str, Any]:
        inst, name, _, _ = self._stay(stay)
        at = self.now()
        if msgid is None:
            from ..services import numbers

            with self.db.transaction() as session:
                msgid = numbers.msgids(session, session.get_one(Institution, inst.id), at)[0]
        _, _, payload, _ = self._stay(stay)
        env = F.envelope(
            infno=infno,
            msgid=msgid,
            institution_code=inst.code,
            institution_name=inst.name,
            admdvs=inst.admdvs,
            operator=stay.operator,
            operator_name=name,
            at=at,
            input=input,
            insuplc_admdvs=payload.get("insuplc_admdvs") or inst.admdvs,
            sign_no=self._sign_no(inst, stay.operator, name, at),
        )
        return self._send(env, "：未结算，住院和押金保持不变，请稍后再试")

    def _sign_no(self, inst: Institution, operator: str, name: str, at: dt.datetime) -> str:
        try:
            return self.sign_ins.for_operator(inst, operator, name, at)
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）") from None

    def _send(self, env: dict[str, Any], unavailable: str = "") -> dict[str, Any]:
        """The answer's output; a centre away is CentreUnavailable, a refusal CentreRefused, said plainly."""
        try:
            answer = self.client.send(env)
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）{unavailable}") from None
        except Rejected as exc:  # a refusal, or an answer that cannot be recorded (client.BadAnswer)
            raise CentreRefused(f"{exc.kind}：{exc}") from None
        output = answer.get("output")
        return output if isinstance(output, dict) else {}

    def discharge(self, stay: StayClaim) -> None:
        _, _, payload, mdtrt_id = self._stay(stay)
        self._call(stay, F.DISCHARGE, M.discharge(payload, mdtrt_id=mdtrt_id, endtime=stay.endtime))

    def _settle_input(self, stay: StayClaim) -> dict[str, Any]:
        _, _, payload, mdtrt_id = self._stay(stay)
        return M.inpatient_settle(
            psn_no=stay.psn_no,
            insutype=stay.insutype,
            cert_type=payload["cert_type"],
            cert_no=payload["cert_no"],
            mdtrt_id=mdtrt_id,
            invono=stay.invono,
            medfee_sumamt=stay.medfee_sumamt,
            scope=stay.scope,
            use_account=stay.use_account,
            interim=stay.interim,
        )

    def _setlinfo(self, output: dict[str, Any]) -> dict[str, Any]:
        info = output.get("setlinfo")
        if not isinstance(info, dict):
            raise CentreRefused("医保中心的应答没有结算信息（setlinfo）")
        return hefei_names.normalise(info, self.client.profile)

    def presettle(self, stay: StayClaim) -> dict[str, Any]:
        return self._setlinfo(self._call(stay, F.INPATIENT_PRESETTLE, self._settle_input(stay)))

    def settle(self, stay: StayClaim, msgid: str) -> dict[str, Any]:
        try:
            return self._setlinfo(self._call(stay, F.INPATIENT_SETTLE, self._settle_input(stay), msgid))
        except CentreUnavailable:
            self.reverse(stay, msgid)  # the centre may have settled and the answer been lost: undo it
            raise

    def reverse(self, stay: StayClaim, msgid: str) -> None:
        """2601 now; if the centre is away, queued (it goes before anything else of the person's)."""
        input = M.build(
            F.REVERSAL, {"psn_no": stay.psn_no, "omsgid": msgid, "oinfno": F.INPATIENT_SETTLE}, M.Ids()
        )
        try:
            self._call(stay, F.REVERSAL, input)
        except (CentreUnavailable, CentreRefused):
            with self.db.transaction() as session:
                inst = session.execute(
                    select(Institution).where(Institution.code == stay.institution_code)
                ).scalar_one()
                person = session.execute(select(Person).where(Person.psn_no == stay.psn_no)).scalar_one()
                upstream.queue_reversal(
                    session,
                    inst,
                    person,
                    visit_key=stay.adm_no,
                    omsgid=msgid,
                    oinfno=F.INPATIENT_SETTLE,
                    operator=stay.operator,
                    at=self.now(),
                )

    def outpatient_check(
        self, ctx: Actor, preview: Preview, cert_type: str, cert_no: str
    ) -> dict[str, list[str]]:
        """F5 with the centre (a setting, off by default): register a visit, upload it, pre-settle
        (2201, 2203, 2204, 2206), then abandon it (2205, 2202), and say where the centre's split
        differs from the counter's preview ({} when it agrees). Nothing is settled anywhere."""
        from ..services import numbers
        from . import compare

        claim, at = preview.claim, self.now()
        with self.db.transaction() as session:
            inst = session.execute(
                select(Institution).where(Institution.code == ctx.institution_code)
            ).scalar_one()
            person = session.execute(select(Person).where(Person.psn_no == claim.person.psn_no)).scalar_one()
            ids = numbers.msgids(session, inst, at, 6)
            name = session.scalar(select(Staff.name).where(Staff.staff_no == ctx.cashier)) or ctx.cashier
            inst_data = (inst.code, inst.name, inst.admdvs)
            cert = upstream.cert(person, cert_type, cert_no)
            insutype = person.insutype
            place = upstream.insured_at(person, inst)
            session.expunge(inst)
        sign_no = self._sign_no(inst, ctx.cashier, name, at)
        visit = f"Y{ids[0][-20:]}"  # a probe visit number, never a settlement's
        begntime = dt.datetime.combine(claim.visit_date, at.time()).isoformat(sep=" ", timespec="seconds")
        payload = {
            "psn_no": claim.person.psn_no,
            "insutype": insutype,
            "med_type": claim.med_type,
            "cert_type": cert[0],
            "cert_no": cert[1],
            "begntime": begntime,
            "ipt_otp_no": visit,
            "chrg_bchno": visit,
            "acct_used_flag": "1" if claim.use_own_account else "0",
            "setl_no": visit,
            "setlinfo": preview.result.to_json(),
            "visit": preview.visit.to_json() if preview.visit is not None else {},
            "lines": [
                upstream.fee_line(
                    f"{visit}{n:03d}",
                    f,
                    dt.datetime.fromisoformat(begntime),
                    rx_circ_flag="1" if claim.prescribing_level is not None else "0",
                )
                for n, f in enumerate(preview.lines, 1)
            ],
        }

        def send(n: int, infno: str, input: dict[str, Any]) -> dict[str, Any]:
            return self._send(
                F.envelope(
                    infno=infno,
                    msgid=ids[n],
                    institution_code=inst_data[0],
                    institution_name=inst_data[1],
                    admdvs=inst_data[2],
                    operator=ctx.cashier,
                    operator_name=name,
                    at=at,
                    input=input,
                    insuplc_admdvs=place,
                    sign_no=sign_no,
                )
            )

        mdtrt_id = _mdtrt_id(send(0, F.REGISTER, M.build(F.REGISTER, payload, M.Ids())))
        try:
            send(1, F.VISIT_INFO, M.build(F.VISIT_INFO, payload, M.Ids(mdtrt_id)))
            send(2, F.FEE_UPLOAD, M.build(F.FEE_UPLOAD, payload, M.Ids(mdtrt_id)))
            answer = send(3, F.OUTPATIENT_PRESETTLE, M.outpatient_settle(payload, mdtrt_id, final=False))
        finally:  # the probe visit is abandoned in every case
            try:
                send(
                    4,
                    F.FEE_CANCEL,
                    {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": visit, "psn_no": payload["psn_no"]}},
                )
            except CentreRefused:
                pass  # no lines were uploaded
            send(
                5,
                F.REGISTER_CANCEL,
                {"data": {"psn_no": payload["psn_no"], "mdtrt_id": mdtrt_id, "ipt_otp_no": visit}},
            )
        info = hefei_names.normalise(answer.get("setlinfo") or {}, self.client.profile)
        return compare.differences(preview.result.to_json(), info)

    def cancel(self, stay: StayClaim, setl_id: str, discharged: bool) -> dict[str, Any]:
        self.flush(stay.psn_no)
        _, _, _, mdtrt_id = self._stay(stay)
        output = self._call(
            stay,
            F.INPATIENT_CANCEL,
            {"data": {"psn_no": stay.psn_no, "mdtrt_id": mdtrt_id, "setl_id": setl_id}},
        )
        if discharged:
            self._call(stay, F.DISCHARGE_CANCEL, {"data": {"mdtrt_id": mdtrt_id, "psn_no": stay.psn_no}})
        return output


def counter_centre(link: CentreLink) -> CounterCentre:
    """The link is the centre the counter declares (services/centre.py): mypy checks it here."""
    return link
