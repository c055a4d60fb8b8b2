"""The one module that imports Qt (PySide6); every other UI module imports from here."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtPrintSupport, QtWidgets  # noqa: F401
from PySide6.QtCore import (  # noqa: F401
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
