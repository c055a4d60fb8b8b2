"""The one module that imports Qt (PySide6); every other UI module imports from here."""

from __future__ import annotations

from typing import TypeVar

from PySide6 import QtCore, QtGui, QtPrintSupport, QtWidgets  # noqa: F401
from PySide6.QtCore import (  # noqa: F401
    QEvent,
    QLibraryInfo,
    QLocale,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    QTranslator,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QKeySequence, QPixmap, QShortcut  # noqa: F401
from PySide6.QtWidgets import (  # noqa: F401
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStatusBar,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

_W = TypeVar("_W", bound=QtCore.QObject)


def named(widget: _W, name: str) -> _W:
    """`widget` with its objectName set: tests find widgets by it. (Qt takes `objectName=` as a
    constructor keyword too, but PySide6's stubs do not list inherited properties, so mypy can't.)"""
    widget.setObjectName(name)
    return widget
