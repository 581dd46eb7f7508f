"""Katalog templates against Go's text/template, construct by construct (ORKESTRA-LANGUAGE 1.5).

Orkestra parses each Katalog string with ``template.New("f")``,
``Option("missingkey=zero")`` and executes it over the CR as
``map[string]interface{}``, then replaces ``<no value>`` (what Go prints for
a nil interface) by "". The expected outputs below are what Go (1.22)
produces for the same text and data, after that replacement; the errors are
Go's execution errors, which fail the CR's reconcile here as there.
"""

from __future__ import annotations

from typing import Any

import pytest

from orkestra_trio.katalog._gotemplate.limits import Limits
from orkestra_trio.katalog.template import (
    TemplateRenderError,
    TemplateSyntaxError,
    compile_template,
)

CTX: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "shop"}},
    "spec": {
        "image": "nginx:1.25",
        "replicas": 3,
        "none": None,
        "sites": ["a", "b", "c"],
        "holes": [None],
        "ports": {"http": 80},
        "tree": {"name": "root", "kids": [{"name": "x", "kids": [{"name": "y"}]}, {"name": "z"}]},
    },
}


def render(source: str, context: Any = None, **limits: int) -> str:
    template = compile_template(source, name="k.yaml:7:9")
    if limits:
        return template.render(CTX if context is None else context, limits=Limits(**limits))
    return template.render(CTX if context is None else context)


# -- missing keys as zero values (missingkey=zero) ------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Go prints <no value> for a missing key (a nil interface); Orkestra's
        # resolver replaces it by "": the zero value renders empty.
        ("[{{ .missing }}]", "[]"),
        ("[{{ .spec.none }}]", "[]"),
        ("[{{ .spec.ports.https }}]", "[]"),
        ('[{{ index .spec.ports "https" }}]', "[]"),
        ("{{ if .missing }}yes{{ else }}no{{ end }}", "no"),
        ("{{ with .missing }}yes{{ else }}none{{ end }}", "none"),
        ("{{ range .missing }}x{{ else }}empty{{ end }}", "empty"),
        # A pipeline's nil result is Go's invalid value: fields of it are zero too.
        ("[{{ $x := .missing }}{{ $x.a.b }}]", "[]"),
        ("[{{ (.missing).a }}]", "[]"),
        ('{{ define "T" }}[{{ .a }}]{{ end }}{{ template "T" .missing }}', "[]"),
        # Inside lists and maps, and for print/printf, nil is fmt's <nil>.
        ("{{ print .missing }} {{ printf `%v` .missing }}", "<nil> <nil>"),
        ("{{ .spec.holes }}", "[<nil>]"),
    ],
)
def test_missing_keys_render_as_zero_values_as_in_go(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # A field of a map element that is nil (missing or null): Go's
        # "nil pointer evaluating interface {}.a", under missingkey=zero too.
        ("{{ .missing.a }}", "nil pointer evaluating interface {}.a"),
        ("{{ .spec.none.a }}", "nil pointer evaluating interface {}.a"),
        ("{{ .spec.ports.https.x }}", "nil pointer evaluating interface {}.x"),
        ("{{ range .spec.holes }}{{ .a }}{{ end }}", "nil pointer evaluating interface {}.a"),
        ("{{ .missing.a | default `x` }}", "nil pointer evaluating interface {}.a"),
        # A field of something that is not a map.
        ("{{ .metadata.name.first }}", "can't evaluate field first in type interface {}"),
        ("{{ .spec.replicas.x }}", "can't evaluate field x in type interface {}"),
        ("{{ range .spec.sites }}{{ .x }}{{ end }}", "can't evaluate field x in type interface {}"),
        ("{{ $n := .metadata.name }}{{ $n.first }}", "can't evaluate field first in type string"),
        (
            "{{ with .metadata.name }}{{ .first }}{{ end }}",
            "can't evaluate field first in type string",
        ),
        ("{{ (.spec.sites).x }}", "can't evaluate field x in type []interface {}"),
        ("{{ if .spec.image.tag }}{{ end }}", "can't evaluate field tag in type interface {}"),
    ],
)
def test_a_field_of_a_non_map_fails_as_in_go(source: str, message: str) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    # Go's reason, after Go's "at <...>" naming the field path it stopped on.
    assert caught.value.message.startswith("at <.")
    assert caught.value.message.split(">: ", 1)[1].startswith(message)
    assert str(caught.value).startswith("k.yaml:7:9: ")


def test_a_missing_key_in_a_path_says_which_and_how_to_guard_it() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render("{{ .spec.ports.https.x }}")
    assert caught.value.message == (
        "at <.spec.ports.https.x>: nil pointer evaluating interface {}.x "
        "(.spec.ports.https is missing or null; guard it with "
        "{{ with .spec.ports.https }}...{{ end }} or read it with dig/getOr)"
    )


def test_a_render_error_names_the_line_inside_the_template() -> None:
    source = "a: {{ .metadata.name }}\nb: {{ .metadata.name.first }}\n"
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    assert caught.value.line == 2
    assert str(caught.value).startswith(
        "k.yaml:7:9 (template line 2): at <.metadata.name.first>: can't evaluate field"
    )


# -- define, template, block ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ define "T" }}<{{ . }}>{{ end }}{{ template "T" .metadata.name }}', "<web>"),
        # No pipeline: the dot is nil. A definition prints nothing where it stands.
        ('a{{ define "T" }}[{{ . }}]{{ end }}b{{ template "T" }}', "ab[]"),
        # Defined after its use; $ is the argument, not the caller's root.
        (
            '{{ template "T" .spec }}{{ define "T" }}{{ $.image }}/{{ .replicas }}{{ end }}',
            "nginx:1.25/3",
        ),
        ('{{ block "B" .spec.image }}img={{ . }}{{ end }}', "img=nginx:1.25"),
        ('{{ if true }}{{ block "B" 1 }}in {{ . }}{{ end }}{{ end }}', "in 1"),
        # An empty definition never replaces a real one, in either order.
        ('{{ define "T" }} {{ end }}{{ define "T" }}x{{ end }}{{ template "T" }}', "x"),
        ('{{ define "T" }}x{{ end }}{{ define "T" }}\n{{ end }}{{ template "T" }}', "x"),
        ('{{ define "T" }}x{{ end }}{{ block "T" . }} {{ end }}', "x"),
        # Variables declared by the pipeline persist after the action.
        ('{{ define "T" }}{{ . }}{{ end }}{{ template "T" $v := .spec.replicas }}+{{ $v }}', "3+3"),
        # Recursion: a list walked with slice, a tree walked through its kids.
        (
            '{{ define "walk" }}{{ if . }}{{ index . 0 }};{{ template "walk" slice . 1 }}{{ end }}{{ end }}'
            '{{ template "walk" .spec.sites }}',
            "a;b;c;",
        ),
        (
            '{{ define "node" }}{{ .name }}({{ range .kids }}{{ template "node" . }}{{ end }}){{ end }}'
            '{{ template "node" .spec.tree }}',
            "root(x(y())z())",
        ),
        # Orkestra names the main template "f": a text of definitions only runs "f".
        ('{{ define "f" }}main{{ end }}\n', "main"),
        ('{{ if not . }}{{ else }}{{ with .spec }}{{ template "f" }}{{ end }}{{ end }}', ""),
    ],
)
def test_define_template_and_block_as_in_go(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        # Go reports this when the action runs; every associated template of a
        # Katalog string is known at load, so a typo is caught there.
        ('{{ if false }}{{ template "nope" }}{{ end }}', 1, 27, 'template "nope" not defined'),
        (
            '{{ define "T" }}a{{ end }}{{ define "T" }}b{{ end }}',
            1,
            37,
            "multiple definition of template",
        ),
        (
            '{{ define "T" }}a{{ end }}{{ block "T" . }}b{{ end }}',
            1,
            36,
            "multiple definition of template",
        ),
        ('{{ define "f" }}a{{ end }}b', 1, 11, 'multiple definition of template "f"'),
        ('{{ with . }}{{ define "T" }}{{ end }}{{ end }}', 1, 16, "{{define}} inside a block"),
        ('{{ define "T" }}{{ define "U" }}{{ end }}{{ end }}', 1, 20, "{{define}} inside a block"),
        ("{{ define T }}{{ end }}", 1, 11, "unexpected 'T' in define clause"),
        ('{{ define "T" }}x{{ else }}{{ end }}', 1, 21, "unexpected {{else}} in define clause"),
        ('{{ define "T" }}x', 1, 18, "has no {{end}}"),
        ('{{ block "B" }}x{{ end }}', 1, 14, "missing value for block clause"),
        # No dynamic scoping: a definition sees only its own variables and $.
        ('{{ $v := 1 }}{{ define "T" }}{{ $v }}{{ end }}', 1, 33, "undefined variable '$v'"),
    ],
)
def test_template_syntax_errors_name_line_and_column(
    source: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template(source)
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (line, column), caught.value.message


def test_a_failure_inside_a_definition_names_its_line() -> None:
    source = '{{ define "T" }}\n{{ .a.b }}\n{{ end }}{{ template "T" .metadata }}'
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    assert caught.value.line == 2
    assert caught.value.message.startswith("at <.a.b>: nil pointer evaluating interface {}.b")


def test_recursion_stays_inside_the_render_budget() -> None:
    forever = '{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}'
    with pytest.raises(TemplateRenderError, match=r"exceeded maximum template depth \(100\)"):
        render(forever)
    with pytest.raises(TemplateRenderError, match=r"maximum template depth \(5\)"):
        render(forever, max_template_depth=5)
    # Fan-out: a binary tree of calls 11 deep is shallow but too much work.
    fan_out = (
        '{{ define "t" }}{{ if lt (len .) 11 }}{{ template "t" (print . "x") }}'
        '{{ template "t" (print . "y") }}{{ end }}{{ end }}{{ template "t" "" }}'
    )
    with pytest.raises(TemplateRenderError, match="ran more than 4000 actions"):
        render(fan_out)
    # Output of called templates counts toward the output cap as it is written.
    big = '{{ define "b" }}' + "x" * 1000 + '{{ end }}{{ range 100 }}{{ template "b" }}{{ end }}'
    with pytest.raises(TemplateRenderError, match="output exceeds the limit of 50000"):
        render(big, max_output_chars=50_000)


# -- the builtins: slice, html, js, urlquery, print, println, call ----------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ slice "abcdef" 1 3 }}|{{ slice "abc" }}|{{ slice "abc" 1 }}', "bc|abc|bc"),
        (
            "{{ slice .spec.sites 1 }} {{ slice .spec.sites 0 2 3 }} {{ slice .spec.sites 3 }}",
            "[b c] [a b] []",
        ),
        # Strings slice by bytes, as in Go.
        ('{{ slice "héllo" 1 3 }}', "é"),
        (
            '{{ html "<a href=\\"x\\">O\'Neil & co</a>" }}',
            "&lt;a href=&#34;x&#34;&gt;O&#39;Neil &amp; co&lt;/a&gt;",
        ),
        # The escapers print a nil operand as <no value> (Go's evalArgs), escaped.
        ("{{ html .missing }}|{{ urlquery .missing }}", "&lt;no value&gt;|%3Cno+value%3E"),
        ('{{ html 1 2 "x" }}', "1 2x"),
        (
            '{{ js "it\'s <b>\\"x\\" & y=1\\\\" }}',
            'it\\\'s \\u003Cb\\u003E\\"x\\" \\u0026 y\\u003D1\\\\',
        ),
        ('{{ js "a\\tb\\u00a0é" }}', "a\\u0009b\\u00A0é"),
        ('{{ urlquery "a b&c=d/é?~" }}|{{ urlquery "x" 1 }}', "a+b%26c%3Dd%2F%C3%A9%3F~|x1"),
        # fmt.Sprint: a space only between two operands that are not strings.
        ('{{ print 1 2 "a" "b" 3 .missing }}|{{ print }}', "1 2ab3 <nil>|"),
        # fmt.Sprintln: always spaces, then a newline.
        ('{{ println 1 "a" "b" .missing }}', "1 a b <nil>\n"),
        # index of a string gives a byte, printed as a number.
        ('{{ index "héllo" 1 }} {{ index .spec.tree "kids" 0 "name" }}', "195 x"),
    ],
)
def test_builtins_as_in_go(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{ slice "abc" 4 }}', "slice: index out of range: 4"),
        ('{{ slice "abc" 2 1 }}', "slice: invalid slice index: 2 > 1"),
        ("{{ slice .spec.sites 0 3 2 }}", "slice: invalid slice index: 3 > 2"),
        ('{{ slice "abc" 0 1 2 }}', "slice: cannot 3-index slice a string"),
        ('{{ slice "abc" "1" }}', "slice: cannot index slice/array with type string"),
        ('{{ slice "abc" .missing }}', "slice: cannot index slice/array with nil"),
        ("{{ slice .spec.sites 0 1 2 3 }}", "slice: too many slice indexes: 4"),
        ("{{ slice .missing }}", "slice: slice of untyped nil"),
        ("{{ slice .spec.ports }}", "slice: can't slice item of type map[string]interface {}"),
        # Katalog data holds no functions: call fails as Go's does on a non-function.
        ("{{ call .metadata.name 1 }}", "call: non-function .metadata.name of type string"),
        ("{{ call $.spec }}", "call: non-function $.spec of type map[string]interface {}"),
        ("{{ call .missing }}", "call: call of nil"),
        # index: a missing key is nil, but nil itself cannot be indexed.
        ('{{ index .missing "a" }}', "index: index of untyped nil"),
        ('{{ index .spec.ports "https" "x" }}', "index: index of nil pointer"),
        ("{{ index .spec.sites 3 }}", "index: index out of range: 3"),
        ("{{ index .spec.ports 80 }}", "index: value has type int; should be string"),
        ("{{ index .spec.replicas 0 }}", "index: can't index item of type int"),
    ],
)
def test_builtin_errors_as_in_go(source: str, message: str) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    assert caught.value.message == message


def test_call_needs_a_function_operand() -> None:
    with pytest.raises(TemplateSyntaxError, match="wrong number of arguments for call"):
        compile_template("{{ call }}")
