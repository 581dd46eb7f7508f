"""The admission webhook server a real cluster calls: Orkestra's ``webhooks`` and ``conversion``.

:mod:`.reviews` answers AdmissionReview and ConversionReview bodies (pure);
:mod:`.server` serves them over TLS, which kube-apiserver requires of every
webhook. On the embedded API server the same rules run in-process
(:mod:`orkestra_trio.runtime.admission`); both take
:func:`orkestra_trio.katalog.admission.admission_decision`.
"""
