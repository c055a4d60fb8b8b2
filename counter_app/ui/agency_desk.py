"""The supervisor's agency desk: monthly crediting, yearly interest, the monthly declaration and
fund monitoring (WH-6/7, WH-11, WH-28, WH-31/32), one tab each.

Every button runs its batch as a background op (`ops.Op`); the numbers and rules are all in
`counter_app.batch`, this only shows what it answers. Files (CSV, PDF) go to the reports folder
beside the slips folder.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .. import labels
from ..batch import crediting, declaration, interest, monitoring
from ..batch.runs import RunReport, recent_runs
from ..engine.crediting import parse_period, period_label, previous_month
from ..engine.money import ZERO, fmt
from ..printing import agency_reports, charts
from .ops import Op
from .qt import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeySequence,
    QLabel,
    QLineEdit,
    QPixmap,
    QPushButton,
    QShortcut,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    named,
)

KIND_NAMES = {"crediting": "账户划入", "interest": "年度计息"}


def _table(headers: list[str], name: str) -> QTableWidget:
    table = named(QTableWidget(0, len(headers)), name)
    table.setHorizontalHeaderLabels(headers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    return table


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


_MONEY = re.compile(r"^-?[\d,]+\.\d{2}$")


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    """Rows into a table; money is right-aligned, so its digits line up (issue 27)."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if _MONEY.match(text.strip()):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def describe_run(report: RunReport) -> str:
    """A run's report in the screen's words."""
    name = KIND_NAMES[report.kind]
    lines = [
        f"{name} {report.period}：本次记入 {report.posted} 户，合计 {fmt(report.total)} 元；"
        f"此前已记入 {report.already} 户（同一期间不重复记入）"
    ]
    lines += [f"　{labels.FUND_SOURCE.get(k, k)}：{fmt(v)} 元" for k, v in sorted(report.by_source.items())]
    lines += [f"　未记入 {n} 户：{labels.batch_skip(k)}" for k, n in sorted(report.skipped.items())]
    if report.due_closed:  # decision 11: never posted into a closed account; goes with the transfer
        lines.append(
            f"　已注销账户应划未划 {len(report.due_closed)} 户，合计 "
            f"{fmt(sum((a for _, a in report.due_closed), ZERO))} 元（随转移接续处理）："
        )
        lines += [f"　　{psn_no}　{fmt(amount)} 元" for psn_no, amount in report.due_closed]
    return "\n".join(lines)


if TYPE_CHECKING:
    from .counter.desk import Desk


class AgencyDesk(QDialog):
    def __init__(self, counter: Desk) -> None:
        super().__init__(counter.window)
        self.counter = counter
        self.db = counter.db
        self.setWindowTitle("经办业务：账户划入、计息、月度申报、基金监测")
        self.setMinimumSize(980, 680)
        today = counter.settings.visit_date()
        self.last_month = previous_month(today)
        self.last_year = today.year - 1
        self.reports_dir = Path(counter.settings.slip_dir).parent / "reports"
        self.last_report: object | None = None
        layout = QVBoxLayout(self)
        self.tabs = named(QTabWidget(), "agency_tabs")
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._crediting_tab(), "账户划入")
        self.tabs.addTab(self._interest_tab(), "年度计息")
        self.tabs.addTab(self._declaration_tab(), "月度申报")
        self.tabs.addTab(self._monitoring_tab(), "基金监测")
        self.tabs.addTab(self._statement_tab(), "个人账户明细")
        # the tabs by keyboard, wherever the focus is (a table keeps Ctrl+Tab for itself)
        for n in range(self.tabs.count()):
            key = QShortcut(QKeySequence(f"Alt+{n + 1}"), self)
            key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            key.activated.connect(lambda n=n: self.tabs.setCurrentIndex(n))
        for sequence, step in (("Ctrl+PgDown", 1), ("Ctrl+PgUp", -1)):
            key = QShortcut(QKeySequence(sequence), self)
            key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            key.activated.connect(
                lambda step=step: self.tabs.setCurrentIndex(
                    (self.tabs.currentIndex() + step) % self.tabs.count()
                )
            )
        self.message = named(QLabel(), "agency_message")
        self.message.setWordWrap(True)
        self.busy = named(QLabel(), "agency_busy")
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.busy)
        layout.addLayout(bottom)
        self.refresh_runs()

    # -- shared ---------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        for button in self.findChildren(QPushButton):
            button.setEnabled(not busy)
        self.busy.setText("正在处理……" if busy else "")

    def show_error(self, exc: Exception) -> None:
        self.message.setStyleSheet("color: #b00020")
        self.message.setText(str(exc))

    def say(self, text: str) -> None:
        self.message.setStyleSheet("color: #1b5e20")
        self.message.setText(text)

    def _month(self, field: QLineEdit) -> dt.date:
        """The month typed, or a refusal in the clerk's words (the parser's own is English)."""
        text = field.text().strip()
        try:
            return parse_period(text)
        except ValueError:
            raise ValueError(f"月份应写作 年-月，如 2026-10（现为 {text or '空'}）") from None

    # -- crediting and interest -----------------------------------------------------------------
    def _batch_tab(
        self,
        field_label: str,
        field: QLineEdit,
        note: str,
        button: str,
        button_name: str,
        slot,
        result_name: str,
    ) -> tuple[QWidget, QVBoxLayout, QLabel]:
        """A batch's tab: its period field, what the rules are, the run button, the run's result."""
        tab = QWidget()
        layout = QVBoxLayout(tab)
        form = QFormLayout()
        form.addRow(field_label, field)
        layout.addLayout(form)
        layout.addWidget(_note(note))
        run = named(QPushButton(button), button_name)
        run.clicked.connect(slot)
        layout.addWidget(run, alignment=Qt.AlignmentFlag.AlignLeft)
        result = named(QLabel(), result_name)
        result.setWordWrap(True)
        layout.addWidget(result)
        return tab, layout, result

    def _crediting_tab(self) -> QWidget:
        self.credit_month = named(QLineEdit(period_label(self.last_month)), "credit_month")
        tab, layout, self.credit_result = self._batch_tab(
            "划入月份（YYYY-MM）",
            self.credit_month,
            "在职职工、统账结合灵活就业人员按本人缴费基数 2% 划入；退休人员自退休次月起每月定额 70 元"
            "（WH-6、WH-21）。欠费、单建统筹、死亡次月起不划入（WH-7）。同一月份重复执行只记入一次。",
            "执行划入",
            "run_crediting",
            self.run_crediting,
            "credit_result",
        )
        layout.addWidget(QLabel("最近的批处理"))
        self.runs = _table(
            ["编号", "业务", "期间", "执行人", "开始", "结束", "记入户数", "已记入", "未记入", "合计"],
            "batch_runs",
        )
        layout.addWidget(self.runs)
        return tab

    def _interest_tab(self) -> QWidget:
        self.interest_year = named(QLineEdit(str(self.last_year)), "interest_year")
        tab, layout, self.interest_result = self._batch_tab(
            "计息年度",
            self.interest_year,
            "当年划入资金按活期利率、上年结转本息按三个月整存整取利率，按日积数计息（年利率÷360），"
            "每户每年四舍五入到分、入账一次（WH-11）。年度结束后方可计息。",
            "执行计息",
            "run_interest",
            self.run_interest,
            "interest_result",
        )
        layout.addStretch(1)
        return tab

    def refresh_runs(self) -> None:
        def shown(runs):
            _fill(
                self.runs,
                [
                    [
                        str(r.id),
                        KIND_NAMES.get(r.kind, r.kind),
                        r.period,
                        r.run_by,
                        f"{r.started_at:%Y-%m-%d %H:%M}",
                        f"{r.finished_at:%H:%M:%S}" if r.finished_at else "未完成",
                        str(r.posted),
                        str(r.already),
                        str(r.skipped),
                        fmt(r.total),
                    ]
                    for r in runs
                ],
            )

        Op(self, lambda: recent_runs(self.db)).success(shown).run()

    def _run_batch(self, batch, result: QLabel, finished: str) -> None:
        """Run a batch off the UI thread; show its report, then the refreshed list of runs."""

        def done(report: RunReport) -> None:
            self.last_report = report
            result.setText(describe_run(report))
            self.say(finished)
            self.refresh_runs()

        Op(self, batch).success(done).run()

    def run_crediting(self) -> None:
        try:
            month = self._month(self.credit_month)
        except ValueError as exc:
            self.show_error(exc)
            return
        actor, today = self.counter.settings.context, self.counter.settings.visit_date()
        self._run_batch(
            lambda: crediting.credit_month(self.db, actor, month, today=today),
            self.credit_result,
            f"{period_label(month)} 账户划入完成",
        )

    def run_interest(self) -> None:
        text = self.interest_year.text().strip()
        if not (text.isdigit() and len(text) == 4):
            self.show_error(ValueError(f"计息年度应为四位年份：{text!r}"))
            return
        year, actor, today = int(text), self.counter.settings.context, self.counter.settings.visit_date()
        self._run_batch(
            lambda: interest.post_interest(self.db, actor, year, today=today),
            self.interest_result,
            f"{year} 年度计息完成",
        )

    # -- declaration ----------------------------------------------------------------------------
    def _declaration_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.decl_institution = named(QComboBox(), "decl_institution")
        for code, name in declaration.institutions(self.db):
            self.decl_institution.addItem(f"{code} {name}", code)
        index = self.decl_institution.findData(self.counter.settings.context.institution_code)
        self.decl_institution.setCurrentIndex(max(index, 0))
        self.decl_month = named(QLineEdit(period_label(self.last_month)), "decl_month")
        self.decl_month.setMaximumWidth(100)
        make = named(QPushButton("生成申报（CSV、PDF）"), "run_declaration")
        make.clicked.connect(self.run_declaration)
        for widget in (QLabel("机构"), self.decl_institution, QLabel("月份"), self.decl_month, make):
            row.addWidget(widget)
        layout.addLayout(row)
        self.decl_table = _table(
            ["医疗类别", "业务", "笔数", "医疗费总额", "基金支付", "个人账户（本人）", "家庭共济", "现金"],
            "declaration_lines",
        )
        layout.addWidget(self.decl_table)
        self.decl_result = named(QLabel(), "decl_result")
        self.decl_result.setWordWrap(True)
        layout.addWidget(self.decl_result)
        return tab

    def run_declaration(self) -> None:
        try:
            month = self._month(self.decl_month)
        except ValueError as exc:
            self.show_error(exc)
            return
        code, folder = self.decl_institution.currentData(), self.reports_dir

        def make():
            decl = declaration.monthly_declaration(self.db, self.counter.settings.context, code, month)
            summary, detail = declaration.write_csv(decl, folder)
            pdf = folder / f"declaration-{decl.institution_code}-{decl.period}.pdf"
            pdf.write_bytes(agency_reports.declaration_pdf(decl))
            return decl, (summary, detail, pdf)

        def done(result) -> None:
            decl, files = result
            self.last_report = decl
            _fill(
                self.decl_table,
                [
                    [
                        labels.MED_TYPE.get(line.med_type, "合计") if line.med_type else "合计",
                        declaration.KIND_LABELS[line.kind],
                        str(line.count),
                        *(fmt(getattr(line, a)) for a in declaration.AMOUNTS),
                    ]
                    for line in decl.summary_lines
                ],
            )
            tie = "与个人账户流水一致" if decl.ties else "与个人账户流水不一致，请核查！"
            self.decl_result.setText(
                f"{decl.institution_name} {decl.period}：账户划扣 {fmt(decl.total.accounts)} 元，"
                f"统筹基金记账 {fmt(decl.total.fund)} 元；{tie}\n" + "\n".join(map(str, files))
            )
            self.say(f"{decl.period} 月度申报已生成")

        Op(self, make).success(done).run()

    # -- account statement ----------------------------------------------------------------------
    def _statement_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        year = self.counter.settings.visit_date().year
        self.stmt_certno = named(QLineEdit(placeholderText="身份证号"), "stmt_certno")
        self.stmt_start = named(QLineEdit(f"{year}-01-01"), "stmt_start")
        self.stmt_end = named(QLineEdit(self.counter.settings.visit_date().isoformat()), "stmt_end")
        show = named(QPushButton("查询并生成 PDF"), "run_statement")
        show.clicked.connect(self.run_statement)
        for widget in (
            QLabel("身份证号"),
            self.stmt_certno,
            QLabel("自"),
            self.stmt_start,
            QLabel("至"),
            self.stmt_end,
            show,
        ):
            row.addWidget(widget)
        layout.addLayout(row)
        self.stmt_table = _table(["记账日期", "业务", "摘要", "金额", "余额"], "statement_lines")
        layout.addWidget(self.stmt_table)
        self.stmt_result = named(QLabel(), "stmt_result")
        self.stmt_result.setWordWrap(True)
        layout.addWidget(self.stmt_result)
        return tab

    def run_statement(self) -> None:
        from ..printing.statement import statement_pdf
        from ..services.statement import KIND_NAMES, statement

        try:
            start, end = (
                dt.date.fromisoformat(self.stmt_start.text().strip()),
                dt.date.fromisoformat(self.stmt_end.text().strip()),
            )
        except ValueError:
            self.show_error(ValueError("日期应为 YYYY-MM-DD"))
            return
        certno, folder, actor = self.stmt_certno.text(), self.reports_dir, self.counter.settings.context

        def make():
            s = statement(self.db, actor, certno, start, end)
            folder.mkdir(parents=True, exist_ok=True)
            pdf = folder / f"statement-{s.psn_no}-{start}-{end}.pdf"
            pdf.write_bytes(statement_pdf(s))
            return s, pdf

        def done(result) -> None:
            s, pdf = result
            self.last_statement = s
            _fill(
                self.stmt_table,
                [[start.isoformat(), "期初余额", "", "", fmt(s.brought_forward)]]
                + [
                    [
                        line.value_date.strftime("%Y-%m-%d"),
                        KIND_NAMES.get(line.kind, line.kind),
                        line.note,
                        fmt(line.amount),
                        fmt(line.balance),
                    ]
                    for line in s.lines
                ]
                + [[end.isoformat(), "期末余额", "", "", fmt(s.closing)]],
            )
            tie = "逐笔累计与账户余额一致" if s.ties else "逐笔累计与账户余额不一致，请核查！"
            self.stmt_result.setText(f"{s.name}（{s.masked_certno}）：{tie}；{pdf}")

        Op(self, make).success(done).run()

    # -- monitoring -----------------------------------------------------------------------------
    def _monitoring_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.monitor_month = named(QLineEdit(period_label(self.last_month)), "monitor_month")
        self.monitor_month.setMaximumWidth(100)
        analyse = named(QPushButton("分析并生成报告"), "run_monitoring")
        analyse.clicked.connect(self.run_monitoring)
        for widget in (QLabel("监测月份"), self.monitor_month, analyse):
            row.addWidget(widget)
        row.addStretch(1)
        layout.addLayout(row)
        charts_row = QHBoxLayout()
        self.visits_chart = named(QLabel(), "visits_chart")
        self.indicators_chart = named(QLabel(), "indicators_chart")
        for chart in (self.visits_chart, self.indicators_chart):
            chart.setMinimumHeight(260)
            charts_row.addWidget(chart)
        layout.addLayout(charts_row)
        self.anomalies = _table(["指标", "依据", "机构", "数值", "阈值", "说明"], "anomalies")
        layout.addWidget(self.anomalies)
        self.monitor_result = named(QLabel(), "monitor_result")
        layout.addWidget(self.monitor_result)
        return tab

    def run_monitoring(self) -> None:
        try:
            month = self._month(self.monitor_month)
        except ValueError as exc:
            self.show_error(exc)
            return
        folder = self.reports_dir

        def analyse():
            report = monitoring.monitor_month(self.db, self.counter.settings.context, month)
            folder.mkdir(parents=True, exist_ok=True)
            pdf = folder / f"monitoring-{report.period}.pdf"
            pdf.write_bytes(agency_reports.monitoring_pdf(report))
            return report, charts.visits_chart(report), charts.indicators_chart(report), pdf

        def done(result) -> None:
            report, visits_png, indicators_png, pdf = result
            self.last_report = report
            for label, png in ((self.visits_chart, visits_png), (self.indicators_chart, indicators_png)):
                pixmap = QPixmap()
                pixmap.loadFromData(png, "PNG")
                # two charts side by side within the counter, whatever its width (1366 px included)
                width = max(280, min(560, (self.tabs.width() - 60) // 2))
                label.setPixmap(pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation))
            _fill(
                self.anomalies,
                [
                    [
                        monitoring.INDICATOR_LABELS[a.indicator],
                        a.rule,
                        a.institution_name,
                        a.value,
                        a.threshold,
                        a.detail,
                    ]
                    for a in report.anomalies
                ],
            )
            beyond = "；".join(
                f"{o.name}（{o.policy}）{labels.RELATION.get(o.relation, '合计')} {o.count}/{o.limit}"
                for o in report.over_limit
            )
            self.monitor_result.setText(
                f"{report.period}：发现异常 {len(report.anomalies)} 项；报告 {pdf}\n"
                + (f"超出绑定上限的提供人：{beyond}\n" if beyond else "")
                + "未能监测（WH-32）："
                + "；".join(i for _r, i, _n in report.not_measured)
                + "（收费系统不持有所需数据）"
            )
            self.say(f"{report.period} 基金监测完成")

        Op(self, analyse).success(done).run()
