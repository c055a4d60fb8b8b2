"""Chinese names of codes, for screens and slips (one table each; national codes as keys)."""

from __future__ import annotations

import re

from .engine.settlement import CENTRE_REASON

INSUTYPE = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险", "510": "职工生育保险"}
PSN_TYPE = {
    "in_service": "在职",
    "retired": "退休",
    "flexible_combined": "灵活就业（统账结合）",
    "flexible_pooling_only": "灵活就业（单建统筹）",
}
STATUS = {"normal": "正常", "suspended": "停保", "arrears": "欠费"}
MED_TYPE = {
    "11": "普通门诊",
    "13": "急诊",
    "14": "门诊慢特病",
    "21": "住院",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
}
RELATION = {"father": "父亲", "mother": "母亲", "spouse": "配偶", "child": "子女", "self": "本人职工账户"}
# The settlement's amounts by their national names (shown to people, never the bare field name)
AMOUNT_NAMES = {
    "medfee_sumamt": "医疗费总额",
    "fulamt_ownpay_amt": "全自费",
    "overlmt_selfpay": "超限价自付",
    "preselfpay_amt": "先行自付",
    "inscp_scp_amt": "符合范围",
    "act_pay_dedc": "起付线",
    "hifp_pay": "统筹基金",
    "fund_pay_sumamt": "基金支付",
    "psn_part_amt": "个人负担",
    "acct_pay": "个人账户支付",
    "acct_mulaid_pay": "家庭共济支付",
    "psn_cash_pay": "现金支付",
    "balc": "账户余额",
}
# The platform's transactions by name (the screen shows the name, the number small beside it)
INFNO = {
    "2101": "药店预结算",
    "2102": "药店结算",
    "2103": "药店结算撤销",
    "2201": "门诊挂号",
    "2202": "门诊挂号撤销",
    "2203": "就诊信息上传",
    "2204": "费用明细上传",
    "2205": "费用明细撤销",
    "2206": "门诊预结算",
    "2207": "门诊结算",
    "2208": "门诊结算撤销",
    "2301": "住院费用上传",
    "2302": "住院费用撤销",
    "2303": "住院预结算",
    "2304": "住院结算",
    "2305": "住院结算撤销",
    "2401": "入院登记",
    "2402": "出院登记",
    "2404": "入院撤销",
    "2405": "出院撤销",
    "2601": "冲正",
    "3201": "对总账",
    "3202": "对明细账",
}
CLASS = {"A": "甲类", "B": "乙类", "C": "丙类（全自费）"}
LOCATION = {"local": "本地", "referral": "转诊异地", "relocated": "异地安置", "offsite": "异地（未转诊）"}
LEVEL = {0: "未定级", 1: "一级", 2: "二级", 3: "三级"}

# Why pooling did not apply, by the rule id the engine gives (engine reasons are English).
POOLING_REASON = {
    "WH-2": "门诊共济仅限职工医保参保人员",
    "WH-5": "单建统筹人员无个人账户",
    "WH-14": "不符合门诊共济就医条件（机构级别、定点或外配处方）",
    "WH-15 (2)": "异地就医未办理转诊或异地安置备案",
    "WH-22 (1)": "停缴或未按规定缴费期间的门诊费用不予支付",
    "WH-22 (2)": "住院期间发生的门诊费用不纳入门诊共济",
    "WH-22 (3)": "已纳入住院、门诊慢特病或生育等支付范围，不纳入门诊共济",
    "WH-36": "门诊共济自2022年7月1日起执行",
}


_PACK_ID = re.compile(r"\b[a-z]+-\d{4}\b")  # a policy pack id as the engine names it: wuhu-2022


def pooling_title(reason: str) -> str:
    """What the pooling line is about: outpatient mutual aid, or the centre's inpatient pooling."""
    return "住院统筹" if reason == CENTRE_REASON else "门诊共济"


def pooling_reason(reason: str, applies: bool) -> str:
    """The engine's pooling reason as the screen and slip show it: Chinese text and the rule id."""
    if reason == CENTRE_REASON:
        return "由医保中心按其住院待遇政策计算" + ("" if applies else "，本次统筹基金不支付")
    if reason.startswith("centre: "):  # a visit insured elsewhere, settled by the centre (decision 12)
        return reason.removeprefix("centre: ")
    if applies:
        return "符合门诊共济支付条件"
    rule = reason.split(":", 1)[0].strip()
    pack = _PACK_ID.search(reason)
    if "no inpatient section" in reason:  # say it, rather than let anyone think a ratio applies
        why = f"住院费用不纳入门诊共济（{rule}）；" if rule.startswith("WH-") else ""
        return f"{why}所用政策 {pack.group(0) if pack else ''} 无住院统筹支付规定，统筹基金不支付"
    if "no outpatient pooling section" in reason:
        return f"所用政策 {pack.group(0) if pack else rule} 无门诊统筹支付规定，统筹基金不支付"
    text = POOLING_REASON.get(rule)
    return f"{text}（{rule}）" if text else reason


_RULE_NOTE = re.compile(r"（((?:WH|HF)-[^）]*)）")


def without_rule_ids(text: str) -> tuple[str, str]:
    """(the text without its bracketed rule ids, the ids): the cashier reads the words; the rule
    ids go in a tooltip for the supervisor."""
    rules = _RULE_NOTE.findall(text)
    return _RULE_NOTE.sub("", text), "，".join(rules)


def mask_name(name: str) -> str:
    """张* / 李*芳: enough for the patient to recognise, not enough to identify a stranger."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# Why a batch left an account out, by the rule id the batch gives (engine reasons are English).
BATCH_SKIP = {
    "WH-5": "非职工或账户尚未开立",
    "WH-6 (1)": "无缴费基数，未划入",
    "WH-7 (1)": "在职人员停缴或未按规定缴费",
    "WH-7 (2)": "单建统筹灵活就业人员不划入",
    "WH-7 (3)": "死亡次月起停止划入",
    "WH-7 (4)": "停保等其他停止划入情形",
    "WH-10": "账户已转出或注销",
    "WH-11": "年内无余额，无利息",
}
FUND_SOURCE = {"contribution": "个人缴费划入", "pooling_fund": "统筹基金划入", "interest": "利息"}


def batch_skip(key: str) -> str:
    """A batch report's "rule: reason" as the screen shows it."""
    rule = key.split(":", 1)[0].strip()
    return f"{BATCH_SKIP.get(rule, key)}（{rule}）"
