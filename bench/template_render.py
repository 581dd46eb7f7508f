"""Template engine benchmark: renders per second, compile time, worst-case render cost.

Run: ``python bench/template_render.py``. The goal is 40,000 renders per second
on one core for a typical deployment template with five fields, a ``default``
pipeline and an ``if``. The worst-case section renders templates that run into
each per-render limit, which is how long one hostile or runaway template can
hold the Trio thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from orkestra_trio.katalog.template import TemplateRenderError, compile_template

GOAL_PER_SECOND = 40_000

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .metadata.name }}
  labels:
    app: {{ .metadata.labels.app }}
spec:
  replicas: {{ .spec.replicas | default 1 }}
  template:
    spec:
      containers:
        - name: app
          image: {{ .spec.image }}
{{- if .spec.mode }}
          env:
            - name: MODE
              value: {{ .spec.mode }}
{{- end }}
"""

CONTEXT: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"image": "nginx:1.25", "replicas": 3, "mode": "production"},
    "status": {},
    "cross": {},
}


def renders_per_second(runs: int, seconds_per_run: float) -> list[float]:
    template = compile_template(DEPLOYMENT, name="bench.yaml:1")
    render = template.render
    rates = []
    for _ in range(runs):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds_per_run
        while True:
            for _ in range(1000):
                render(CONTEXT)
            count += 1000
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(count / (now - start))
    return rates


def compile_times(count: int) -> tuple[float, float]:
    """Median seconds per compile: cold (new name each time) and cached."""
    cold = []
    for index in range(count):
        start = time.perf_counter()
        compile_template(DEPLOYMENT, name=f"cold-{index}")
        cold.append(time.perf_counter() - start)
    cached = []
    for _ in range(count):
        start = time.perf_counter()
        compile_template(DEPLOYMENT, name="cold-0")
        cached.append(time.perf_counter() - start)
    return statistics.median(cold), statistics.median(cached)


def time_failure(render: Callable[[], str]) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        render()
        outcome = "rendered"
    except TemplateRenderError as exc:
        outcome = exc.message
    return time.perf_counter() - start, outcome


def worst_cases() -> list[tuple[str, float, str]]:
    printf_body = " ".join(f'{{{{ $v{i} := printf "%s-%d" $.name {i} }}}}' for i in range(10))
    steps = compile_template("{{ range .items }}" + printf_body + "{{ end }}")
    iterations = compile_template('{{ range .items }}{{ $x := printf "%s" $.name }}{{ end }}')
    output = compile_template("{{ range .items }}{{ $.chunk }}{{ end }}")
    work = compile_template("{{ range .items }}{{ $x := toUpper $.big }}{{ end }}")
    # Recursion: a binary tree of {{template}} calls (the step cap) and an
    # endless chain of them carrying printf work (the depth cap).
    fan_out = compile_template(
        '{{ define "t" }}{{ if lt (len .) 20 }}{{ template "t" (print . "x") }}'
        '{{ template "t" (print . "y") }}{{ end }}{{ end }}{{ template "t" "" }}'
    )
    chain = compile_template(
        '{{ define "c" }}' + printf_body + '{{ template "c" . }}{{ end }}{{ template "c" . }}'
    )
    cases = [
        (
            "printf-heavy loop body (loop-step cap, 4,000 actions)",
            lambda: steps.render({"items": list(range(20_000)), "name": "n"}),
        ),
        (
            "one printf per iteration (iteration cap, 2,000)",
            lambda: iterations.render({"items": list(range(20_000)), "name": "n"}),
        ),
        (
            "output cap, 1 KiB per iteration",
            lambda: output.render({"items": list(range(10_000)), "chunk": "x" * 1024}),
        ),
        (
            "string-work cap, 1 MiB toUpper per iteration",
            lambda: work.render({"items": list(range(10_000)), "big": "x" * (1 << 20)}),
        ),
        ("template calls fanning out (loop-step cap)", lambda: fan_out.render({})),
        (
            "template recursion, 10 printf per call (depth cap, 100)",
            lambda: chain.render({"name": "n"}),
        ),
    ]
    return [(label, *time_failure(run)) for label, run in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per run")
    args = parser.parse_args()

    rates = renders_per_second(args.runs, args.seconds)
    median = statistics.median(rates)
    print(
        f"render, 5-field deployment: median {median:,.0f}/s over {args.runs} runs "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}); "
        f"goal {GOAL_PER_SECOND:,}/s -> ratio {median / GOAL_PER_SECOND:.2f}"
    )
    cold, cached = compile_times(200)
    print(f"compile: cold {cold * 1e6:,.0f} us/template, cached {cached * 1e6:,.2f} us/template")
    for label, seconds, outcome in worst_cases():
        print(f"worst case, {label}: {seconds * 1000:,.1f} ms ({outcome})")


if __name__ == "__main__":
    main()
