"""Storage: objects, revisions, history and its compaction, persistence, the watch fan-out.

The older flat modules of this layer (``store.py``, ``persistence.py``,
``watch.py``, ``objects.py``) move in here once nobody else is editing them.
"""
