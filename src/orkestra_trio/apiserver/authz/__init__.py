"""Authorization on the embedded API server: RBAC over the stored roles and bindings.

:mod:`.rbac` decides (pure), :mod:`.requestinfo` reads a request's attributes
from its URL, :class:`.authorizer.RbacAuthorizer` ties them to a store.
Turned on by ``--authorization rbac``; without it every request is allowed,
as before. Users come from :mod:`orkestra_trio.auth` (the request's scope).
"""
