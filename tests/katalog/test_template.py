"""Go text/template constructs and functions, rendered through the jinja2 translation."""

from __future__ import annotations

from typing import Any

import pytest

from orkestra_trio.katalog.template import (
    Limits,
    TemplateRenderError,
    TemplateSyntaxError,
    compile_template,
    is_template,
    lookup_path,
)

CTX: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "replicas": 3,
        "ratio": 0.5,
        "whole": 3.0,
        "big": 1e6,
        "enabled": True,
        "off": False,
        "zero": 0,
        "empty": "",
        "none": None,
        "image": "nginx:1.25",
        "sites": ["a", "b", "c"],
        "ports": {"http": 80, "https": 443},
        "nested": {"list": [{"name": "x"}, {"name": "y"}]},
        "text": "Hello World",
        "padded": "  hi  ",
    },
    "cross": {
        "db": {"status": {"phase": "Ready"}},
        "nostatus": {"spec": {}},
        "deploy": {"status": {"readyReplicas": 2}},
    },
}


def render(source: str, context: Any = None) -> str:
    return compile_template(source).render(CTX if context is None else context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # paths, root, dot
        ("{{ .metadata.name }}", "web"),
        ("{{ .metadata.labels.app }}-{{ .metadata.namespace }}", "web-shop"),
        ("{{ $.metadata.name }}", "web"),
        ("{{ .missing }}", ""),
        ("{{ .spec.none }}", ""),
        ("plain text only", "plain text only"),
        # value printing, Go style
        ("{{ .spec.enabled }} {{ .spec.off }}", "true false"),
        ("{{ .spec.replicas }} {{ .spec.whole }} {{ .spec.ratio }}", "3 3 0.5"),
        ("{{ .spec.big }}", "1e+06"),
        ("{{ .spec.sites }}", "[a b c]"),
        ("{{ .spec.ports }}", "map[http:80 https:443]"),
        ("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 1.5 }} {{ 1e3 }} {{ 'a' }}", "42 -7 31 1.5 1000 97"),
        ('{{ "a\\tb\\u00e9" }}', "a\tb\u00e9"),
        ("{{ `raw \\n string` }}", "raw \\n string"),
        ("{{ true }} {{ false }}", "true false"),
        # variables
        ("{{ $x := .metadata.name }}{{ $x }}", "web"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
        ("{{ $n := 0 }}{{ range .spec.sites }}{{ $n = . }}{{ end }}{{ $n }}", "c"),
        ("{{ $m := .spec.ports }}{{ $m.http }}", "80"),
        # pipelines and calls
        ('{{ .missing | default "dflt" }}', "dflt"),
        ('{{ .metadata.name | default "dflt" }}', "web"),
        ("{{ .spec.zero | default 5 }}", "5"),
        ('{{ .metadata.name | toUpper | printf "<%s>" }}', "<WEB>"),
        ("{{ (index .spec.nested.list 1).name }}", "y"),
        ("{{ (.spec.text | toLower) }}", "hello world"),
        ("{{ phase .cross.db }}", "Ready"),
        ("[{{ phase .cross.nostatus }}][{{ phase .cross.absent }}]", "[][]"),
        # if / else if / else
        ("{{ if .spec.enabled }}on{{ end }}", "on"),
        ("{{ if .spec.off }}on{{ else }}off{{ end }}", "off"),
        ("{{ if .spec.off }}1{{ else if .spec.zero }}2{{ else if .spec.sites }}3{{ end }}", "3"),
        ("{{ if .spec.empty }}1{{ else if .missing }}2{{ else }}3{{ end }}", "3"),
        ("{{ if $v := .metadata.name }}{{ $v }}{{ end }}", "web"),
        ("{{ if .spec.none }}x{{ else if $n := .metadata.name }}{{ $n }}{{ end }}", "web"),
        # Go truthiness: empty collections, 0, "", nil are false
        (
            "{{ if .spec.ports }}y{{ end }}{{ if .spec.zero }}n{{ end }}{{ if .spec.empty }}n{{ end }}",
            "y",
        ),
        # range
        ("{{ range .spec.sites }}<{{ . }}>{{ end }}", "<a><b><c>"),
        ("{{ range $i, $s := .spec.sites }}{{ $i }}:{{ $s }} {{ end }}", "0:a 1:b 2:c "),
        ("{{ range $s := .spec.sites }}{{ $s }}{{ end }}", "abc"),
        ("{{ range $k, $v := .spec.ports }}{{ $k }}={{ $v }};{{ end }}", "http=80;https=443;"),
        ("{{ range .missing }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range .spec.nested.list }}{{ .name }}{{ $.metadata.name }}{{ end }}", "xwebyweb"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ('{{ range .spec.sites }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}', "a"),
        ('{{ range .spec.sites }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', "ac"),
        # with
        ("{{ with .metadata.labels }}{{ .tier }}{{ end }}", "front"),
        ("{{ with .missing }}x{{ else }}none{{ end }}", "none"),
        ("{{ with $l := .metadata.labels }}{{ $l.app }}{{ end }}", "web"),
        ("{{ with .missing }}1{{ else with .metadata }}{{ .name }}{{ end }}", "web"),
        # logic (Go 1.18: and/or return an operand and short-circuit)
        ("{{ and .spec.replicas .metadata.name }}", "web"),
        ("{{ and .spec.zero .metadata.name }}", "0"),
        ("{{ or .spec.empty .missing .metadata.name }}", "web"),
        ("{{ not .spec.enabled }} {{ not .missing }}", "false true"),
        ("{{ if and .spec.sites (gt (len .spec.sites) 2) }}big{{ end }}", "big"),
        ("{{ if and .missing (index .missing 5) }}x{{ else }}safe{{ end }}", "safe"),
        # comparisons
        ('{{ eq .spec.replicas 3 }} {{ eq .metadata.name "web" }}', "true true"),
        ('{{ eq .metadata.name "a" "b" "web" }}', "true"),
        ('{{ eq .missing nil }} {{ eq .missing "x" }}', "true false"),
        (
            '{{ ne .spec.replicas 4 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt 1.5 1 }} {{ ge "b" "a" }}',
            "true true true true true",
        ),
        ("{{ eq .spec.whole 3 }}", "true"),
        # comments and trim markers
        ("a {{/* a comment */}} b", "a  b"),
        ("a {{- /* trimmed */ -}} b", "ab"),
        ("a\n  {{- .metadata.name -}}\n  b", "awebb"),
        ("{{ 3 -}} \n x", "3x"),
        ("{{-3}}", "-3"),
        # functions
        (
            "{{ len .spec.sites }} {{ len .spec.ports }} {{ len .metadata.name }} {{ len .missing }}",
            "3 2 3 0",
        ),
        (
            '{{ index .spec.sites 1 }} {{ index .spec.ports "https" }} {{ index .metadata.labels "nope" }}',
            "b 443 ",
        ),
        ('{{ index .spec.nested "list" 0 "name" }}', "x"),
        (
            '{{ printf "%s-%d-%v-%q" .metadata.name .spec.replicas .spec.enabled "x" }}',
            'web-3-true-"x"',
        ),
        (
            '{{ printf "%.2f|%f|%5d|%-4s|%x|%X|%05d" 3.14159 1.5 42 "ab" 255 255 42 }}',
            "3.14|1.500000|   42|ab  |ff|FF|00042",
        ),
        (
            '{{ printf "%d" "str" }}|{{ printf "%s" }}|{{ printf "x" 1 }}',
            "%!d(string=str)|%!s(MISSING)|x%!(EXTRA int=1)",
        ),
        ('{{ printf "%v %v %v" .spec.none .spec.sites 2.5 }}', "<nil> [a b c] 2.5"),
        (
            '{{ printf "%e|%g|%t|%%|%c|%T" 1234.5 0.000012 true 65 .spec.ratio }}',
            "1.234500e+03|1.2e-05|true|%|A|float64",
        ),
        (
            "{{ toLower .spec.text }}|{{ toUpper .spec.text }}|{{ trim .spec.padded }}",
            "hello world|HELLO WORLD|hi",
        ),
        ('{{ replace "o" "0" .spec.text }}', "Hell0 W0rld"),
        ('{{ .spec.text | replace " " "-" }}', "Hello-World"),
        (
            '{{ contains "World" .spec.text }} {{ hasPrefix "Hell" .spec.text }} {{ hasSuffix "x" .spec.text }}',
            "true true false",
        ),
        (
            '{{ quote .metadata.name }} {{ quote "a\\"b\\n" }} {{ .spec.replicas | quote }}',
            '"web" "a\\"b\\n" "3"',
        ),
        ("{{ toJson .spec.ports }}", '{"http":80,"https":443}'),
        (
            '{{ toJson .spec.nested }} {{ toJson "<&>" }} {{ toJson .missing }}',
            '{"list":[{"name":"x"},{"name":"y"}]} "\\u003c\\u0026\\u003e" null',
        ),
        (
            "{{ add 1 2 3 }} {{ sub 10 4 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div -7 2 }} {{ div 7.0 2 }}",
            "6 6 24 3 -3 3.5",
        ),
        ('{{ add .spec.replicas 0.5 }} {{ add "4" 1 }}', "3.5 5"),
        ("{{ readyReplicas .cross.deploy }} {{ readyReplicas .cross.db }}", "2 0"),
        (
            '{{ getOr .metadata.labels "app" "z" }} {{ getOr .metadata.labels "x" "z" }} {{ getOr .missing "x" "z" }}',
            "web z z",
        ),
        ('{{ print "a" 1 2 "b" }}', "a1 2b"),
    ],
)
def test_renders(source: str, expected: str) -> None:
    assert render(source) == expected


def test_missing_key_is_falsy_and_empty() -> None:
    assert render("[{{ .nope }}]{{ if .nope }}yes{{ else }}no{{ end }}") == "[]no"


def test_text_with_jinja_syntax_is_literal() -> None:
    source = '{% if true %}X{% endif %} {# c #} ${x} {{ .metadata.name }} {{ "{{" }}'
    assert render(source, CTX) == "{% if true %}X{% endif %} {# c #} ${x} web {{"


def test_crlf_text_is_kept_byte_for_byte() -> None:
    assert render("a\r\nb {{ 1 }}\r\n") == "a\r\nb 1\r\n"


def test_compile_is_cached_per_source_and_name() -> None:
    first = compile_template("{{ .a }}", name="f.yaml:3")
    assert compile_template("{{ .a }}", name="f.yaml:3") is first
    assert compile_template("{{ .a }}", name="f.yaml:4") is not first


def test_is_template() -> None:
    assert is_template("x {{ .a }}")
    assert not is_template("plain { text }")


def test_lookup_path() -> None:
    assert lookup_path(CTX, "metadata.labels.app") == "web"
    assert lookup_path(CTX, ".metadata.name") == "web"
    assert lookup_path(CTX, "spec.sites.1") == "b"
    assert lookup_path(CTX, "spec.sites.9") is None
    assert lookup_path(CTX, "spec.nothing.deeper") is None
    assert lookup_path(CTX, "metadata.name.x") is None
    assert lookup_path(CTX, "") is CTX


def test_frozen_mappings_and_tuples_work_like_dicts_and_lists() -> None:
    from types import MappingProxyType

    context = MappingProxyType({"spec": MappingProxyType({"items": ("a", "b"), "n": 2})})
    assert (
        render(
            "{{ range .spec.items }}{{ . }}{{ end }} {{ .spec.n }} {{ len .spec.items }}", context
        )
        == "ab 2 2"
    )
    assert render("{{ toJson .spec }}", context) == '{"items":["a","b"],"n":2}'


# -- syntax errors: message, line and column within the template -------------


@pytest.mark.parametrize(
    ("source", "line", "column", "fragment"),
    [
        ("{{ .a", 1, 1, "unclosed action"),
        ("ok\n{{ if .a }}x", 2, 13, "has no {{end}}"),
        ("{{ end }}", 1, 4, "unexpected {{end}}"),
        ("{{ else }}", 1, 4, "unexpected {{else}}"),
        ("{{ nosuch .a }}", 1, 4, "function 'nosuch' not defined"),
        ('{{ template "x" . }}', 1, 13, 'template "x" not defined'),
        ("line1\nline2 {{ $x }}", 2, 10, "undefined variable '$x'"),
        ('{{ "abc }}', 1, 4, "unterminated quoted string"),
        ("{{ .a | .b }}", 1, 9, "must be a function call"),
        ("{{ .a .b }}", 1, 4, "only a function can take arguments"),
        ("{{ }}", 1, 4, "missing value"),
        ("{{ printf }}", 1, 4, "wrong number of arguments for printf"),
        ("{{ len 1 2 }}", 1, 4, "want 1, got 2"),
        ("{{ 12ab }}", 1, 4, "bad number syntax"),
        ("{{ .a\n | }}", 2, 4, "missing command"),
        ("{{ break }}", 1, 4, "outside {{range}}"),
        ('{{ if 1 }}{{ define "x" }}{{ end }}{{ end }}', 1, 14, "{{define}} inside a block"),
        ("{{ /* not a comment */ }}", 1, 4, "unexpected '/'"),
        ("{{/* unclosed", 1, 1, "unclosed comment"),
        ("{{/* c */ x }}", 1, 10, "comment ends before closing delimiter"),
        ("{{ .x.__class__ }}", 1, 4, ""),
        ("{{ nil }}", 1, 1, "nil is not a command"),
        ('{{ "s".x }}', 1, 4, "field access on a literal"),
        ("{{ if .a }}{{ $v := 1 }}{{ end }}{{ $v }}", 1, 37, "undefined variable"),
        ("{{ 7*7 }}", 1, 5, "unexpected '*'"),
        ("{{ range $i, $v = .a }}{{ end }}", 1, 10, "cannot assign"),
    ],
)
def test_syntax_errors(source: str, line: int, column: int, fragment: str) -> None:
    if fragment == "":
        # "__class__" is a valid Go field name: it compiles and is a plain map key.
        assert compile_template(source).render({"x": {"__class__": "k"}}) == "k"
        with pytest.raises(TemplateRenderError, match="can't evaluate field __class__"):
            compile_template(source).render({"x": "str"})
        return
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(source)
    error = info.value
    assert fragment in error.message
    assert (error.line, error.column) == (line, column), error.message


def test_nesting_is_capped_with_a_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError, match="nested deeper"):
        compile_template("{{ " + "(" * 100 + "1" + ")" * 100 + " }}")
    with pytest.raises(TemplateSyntaxError, match="nested deeper"):
        compile_template("{{ range . }}" * 11 + "{{ end }}" * 11)
    deep_ifs = "{{ if . }}" * 30 + "x" + "{{ end }}" * 30
    assert compile_template(deep_ifs).render({"a": 1}) == "x"
    chain = "".join(f"{{{{ else if .b{i} }}}}{i}" for i in range(100))
    assert compile_template("{{ if .a }}a" + chain + "{{ end }}").render({"b99": 1}) == "99"
    with pytest.raises(TemplateSyntaxError, match="more than 100"):
        compile_template("{{ if .a }}" + chain + "{{ else if .c }}{{ end }}")


# -- render errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ div 1 0 }}", "div: division by zero"),
        ("{{ div 1.5 0 }}", "division by zero"),
        ("{{ index .spec.sites 7 }}", "index out of range"),
        ("{{ eq .metadata.name 3 }}", "incompatible types for comparison"),
        ("{{ lt .missing 3 }}", "invalid type for comparison"),
        ("{{ eq .spec.sites .spec.sites }}", "non-comparable"),
        ("{{ len 5 }}", "len of int"),
        ("{{ range .metadata.name }}{{ end }}", "range can't iterate over string"),
        ('{{ add "x" 1 }}', "cannot use 'x' as a number"),
        ("{{ mul 9223372036854775807 2 }}", "integer overflow"),
    ],
)
def test_render_errors(source: str, fragment: str) -> None:
    template = compile_template(source, name="katalog.yaml:12")
    with pytest.raises(TemplateRenderError) as info:
        template.render(CTX)
    assert fragment in str(info.value)
    assert str(info.value).startswith("katalog.yaml:12")


def test_render_error_names_the_template_line() -> None:
    template = compile_template("a: 1\nb: {{ .x }}\nc: {{ div 1 .zero }}\n", name="k.yaml:7")
    with pytest.raises(TemplateRenderError) as info:
        template.render({"zero": 0})
    assert info.value.line == 3
    assert "k.yaml:7 (template line 3)" in str(info.value)


def test_render_error_line_after_escaped_text() -> None:
    # Text holding "{" goes through a constant; the line count must survive it.
    template = compile_template("{\n{\n{{ div 1 0 }}", name="t")
    with pytest.raises(TemplateRenderError) as info:
        template.render({})
    assert info.value.line == 3


# -- limits -----------------------------------------------------------------


def test_iteration_limit() -> None:
    template = compile_template(
        "{{ range .items }}{{ range $.items }}x{{ end }}{{ end }}", name="loop"
    )
    with pytest.raises(TemplateRenderError, match="more than 2000 loop iterations"):
        template.render({"items": list(range(50))})
    assert len(template.render({"items": list(range(44))})) == 44 * 44


def test_output_limit() -> None:
    template = compile_template("{{ range .items }}{{ $.big }}{{ end }}")
    with pytest.raises(TemplateRenderError, match="output exceeds the limit"):
        template.render({"items": list(range(100)), "big": "x" * 20_000})
    small = Limits(max_output_chars=10)
    with pytest.raises(TemplateRenderError, match="output exceeds"):
        compile_template("0123456789ab").render({}, limits=small)


def test_string_growth_is_refused_before_allocation() -> None:
    template = compile_template(
        '{{ $s := .big }}{{ $s = replace "" $s $s }}{{ $s = replace "" $s $s }}{{ len $s }}'
    )
    with pytest.raises(TemplateRenderError, match="replace: result of"):
        template.render({"big": "x" * 2000})
    assert compile_template('{{ printf "%999999999d" 1 }}').render({}) == "%!(BADWIDTH)"
    many = compile_template('{{ printf "%s%s%s%s%s%s" .b .b .b .b .b .b }}')
    with pytest.raises(TemplateRenderError, match="printf: result of"):
        many.render({"b": "x" * 300_000})


def test_work_limit_stops_hidden_string_work() -> None:
    # Nothing is printed, but every iteration lower-cases a large string.
    template = compile_template("{{ range .items }}{{ $x := toLower $.big }}{{ end }}")
    with pytest.raises(TemplateRenderError, match="function results exceed"):
        template.render({"items": list(range(10_000)), "big": "X" * 100_000})


def test_loop_step_limit_counts_the_body_size() -> None:
    # 50 actions per iteration: the iteration cap alone would allow 100,000.
    template = compile_template("{{ range .items }}" + "{{ $.a }}" * 50 + "{{ end }}")
    with pytest.raises(TemplateRenderError, match="more than 4000 actions"):
        template.render({"items": list(range(100)), "a": ""})
    assert template.render({"items": list(range(80)), "a": ""}) == ""
