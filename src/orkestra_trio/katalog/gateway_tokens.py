"""The gateway's ``secretRef`` tokens: which value is in force, and when a Secret is made anew.

Orkestra's gateway reads a ``secretRef`` token from its Secret; a Secret that
does not exist is created with a new random token, and with
``secretRef.rotateAfter`` a Secret older than that (its
``orkestra.orkspace.io/generated-at`` annotation, else its
``creationTimestamp``: the rule generated Secret children follow,
:mod:`.secrets`) gets a new token. Everything here decides over the Secret
as read and the clock given; making the random value, reading and writing
the Secret are the web layer's (web/gateway.py).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.model import GatewayToken
from orkestra_trio.katalog.secrets import decide, secret_text


@attrs.frozen
class TokenSecret:
    """What one ``secretRef`` token's Secret says at a moment."""

    #: The token in force ("" when it is to be made: ``write``).
    value: str
    #: Create the Secret, or give it a new token: it is absent or due.
    write: bool = False
    #: The annotations a written Secret carries (when its token was made).
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    #: Seconds until the token is due again (None: it never is; no rotateAfter).
    due_in: float | None = None


def token_secret(
    token: GatewayToken, secret: Mapping[str, Any] | None, now: datetime.datetime
) -> TokenSecret:
    """The token ``secret`` (None: absent) holds for ``token`` at ``now``, or that it is due."""
    rotate = {} if token.rotate_after is None else {"rotateAfter": token.rotate_after}
    if secret is None:
        made = decide(rotate, None, now)  # absent: due, stamped now
        return TokenSecret("", write=True, annotations=made.annotations, due_in=made.renew_in)
    value = secret_text(secret, token.secret_key) or ""
    if token.rotate_after is None:
        return TokenSecret(value)
    generation = decide(rotate, secret, now)
    if generation.due:
        return TokenSecret(
            "", write=True, annotations=generation.annotations, due_in=generation.renew_in
        )
    return TokenSecret(value, due_in=generation.renew_in)


def token_secret_manifest(
    token: GatewayToken, namespace: str, value: str, annotations: Mapping[str, str]
) -> dict[str, Any]:
    """The Secret (its token key and stamps only) that a server-side apply writes."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": token.secret_name,
            "namespace": namespace,
            "annotations": dict(annotations),
        },
        "type": "Opaque",
        "data": {token.secret_key: base64.b64encode(value.encode()).decode()},
    }
