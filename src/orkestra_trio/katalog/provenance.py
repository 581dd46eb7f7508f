"""The annotations the gateway stamps on a CR it applies (ORKESTRA-LANGUAGE.md 1.7).

A leaf module: the template functions (``getServeTarget``...) read them as
well as the gateway's decisions (:mod:`.serve`), so it imports nothing.
"""

SERVE_TARGET_ANNOTATION = "orkestra.orkspace.io/serve-target"
SERVE_ALIAS_ANNOTATION = "orkestra.orkspace.io/serve-alias"
SERVE_SOURCE_ANNOTATION = "orkestra.orkspace.io/serve-source"
#: The caller's intent as JSON: templates read it as ``.request``.
SERVE_INTENT_ANNOTATION = "orkestra.orkspace.io/serve-intent"
PROVENANCE_ANNOTATIONS = (SERVE_TARGET_ANNOTATION, SERVE_ALIAS_ANNOTATION, SERVE_SOURCE_ANNOTATION)
