"""设置 (F8, supervisors): this counter's settings file, each value checked before it is saved.

检查 asks each thing whether it answers: the database (opened, not created, and its schema
revision), the system printer (Qt's list), the thermal printer's form, and the insurance centre
(a signed 9001 sign-in through the gateway). 保存 stores the file through the service, which
checks the permission and writes the audit entry; a change of database or centre takes effect at
the next start, as the message says.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from ... import config
from ..counter.widgets import label as _label
from ..ops import Op
from ..qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    Qt,
    QWidget,
    named,
)

if TYPE_CHECKING:
    from ..counter.desk import Desk


PLACEHOLDERS = {
    "institution": "空：演示医院",
    "database": "空：本机数据库文件",
    "centre": "空：不联网（手工上传）",
    "paasid": "空：培训用账号",
    "printer": "空：只保存 PDF",
    "escpos": "如 usb:04b8:0202，空：不用",
    "backup_dir": "空：不自动备份",
}


class CounterSettingsDialog(QDialog):
    def __init__(self, desk: Desk) -> None:
        super().__init__(desk.window)
        self.desk = desk
        self.setWindowTitle("本窗口设置")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(720)
        form = QFormLayout(self)
        form.addRow(_label(f"设置文件：{config.config_path()}"))
        self.current = config.load()
        self.inputs: dict[str, Any] = {}
        for f in fields(config.Settings):
            value = getattr(self.current, f.name)
            widget: QWidget
            if f.name == "slip_size":
                widget = combo = named(QComboBox(), f"setting_{f.name}")
                combo.addItems(["80mm", "a5"])
                combo.setCurrentText(value)
            elif f.name == "customer_display":
                widget = check = named(QCheckBox(), f"setting_{f.name}")
                check.setChecked(value)
            else:
                widget = line = named(QLineEdit(str(value)), f"setting_{f.name}")
                if f.name in config.SECRET:
                    line.setEchoMode(QLineEdit.EchoMode.Password)
                line.setPlaceholderText(PLACEHOLDERS.get(f.name, ""))
                line.setMinimumWidth(line.fontMetrics().horizontalAdvance(line.placeholderText()) + 24)
                if f.name in ("database", "backup_dir"):  # the long ones say more on hover
                    line.setToolTip(
                        "共享数据库填 postgresql://用户@服务器/库名（经 PgBouncer 时加 ?pgbouncer=true）"
                        if f.name == "database"
                        else "建议填另一块硬盘或共享目录"
                    )
            self.inputs[f.name] = widget
            form.addRow(config.DESCRIPTIONS[f.name], widget)
        self.result_label = _label(name="settings_result")
        self.result_label.setWordWrap(True)
        form.addRow(self.result_label)
        row = QHBoxLayout()
        self.check_button = named(QPushButton("检查"), "settings_check")
        self.check_button.clicked.connect(self.check)
        self.save_button = named(QPushButton("保存"), "settings_save")
        self.save_button.clicked.connect(self.save)
        cancel = QPushButton("取消")
        cancel.clicked.connect(self.reject)
        for button in (self.check_button, self.save_button, cancel):
            row.addWidget(button)
        form.addRow(row)

    def load(self) -> None:
        self.inputs["institution"].setFocus()

    def entered(self) -> config.Settings:
        """The settings as typed, each checked (ConfigError names the first that is wrong)."""
        values = {}
        for key, widget in self.inputs.items():
            text = (
                widget.currentText()
                if isinstance(widget, QComboBox)
                else ("true" if widget.isChecked() else "false")
                if isinstance(widget, QCheckBox)
                else widget.text()
            )
            values[key] = config.parse(key, text)
        return replace(self.current, **values)

    def _say(self, text: str, ok: bool) -> None:
        self.result_label.setStyleSheet("color: #1b5e20" if ok else "color: #b00020")
        self.result_label.setText(text)
        self.adjustSize()  # every line of the checks shows

    def _checked(self) -> config.Settings | None:
        """The settings as typed, or None after saying which value is wrong."""
        try:
            return self.entered()
        except config.ConfigError as exc:
            self._say(str(exc), False)
            return None

    def check(self) -> None:
        settings = self._checked()
        if settings is None:
            return
        desk = self.desk
        Op(desk, lambda: check_all(settings, desk)).success(
            lambda lines: self._say("\n".join(text for _, text in lines), all(ok for ok, _ in lines))
        ).run()

    def save(self) -> None:
        from ...services.counter_settings import change

        settings = self._checked()
        if settings is None:
            return
        desk = self.desk

        def done(changed: dict) -> None:
            self.current = settings
            if "slip_size" in changed:  # the next slip is already the new size
                desk.settings = replace(desk.settings, slip_size=settings.slip_size)
            if not changed:
                self._say("没有改动", True)
                return
            self._say(
                "已保存："
                + "、".join(config.DESCRIPTIONS[k] for k in changed)
                + "。数据库、医保中心和打印机的改动在下次启动时生效",
                True,
            )

        Op(desk, lambda: change(desk.db, desk.settings.context, settings)).success(done).failure(
            lambda exc: self._say(str(exc), False)
        ).run()


def check_all(settings: config.Settings, desk: Desk) -> list[tuple[bool, str]]:
    """(ok, line) for each thing a setting names that can be asked whether it answers."""
    out = [_check_database(settings.database)]
    if settings.printer:
        from ..qt import QtPrintSupport

        names = QtPrintSupport.QPrinterInfo.availablePrinterNames()
        out.append(
            (
                settings.printer in names,
                f"系统打印机 {settings.printer}："
                + (
                    "已找到" if settings.printer in names else f"未找到（本机有：{'、'.join(names) or '无'}）"
                ),
            )
        )
    if settings.escpos:
        out.append((True, f"热敏打印机 {settings.escpos}：格式正确（打印时连接）"))
    if settings.centre:
        out.append(_check_centre(settings, desk))
    return out


def _check_database(url: str) -> tuple[bool, str]:
    from ...store import Database, DatabaseError
    from ...store.db import newest_revision

    try:
        db = Database(url or None, migrate=False, create=False)
        try:
            revision = db._stored_revision()
        finally:
            db.dispose()
    except DatabaseError as exc:
        return False, f"数据库：{exc}"
    if revision != newest_revision():
        return (
            False,
            f"数据库 {url or '（默认文件）'}：结构版本 {revision}，本程序需要 {newest_revision()}（先执行 db upgrade）",
        )
    return True, f"数据库 {url or '（默认文件）'}：可用（结构版本 {revision}）"


def _check_centre(settings: config.Settings, desk: Desk) -> tuple[bool, str]:
    from ...services.settlement import institution_label
    from ...sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
    from ...sync.handshake import Rejected, Transient, sign_in

    context = desk.settings.context
    credentials = (
        Credentials(settings.paasid, settings.passtoken)
        if settings.paasid and settings.passtoken
        else Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
    )
    name, _, _ = institution_label(desk.db, context.institution_code)
    try:
        sign_no = sign_in(
            settings.centre,
            credentials,
            institution_code=context.institution_code,
            institution_name=name,
            admdvs=context.institution_code[1:7],
            operator=context.staff_no,
            operator_name=context.name,
        )
    except (Transient, Rejected) as exc:
        return False, f"医保中心 {settings.centre}：{exc}"
    return True, f"医保中心 {settings.centre}：签到成功（签到号 {sign_no}）"
