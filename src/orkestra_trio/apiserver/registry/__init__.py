"""The per-kind registry: what each kind accepts, defaults and reports on its own.

kube-apiserver keeps one "registry" per resource (``pkg/registry/<group>/<kind>``):
its name rules, defaulting, the status a new object starts with, and the
controllers that act on it in a real cluster. New per-kind rules live here;
the older flat modules (``strategy.py``, ``kinds.py``, ``workloads.py``,
``schema.py``) belong to this layer too and move in here once nobody else is
editing them.
"""
