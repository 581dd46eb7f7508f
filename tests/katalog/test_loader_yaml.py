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
        ("a: 1\n---\nb: 2\n", "expected a single document in the stream, but found another"),
        ("? [a, b]\n: 1\n", "mapping key must be a plain string"),
        ("a: !!timestamp nope\n", "'nope' is not a valid !!timestamp"),
        ("a: !!int xyz\n", "'xyz' is not a valid !!int"),
        ("a: !mine x\n", "could not determine a constructor for the tag '!mine'"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("a: *nowhere\n", "found undefined alias"),
        ("<<: 5\n", "invalid merge key"),
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


@pytest.mark.parametrize("levels", [500, 100_000])
@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_an_error_not_a_crash(opening, levels, tmp_path):
    # 100,000 levels crash libyaml's composer (a segfault), 500 Python's recursion.
    # Which check trips first (ours, or a depth limit newer libyaml builds carry)
    # is the dependency's business: ours is a clean one-line error at line 1.
    closing = "]" if opening == "[" else "}"
    text = "a: " + opening * levels + closing * levels + "\n"
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml(text)
    assert caught.value.line == 1
    assert "\n" not in str(caught.value)
    if levels <= 1000:  # below any libyaml limit: our own check names the limit
        assert "nested deeper than 100 levels" in str(caught.value)
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(YamlSourceError) as caught:
        yamlsource.load_yaml_stream(path)
    assert str(caught.value).startswith(f"{path}:1:")
    assert "\n" not in str(caught.value)
    value, _ = parse_yaml("a: " + "[" * 99 + "]" * 99)  # the limit itself is fine
    assert isinstance(value["a"], list)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(YamlSourceError, match="no such file") as missing:
        yamlsource.load_yaml_file(tmp_path / "absent.yaml")
    with pytest.raises(YamlSourceError, match="directory") as directory:
        yamlsource.load_yaml_file(tmp_path)
    # The whole file is at fault: placed at 1:1, so the CLI prints file:1:1:.
    for caught in (missing, directory):
        assert (caught.value.line, caught.value.column) == (1, 1)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nb: \xe9\xff\n")
    with pytest.raises(YamlSourceError, match="UTF-8") as not_utf8:
        yamlsource.load_yaml_file(latin)
    assert (not_utf8.value.line, not_utf8.value.column) == (2, 4)  # the first bad byte


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (b"\x00\x01", 1, 1, "invalid YAML: the character U+0000 is not allowed"),
        (b"a: 1\nb: x\x07y\n", 2, 5, "invalid YAML: the character U+0007 is not allowed"),
        (b"\xd3\x9a\xff\xfe garbage", 1, 2, "not UTF-8 text"),  # one character, then a bad byte
        (b"", 1, 1, "the file holds no YAML document"),
        (b"# only a comment\n", 1, 1, "the file holds no YAML document"),
    ],
)
def test_garbage_is_one_positioned_line(tmp_path, data, line, column, message):
    path = tmp_path / "garbage.yaml"
    path.write_bytes(data)
    with pytest.raises(YamlSourceError) as caught:
        yamlsource.load_yaml_file(path)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert error.message.startswith(message)
    assert "\n" not in error.message


def test_endless_or_huge_input_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_FILE_BYTES", 1000)
    with pytest.raises(YamlSourceError, match="file too large") as caught:
        yamlsource.load_yaml_file("/dev/zero")
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_yaml_streams_keep_positions_per_document(tmp_path):
    path = tmp_path / "stream.yaml"
    path.write_text("a: 1\n---\n---\nb:\n  c: 2\n")
    (first, _), (second, second_map) = yamlsource.load_yaml_stream(path)
    assert (first, second) == ({"a": 1}, {"b": {"c": 2}})
    assert second_map.values[("b", "c")] == yamlsource.Position(5, 6)
    path.write_text("a: 1\n---\nb: [\n")
    with pytest.raises(YamlSourceError, match="invalid YAML") as caught:
        yamlsource.load_yaml_stream(path)
    assert caught.value.line == 4


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
