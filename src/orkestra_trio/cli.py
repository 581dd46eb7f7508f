"""The command line: one sub-command per module, every user mistake a clean message.

Each sub-command is a module of :mod:`orkestra_trio.commands` with ``HELP`` (one
line), ``configure(parser)`` and ``run(args) -> exit code``. Command modules
import their heavy layers inside ``run`` so that ``--help`` stays fast.

A :class:`~orkestra_trio.commands.errors.UserError` raised anywhere below is printed as
``orkestra_trio: <message>`` with exit code 1 and no traceback; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orkestra_trio._version import __version__
from orkestra_trio.commands.errors import UserError

# Sub-command name -> module under orkestra_trio.commands. Order is --help order.
COMMANDS: dict[str, str] = {
    "run": "run",
    "validate": "validate",
    "render": "render",
    "apiserver": "apiserver",
    "simulate": "simulate",
    "manifests": "manifests",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orkestra_trio",
        description="A runtime for declarative Kubernetes operators, on Trio.",
    )
    parser.add_argument("--version", action="version", version=f"orkestra_trio {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"orkestra_trio.commands.{module_name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # The bare form: ``python -m orkestra_trio katalog.yaml`` means ``run katalog.yaml``.
    if args_list and args_list[0].endswith((".yaml", ".yml")):
        args_list.insert(0, "run")
    argv = args_list
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args))
    except UserError as exc:
        print(f"orkestra_trio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
