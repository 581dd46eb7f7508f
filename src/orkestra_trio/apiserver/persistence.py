"""Durable state in one SQLite file (WAL): a restart loses no acknowledged write.

Every commit of the store is one SQLite transaction, committed before the
client gets its answer: the object's new version (or its removal), the change
itself for the watch history, and the revision counter. On start the objects,
the counter and the last ``history_size`` changes are loaded back, so the
counter continues where it stopped and a watcher resuming from the last
resourceVersion it saw gets exactly the changes it missed.

WAL with ``synchronous=NORMAL`` survives a killed process (the OS keeps the
written pages); only a power loss could drop the last transactions.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import TYPE_CHECKING

from orkestra_trio.apiserver.objects import Stored
from orkestra_trio.apiserver.watch import DELETED, Change

if TYPE_CHECKING:
    from orkestra_trio.apiserver.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, plural TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (grp, plural, namespace, name)
);
CREATE TABLE IF NOT EXISTS changes (
    rv INTEGER PRIMARY KEY, type TEXT NOT NULL, grp TEXT NOT NULL, plural TEXT NOT NULL,
    namespace TEXT NOT NULL, name TEXT NOT NULL, body BLOB NOT NULL,
    old_rv INTEGER, old_body BLOB
);
"""

# Trim the change log every this many commits (not on every write).
_TRIM_EVERY = 256


class SqlitePersistence:
    """The store's durable backend (``Store.persistence``)."""

    def __init__(self, path: str | os.PathLike[str], *, history_size: int) -> None:
        self.path = os.fspath(path)
        self.history_size = max(1, history_size)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def load_into(self, store: Store) -> None:
        """Fill an empty store with the persisted objects, revision and history."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        revision = int(row[0]) if row else 0
        objects = [
            ((grp, plural), Stored(json.loads(body), rv, bytes(body)))
            for grp, plural, rv, body in self._db.execute(
                "SELECT grp, plural, rv, body FROM objects"
            )
        ]
        history: list[Change] = []
        for rv, kind, grp, plural, ns, name, body, old_rv, old_body in self._db.execute(
            "SELECT rv, type, grp, plural, namespace, name, body, old_rv, old_body "
            "FROM changes WHERE rv > ? ORDER BY rv",
            (revision - self.history_size,),
        ):
            old = (
                None if old_body is None else Stored(json.loads(old_body), old_rv, bytes(old_body))
            )
            new = Stored(json.loads(body), rv, bytes(body))
            history.append(Change(rv, kind, (grp, plural), ns, name, new, old))
        store.restore_from(revision, objects, history)

    def record(self, change: Change) -> None:
        """Commit one change durably (called by the store before it applies it)."""
        db = self._db
        grp, plural = change.resource
        body = change.new.raw()
        old = change.old
        db.execute("BEGIN")
        try:
            if change.type == DELETED:
                db.execute(
                    "DELETE FROM objects WHERE grp=? AND plural=? AND namespace=? AND name=?",
                    (grp, plural, change.namespace, change.name),
                )
            else:
                db.execute(
                    "INSERT OR REPLACE INTO objects (grp, plural, namespace, name, rv, body) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (grp, plural, change.namespace, change.name, change.rv, body),
                )
            db.execute(
                "INSERT OR REPLACE INTO changes "
                "(rv, type, grp, plural, namespace, name, body, old_rv, old_body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    change.rv,
                    change.type,
                    grp,
                    plural,
                    change.namespace,
                    change.name,
                    body,
                    None if old is None else old.rv,
                    None if old is None else old.raw(),
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)", (change.rv,)
            )
            if change.rv % _TRIM_EVERY == 0:
                db.execute("DELETE FROM changes WHERE rv <= ?", (change.rv - self.history_size,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
