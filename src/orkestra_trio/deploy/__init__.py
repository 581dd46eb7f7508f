"""Deploying the runtime into a cluster: least-privilege RBAC and the objects it needs.

:mod:`.rbac` derives the rights from the Katalogs (pure); :mod:`.manifests`
builds the objects ``python -m orkestra_trio manifests`` prints.
"""

from orkestra_trio._version import __version__

# Here rather than in .manifests, so that `--help` need not import the language.
DEFAULT_IMAGE = f"orkestra-trio:{__version__}"
DEFAULT_NAMESPACE = "orkestra-system"
