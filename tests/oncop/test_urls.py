"""URL inference for every ONCOP type, and endpoints whose host a CR cannot change."""

from __future__ import annotations

import httpx
import pytest

from orkestra_trio.katalog.render import build_context
from orkestra_trio.oncop.urls import TargetError, oncop_path, resolve, segment

CR = {
    "apiVersion": "demo.example.com/v1",
    "kind": "App",
    "metadata": {"name": "shop", "namespace": "team-a"},
    "spec": {"tenant": "blue"},
}


def target_for(entry, cr=CR):
    """Resolve ``entry`` for ``cr`` the way the reconcile pipeline passes name/namespace."""
    context = build_context(cr)
    selector = entry.selector
    name = selector.name.render(context) if selector.name is not None else ""
    namespace = selector.namespace.render(context) if selector.namespace is not None else ""
    own = cr["metadata"].get("namespace", "")
    return resolve(entry, name=name, namespace=namespace or own, context=context)


@pytest.mark.parametrize(
    ("type_", "path"),
    [
        ("cr", "/katalog/loader/cr/team-a/shop-loader"),
        ("health", "/katalog/loader/health"),
        ("metrics", "/katalog/loader"),
        ("info", "/katalog/loader"),
        ("events", "/katalog/loader/cr/team-a/shop-loader/events"),
    ],
)
def test_every_type_builds_its_path_from_crd_and_selector(cross_entries, type_, path):
    (entry,) = cross_entries(
        f"""
        - crd: loader
          selector:
            name: "{{{{ .metadata.name }}}}-loader"
          source:
            host: "http://loader-runtime:8080"
            type: {type_}
          as: loader
        """
    )
    target = target_for(entry)
    assert target.url == "http://loader-runtime:8080" + path
    assert target.type == type_


def test_default_type_is_cr_and_namespace_is_templated(cross_entries):
    (entry,) = cross_entries(
        """
        - crd: loader
          selector:
            name: my-loader
            namespace: "{{ .spec.tenant }}-system"
          source: {host: "http://loader-runtime:8080/"}
          as: loader
        """
    )
    target = target_for(entry)
    assert target.url == "http://loader-runtime:8080/katalog/loader/cr/blue-system/my-loader"
    assert target.key == "cr:loader:blue-system:my-loader:http://loader-runtime:8080"


def test_namespace_defaults_to_the_observing_crs(cross_entries):
    (entry,) = cross_entries(
        """
        - crd: loader
          selector: {name: my-loader}
          source: {host: "http://h:1"}
        """
    )
    other = {**CR, "metadata": {"name": "x", "namespace": "elsewhere"}}
    assert target_for(entry, other).url == "http://h:1/katalog/loader/cr/elsewhere/my-loader"


def test_crd_wide_types_share_one_key_across_crs(cross_entries):
    (entry,) = cross_entries(
        """
        - crd: loader
          selector: {name: "{{ .metadata.name }}"}
          source: {host: "http://h:1", type: health}
        """
    )
    a = target_for(entry)
    b = target_for(entry, {**CR, "metadata": {"name": "other", "namespace": "team-b"}})
    assert a.key == b.key == "health:loader:::http://h:1"


def test_a_cr_scoped_type_needs_a_name(cross_entries):
    (entry,) = cross_entries(
        """
        - crd: loader
          selector: {name: "{{ .spec.missing }}"}
          source: {host: "http://h:1"}
        """
    )
    with pytest.raises(TargetError, match="name"):
        target_for(entry)


@pytest.mark.parametrize(
    "hostile",
    ["@evil.example", "//other.example/x", "http://x.example/", "../../admin", "a?b=c#d", ".."],
)
def test_cr_values_stay_inside_the_path_for_oncop(cross_entries, hostile):
    (entry,) = cross_entries(
        """
        - crd: loader
          selector: {name: "{{ .spec.tenant }}"}
          source: {host: "http://loader-runtime:8080"}
        """
    )
    target = target_for(entry, {**CR, "spec": {"tenant": hostile}})
    url = httpx.URL(target.url)
    assert (url.scheme, url.host, url.port) == ("http", "loader-runtime", 8080)
    assert url.raw_path.decode().endswith("/" + segment(hostile))
    assert url.query == b"" and url.fragment == ""


@pytest.mark.parametrize(
    "hostile",
    ["@evil.example", "//other.example", "http://x.example", "../../admin", "a b?c=d#e", ".."],
)
def test_endpoint_template_cannot_change_scheme_or_host(cross_entries, hostile):
    (entry,) = cross_entries(
        """
        - crd: thing
          source:
            endpoint: "https://api.example.com/status/{{ .spec.tenant }}?of={{ .spec.tenant }}"
        """
    )
    target = target_for(entry, {**CR, "spec": {"tenant": hostile}})
    url = httpx.URL(target.url)
    assert (url.scheme, url.host, url.port) == ("https", "api.example.com", None)
    assert url.userinfo == b""
    escaped = segment(hostile)
    assert target.url == f"https://api.example.com/status/{escaped}?of={escaped}"
    # The path has exactly the two segments the author wrote.
    assert url.raw_path.decode().split("?")[0].count("/") == 2
    assert target.key == f"cr:thing:team-a::{target.url}"


def test_endpoint_renders_ordinary_names_unchanged(cross_entries):
    (entry,) = cross_entries(
        """
        - crd: thing
          source:
            endpoint: "http://127.0.0.1:9000/v1/{{ .metadata.namespace }}/{{ .metadata.name }}.json"
            type: health
        """
    )
    target = target_for(entry)
    assert target.url == "http://127.0.0.1:9000/v1/team-a/shop.json"
    assert target.raw and target.base == "http://127.0.0.1:9000"


def test_oncop_path_escapes_every_segment():
    assert oncop_path("cr", "a/b", "ns x", "n@m") == "/katalog/a%2Fb/cr/ns%20x/n%40m"
    assert oncop_path("cr", "loader", "", "x") == "/katalog/loader/cr/_/x"
    with pytest.raises(TargetError):
        oncop_path("nonsense", "loader")
