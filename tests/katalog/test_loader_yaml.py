"""YAML with positions, and Go-style durations: the loader's two building blocks."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra_trio.katalog import DurationError, format_duration, parse_duration, yamlsource
from orkestra_trio.katalog.yamlsource import YamlSourceError, format_path, parse_yaml


def test_uses_the_c_loader_when_pyyaml_has_it():
    if hasattr(yaml, "CSafeLoader"):
        assert yamlsource._Loader is yaml.CSafeLoader
    else:  # pragma: no cover - depends on how pyyaml was built
        assert yamlsource._Loader is yaml.SafeLoader


def test_positions_of_keys_and_values_are_one_based():
    text = 'top:\n  list:\n    - a\n    - {k: v}\n  quoted: "x"\n  block: |\n    line\n'
    value, where = parse_yaml(text, "f.yaml")
    assert value == {"top": {"list": ["a", {"k": "v"}], "quoted": "x", "block": "line\n"}}
    assert where.file == "f.yaml"
    assert (where.keys[("top",)].line, where.keys[("top",)].column) == (1, 1)
    assert (where.keys[("top", "list")].line, where.keys[("top", "list")].column) == (2, 3)
    assert (where.values[("top", "list", 0)].line, where.values[("top", "list", 0)].column) == (
        3,
        7,
    )
    assert where.keys[("top", "list", 1, "k")].column == 8
    assert where.values[("top", "quoted")].style == '"'
    assert where.values[("top", "block")].style == "|"
    # An unknown path falls back to its nearest known ancestor.
    assert where.value_at(("top", "list", 1, "missing")) == where.values[("top", "list", 1)]


def test_duplicate_keys_are_an_error_naming_both_places():
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "duplicate key 'a' (first at line 1, column 1)" in caught.value.message


def test_explicit_keys_override_merged_ones():
    value, _ = parse_yaml("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert value["use"] == {"x": 1, "y": 3}


def test_invalid_yaml_reports_the_parser_position():
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml("a:\n  b: [1, 2\nc: 3\n", "bad.yaml")
    err = caught.value
    assert err.file == "bad.yaml" and err.line == 3
    assert err.message.startswith("invalid YAML:")
    assert str(err).startswith("bad.yaml:3:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no YAML document"),
        ("# only a comment\n", "holds no YAML document"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        ("? [a, b]\n: 1\n", "mapping key must be a plain string"),
    ],
)
def test_documents_the_loader_refuses(text, message):
    with pytest.raises(YamlSourceError, match=message):
        parse_yaml(text)


def test_alias_expansion_is_bounded(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_NODES", 1000)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    with pytest.raises(YamlSourceError, match="too large"):
        parse_yaml(bomb)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(YamlSourceError, match="no such file"):
        yamlsource.load_yaml_file(tmp_path / "absent.yaml")
    with pytest.raises(YamlSourceError, match="directory"):
        yamlsource.load_yaml_file(tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: \xe9\xff\n")
    with pytest.raises(YamlSourceError, match="UTF-8"):
        yamlsource.load_yaml_file(latin)


def test_format_path():
    assert format_path(()) == ""
    assert format_path(("spec", "crds", "web", "cross", 0, "as")) == "spec.crds.web.cross[0].as"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("1h2m3s4ms", 3723.004),
        ("100us", 0.0001),
        ("0", 0.0),
        ("45", 45.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_durations_go_style_and_plain_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["30x", "", "s", "1h 30m", "-5s", -1, "1.2.3s", "m30", True, None, [1], "nan", float("inf")],
)
def test_bad_durations_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_bad_duration_message_says_what_is_accepted():
    with pytest.raises(DurationError, match=r"invalid duration '30x'.*30s, 2m, 1h30m"):
        parse_duration("30x")


def test_format_duration_round_trips():
    for text in ["1h30m", "45s", "2m", "500ms", "1h0.5s"]:
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
    assert format_duration(5400) == "1h30m"


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC_-.0123456789 ", min_size=1, max_size=8)
_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@settings(max_examples=150, deadline=None)
@given(document=_documents, flow=st.booleans())
def test_values_match_pyyaml_and_every_value_has_a_position(document, flow):
    text = yaml.safe_dump({"root": document}, default_flow_style=flow, allow_unicode=True)
    # safe_dump quotes string keys such as 'yes' or '1', so pyyaml reads them
    # back as strings too: the values must agree exactly.
    expected = yaml.safe_load(text)
    value, where = parse_yaml(text)
    assert value == expected
    lines = text.splitlines()
    for path in _paths(value):
        pos = where.values[path]
        assert 1 <= pos.line <= max(len(lines), 1)
        assert pos.column >= 1
        if path and isinstance(path[-1], str):
            key_pos = where.keys[path]
            # The key's text starts where its position says (quoted or not).
            assert (
                lines[key_pos.line - 1][key_pos.column - 1 :].lstrip("'\"").startswith(path[-1][:1])
            )
