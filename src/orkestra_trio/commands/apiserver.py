"""``python -m orkestra_trio apiserver``: run the embedded Kubernetes API server alone.

Useful to try kubectl against it, to run a Katalog's operator against a
long-lived server, or to keep state between runs with ``--state``. Prints the
URL and the kubeconfig path, then serves until SIGINT/SIGTERM (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

HELP = "run the embedded Kubernetes API server on loopback (for kubectl and clients)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:0, any free port)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help="where to write a kubeconfig (default: ./orkestra-apiserver.kubeconfig)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite file that keeps every object across restarts",
    )
    parser.add_argument(
        "--no-workload-simulation",
        action="store_true",
        help="do not mark Deployments/StatefulSets ready or Jobs complete",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between watch bookmarks (default 5)",
    )


def _parse_listen(text: str) -> tuple[str, int]:
    from orkestra_trio.cli import UserError

    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UserError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:6443")
    try:
        port = int(port_text)
    except ValueError:
        raise UserError(f"--listen {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise UserError(f"--listen {text!r}: port {port} is out of range 0-65535")
    return host.strip("[]"), port


def run(args: argparse.Namespace) -> int:
    import trio

    from orkestra_trio.apiserver import open_apiserver
    from orkestra_trio.cli import UserError

    host, port = _parse_listen(args.listen)
    kubeconfig = Path(args.kubeconfig_out or "orkestra-apiserver.kubeconfig").resolve()
    state = args.state
    if state is not None and not Path(state).resolve().parent.is_dir():
        raise UserError(f"--state {state}: folder {Path(state).parent} does not exist")

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_apiserver(
                host=host,
                port=port,
                state_file=state,
                workload_simulation=not args.no_workload_simulation,
                bookmark_interval=args.bookmark_interval,
            ) as server:
                server.write_kubeconfig(kubeconfig)
                print(f"serving the Kubernetes API on {server.url}", flush=True)
                print(f"kubeconfig: {kubeconfig}", flush=True)
                print(f"try: kubectl --kubeconfig {kubeconfig} get namespaces", flush=True)
                async for _signum in signals:
                    break

    try:
        trio.run(main)
    except (OSError, BaseExceptionGroup) as error:
        # A socket that cannot be bound arrives wrapped in the server's nursery group.
        leaf: BaseException = error
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if not isinstance(leaf, OSError):
            raise
        raise UserError(f"cannot serve on {host}:{port}: {leaf.strerror or leaf}") from None
    print("stopped", file=sys.stderr, flush=True)
    return 0
