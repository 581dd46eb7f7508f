"""How much one request may ask of the server: kube-apiserver's limits, with its wording.

One anonymous request must not be able to freeze or exhaust the server, so
every input is bounded before anything expensive looks at it:

* a request body over 3 MiB is refused before it is read (413), as kube's
  ``MaxRequestBodyBytes``;
* an object whose stored JSON would exceed 1.5 MiB is refused (413), as etcd
  refuses it behind kube-apiserver;
* JSON nested deeper than the parser can follow is a 400, not a crash;
* a YAML body is composed first and its size counted with every alias
  expanded, so a "billion laughs" document is refused before it is built;
* the JSON patch ``copy`` operations of one patch may add at most 3 MiB
  together (json-patch's accumulated copy size limit, in patch.py).
"""

from __future__ import annotations

from typing import Any

import yaml

from orkestra_trio.apiserver.status import ApiError, bad_request

MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
MAX_OBJECT_BYTES = 3 * 1024 * 1024 // 2
# Nodes of a YAML body counted with aliases expanded: a 3 MiB document of
# one-character scalars has about a million, so more means alias expansion.
MAX_YAML_NODES = 1_000_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def body_too_large() -> ApiError:
    return ApiError(413, f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")


def object_too_large() -> ApiError:
    return ApiError(413, "Request entity too large: etcdserver: request is too large")


def check_object_size(raw: bytes) -> None:
    if len(raw) > MAX_OBJECT_BYTES:
        raise object_too_large()


def too_deep(what: str) -> ApiError:
    return bad_request(f"the body of the request could not be decoded: {what}: exceeded max depth")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: yaml.Node, cap: int = MAX_YAML_NODES) -> int:
    """Nodes of ``root`` with every alias expanded; ApiError past ``cap`` or on a cycle.

    Iterative, memoized by node identity (an alias is the same node object),
    so a document that would expand to billions costs only its real size.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > cap:
                raise bad_request(
                    "the body of the request could not be decoded: yaml: document contains "
                    "excessive aliasing"
                )
            sizes[key] = size
            continue
        if key in open_nodes:
            raise bad_request(
                "the body of the request could not be decoded: yaml: document contains a "
                "recursive alias"
            )
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise bad_request(
                    "the body of the request could not be decoded: yaml: document contains a "
                    "recursive alias"
                )
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def load_yaml_body(raw: bytes) -> Any:
    """A YAML request body as data, refused (400) when its expansion or nesting is abusive."""
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    except RecursionError:
        raise too_deep("yaml") from None
    finally:
        loader.dispose()
