"""The audit chain: append-only entries, each carrying the SHA-256 of the one before it and of its
own canonical content, and the digest of the money rows it wrote.

Who edits a ledger amount, deletes or forges an audit entry, or changes a settlement's approver by
raw SQL leaves a chain that `verify` names: an entry whose hash no longer matches its content, a
gap or a wrong `prev_hash` where one was deleted, covered rows whose digest changed, or money rows
that no entry covers. The rows covered are those that are written once and never updated
(settlements, ledger entries, year totals, deposit entries), by the fixed column lists below.

Appends are serialised: SQLite writers hold the write lock (BEGIN IMMEDIATE), PostgreSQL takes a
transaction-scoped advisory lock, so two counters never link to the same previous entry. What the
chain cannot show by itself is the newest entries being cut off the end together with every row
they cover; keep copies of the head (`head()`) off the machine, e.g. in the day-close report.

What the chain is made of (chain.py), writing it (append.py), reading it back (verify.py).
"""

from .append import Appended, adopt, append, genesis, mark_table, mark_written
from .chain import (
    ADVISORY_KEY,
    COVERED,
    GENESIS_PREV,
    GONE,
    INLINE_SEALS,
    SEALED,
    TABLE_SEALED,
    canonical,
    entry_hash,
    head,
    head_columns,
    identity,
    rows_digest,
    table_digest,
)
from .verify import Anchor, Problem, key_problem, parse_anchor, uncovered, unsealed, verify

__all__ = [
    "ADVISORY_KEY",
    "COVERED",
    "GENESIS_PREV",
    "GONE",
    "INLINE_SEALS",
    "SEALED",
    "TABLE_SEALED",
    "Anchor",
    "Appended",
    "Problem",
    "adopt",
    "append",
    "canonical",
    "entry_hash",
    "genesis",
    "head",
    "head_columns",
    "identity",
    "key_problem",
    "mark_table",
    "mark_written",
    "parse_anchor",
    "rows_digest",
    "table_digest",
    "uncovered",
    "unsealed",
    "verify",
]
