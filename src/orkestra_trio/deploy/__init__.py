"""Deploying the runtime into a cluster: least-privilege RBAC and the objects it needs.

:mod:`.rbac` derives the rights from the Katalogs (pure); :mod:`.manifests`
builds the objects ``python -m orkestra_trio manifests`` prints.
"""
