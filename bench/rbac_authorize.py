"""What RBAC enforcement costs the embedded API server per request (``--authorization rbac``).

Every request of an authenticated user is read into attributes from its URL
and decided against the stored bindings and roles. This measures that
decision alone, in process, on a store holding the RBAC objects that
``manifests`` generates for every bundled Katalog plus ``--bindings`` other
RoleBindings and ClusterRoleBindings (a busy cluster's worth), for an allowed
request (the runtime's own list of its CRs) and a denied one (the worst
case: every rule is looked at). Without ``--authorization`` none of this
runs (one attribute check per request).

Printed: microseconds per decision (median of ``--runs``), steady (the
rules of a user and namespace are cached until an RBAC object changes) and
cold (right after such a change), and the ratio of
the GET budget of issue 3 (1,500 GET/s, i.e. 667 us per request) to it: a
ratio of 20 means authorization takes a twentieth of a GET's budget.
Run: ``python bench/rbac_authorize.py [--bindings 200] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from pathlib import Path

import yaml

from orkestra_trio.apiserver.authz.authorizer import RbacAuthorizer
from orkestra_trio.apiserver.authz.requestinfo import request_attributes
from orkestra_trio.apiserver.satokens import account_user
from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import Store
from orkestra_trio.auth import UserInfo
from orkestra_trio.cli import main as cli

ROOT = Path(__file__).parents[1]
GET_BUDGET_US = 1e6 / 1500


def _store(extra: int) -> tuple[Store, str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["manifests", *(str(p) for p in sorted((ROOT / "katalogs").glob("*.yaml")))])
    objects = [o for o in yaml.safe_load_all(out.getvalue()) if o]
    store = Store()
    store.bootstrap()
    for obj in objects:
        if obj["apiVersion"].startswith("rbac.") or obj["kind"] in ("Namespace", "ServiceAccount"):
            kind = next(
                k
                for k in store.kinds.all()
                if k.kind == obj["kind"] and k.api_version == obj["apiVersion"]
            )
            store.create(kind, obj["metadata"].get("namespace", ""), obj)
    rb = next(k for k in store.kinds.all() if k.kind == "RoleBinding")
    crb = next(k for k in store.kinds.all() if k.kind == "ClusterRoleBinding")
    for i in range(extra):
        subject = [{"kind": "User", "name": f"someone-{i}"}]
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "nothing"}
        store.create(
            rb, "default", {"metadata": {"name": f"rb-{i}"}, "roleRef": ref, "subjects": subject}
        )
        store.create(
            crb, "", {"metadata": {"name": f"crb-{i}"}, "roleRef": ref, "subjects": subject}
        )
    sa = next(o for o in objects if o["kind"] == "ServiceAccount")["metadata"]
    return store, sa["namespace"], sa["name"]


def _per_decision(
    authorizer: RbacAuthorizer, user: UserInfo, method: str, path: str, n: int, *, cold: bool
) -> float:
    start = time.perf_counter()
    for _ in range(n):
        if cold:  # as right after a Role or binding changed: the rules are worked out again
            authorizer.forget()
        attributes = request_attributes(method, path, {"watch": ""})
        with contextlib.suppress(ApiError):
            authorizer.check(user, attributes)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bindings", type=int, default=200, help="extra bindings of each kind")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000, help="decisions per run")
    args = parser.parse_args()
    store, namespace, name = _store(args.bindings)
    authorizer = RbacAuthorizer(store)
    user = account_user(namespace, name, "uid")
    cases = {
        "allowed (list websites, all namespaces)": ("GET", "/apis/demo.example.com/v1/websites"),
        "denied (get a secret)": ("GET", "/api/v1/namespaces/default/secrets/x"),
    }
    print(f"RBAC decision cost, {args.bindings} extra RoleBindings + ClusterRoleBindings")
    for label, (method, path) in cases.items():
        for cold in (False, True):
            samples = [
                _per_decision(authorizer, user, method, path, args.n, cold=cold)
                for _ in range(args.runs)
            ]
            median = statistics.median(samples)
            print(
                f"  {label}, {'cold (after an RBAC change)' if cold else 'steady'}: "
                f"{median:.1f} us per request "
                f"(GET budget {GET_BUDGET_US:.0f} us: ratio {GET_BUDGET_US / median:.1f})"
            )


if __name__ == "__main__":
    main()
