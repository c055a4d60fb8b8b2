"""A disk that fills or a database that goes away reaches the cashier in Chinese, with what to do
(issue 26): the driver's own errors, from SQLite and PostgreSQL, not imitations of them."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text

from counter_app.services import settlement as svc
from counter_app.services.errors import database_trouble
from counter_app.store import Database

from .world import AT, TODAY, build


def test_a_postgresql_server_that_is_not_there_is_said_in_chinese():
    db = Database("postgresql://postgres@127.0.0.1:1/counter", migrate=False)
    with pytest.raises(Exception) as failed, db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert database_trouble(failed.value) == (
        "连接不上数据库服务器，本次操作没有保存。请检查网络或通知信息科，恢复后重试。"
    )


def test_a_sqlite_file_whose_folder_went_away_is_said_in_chinese(tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    w = build(f"sqlite:///{folder / 'counter.sqlite3'}")
    w.db.dispose()
    shutil.rmtree(folder)  # the network share or the disk is gone
    with pytest.raises(Exception) as failed:
        svc.settle(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    said = database_trouble(failed.value)
    assert said and said.startswith("找不到或无法写入数据库文件，本次操作没有保存")


def test_other_errors_are_not_taken_for_database_trouble():
    assert database_trouble(ValueError("database or disk is full")) is None
