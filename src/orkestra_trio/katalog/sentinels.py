"""Orkestra's sentinels: booleans comparing the old and new CR of an update.

They gate the queue (``enqueueGate``) and, declared in ``preReconcile.sentinels``,
read as zero-argument template functions (``{{ if generationChanged }}``): true
when that change happened in an update of the CR since its last reconcile.
A leaf module: the model, the template library and the runtime all name them.
"""

#: Every sentinel, in Orkestra's order.
SENTINELS = (
    "generationChanged",
    "labelsChanged",
    "annotationsChanged",
    "deletionStarted",
    "finalizersChanged",
    "nameChanged",
    "namespaceChanged",
    "generateNameChanged",
    "uidChanged",
    "resourceVersionChanged",
    "creationTimestampChanged",
    "deletionGracePeriodSecondsChanged",
    "ownerReferenceChanged",
    "managedFieldsChanged",
)

#: The template context key holding the sentinels that fired (read by the functions).
FIRED_KEY = "_sentinels"
