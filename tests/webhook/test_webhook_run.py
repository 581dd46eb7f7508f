"""``run --webhook-*``: flags checked before anything starts, and the runtime's part (the CRs
``unique`` compares with) read from its informer."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from orkestra_trio.cli import main
from orkestra_trio.runtime.admission import webhook_peers
from orkestra_trio.testing import open_test_cluster, run_katalog
from orkestra_trio.webhook.reviews import admission_answer
from runtime_banner import read_banner, reap, stop

ADMISSION = Path(__file__).parents[1] / "compat" / "katalogs" / "admission.yaml"
WEBSITE = Path(__file__).parents[2] / "katalogs" / "website.yaml"


@pytest.fixture
def pair(tmp_path):
    issued = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


def create_review(obj):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u", "operation": "CREATE", "object": obj},
    }


def error_of(capsys, *args):
    assert main(["run", str(ADMISSION), "--listen", "127.0.0.1:0", *args]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    return lines[0]


def test_bad_webhook_flags_are_one_line_errors_naming_the_flag(capsys, tmp_path, pair):
    cert, key = pair
    other_key = tmp_path / "other.key"
    trustme.CA().issue_cert("x").private_key_pem.write_to_path(str(other_key))
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    cases = [
        (["--webhook-listen"], "--webhook-listen needs --webhook-cert"),
        (["--webhook-listen", "--webhook-cert", cert], "--webhook-listen needs --webhook-key"),
        (
            ["--webhook-cert", cert, "--webhook-key", key],
            "--webhook-cert: only with --webhook-listen",
        ),
        (
            ["--webhook-listen", "9443", "--webhook-cert", cert, "--webhook-key", key],
            "--webhook-listen '9443': expected HOST:PORT",
        ),
        (
            [
                "--webhook-listen",
                "--webhook-cert",
                str(tmp_path / "nope.crt"),
                "--webhook-key",
                key,
            ],
            f"--webhook-cert {tmp_path / 'nope.crt'}: ",
        ),
        (
            ["--webhook-listen", "--webhook-cert", str(not_pem), "--webhook-key", key],
            f"--webhook-cert {not_pem}: not a PEM certificate",
        ),
        (
            ["--webhook-listen", "--webhook-cert", cert, "--webhook-key", str(not_pem)],
            f"--webhook-key {not_pem}: not a PEM private key",
        ),
        (
            ["--webhook-listen", "--webhook-cert", cert, "--webhook-key", str(other_key)],
            f"--webhook-key {other_key}: does not match the certificate",
        ),
        (
            [
                "--webhook-listen",
                "--webhook-cert",
                cert,
                "--webhook-key",
                key,
                "--webhook-client-ca",
                str(not_pem),
            ],
            f"--webhook-client-ca {not_pem}: not a PEM certificate",
        ),
    ]
    for args, expected in cases:
        line = error_of(capsys, *args)
        assert line.startswith(f"orkestra_trio: {expected}"), (args, line)


def test_a_katalog_without_webhooks_serves_none(capsys, pair):
    import argparse

    from orkestra_trio.commands.run import _webhook_setup, configure

    parser = argparse.ArgumentParser()
    configure(parser)
    cert, key = pair
    args = parser.parse_args(
        [str(WEBSITE), "--webhook-listen", "--webhook-cert", cert, "--webhook-key", key]
    )
    assert args.webhook_listen == "127.0.0.1:9443"  # loopback unless told otherwise
    from orkestra_trio.katalog import load_katalogs

    assert _webhook_setup(args, load_katalogs([WEBSITE])) is None
    assert "nothing is served" in capsys.readouterr().err


async def test_unique_at_the_webhook_reads_the_runtimes_informer(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(ADMISSION, cluster) as kat:
        await kat.apply(kat.manifest("guarded", "one", {"replicas": 1, "host": "a"}))
        await kat.wait_steady()
        crd = kat.runtime.katalogs.crds["guarded"]
        before = dict(cluster.requests())
        peers = await webhook_peers(kat.runtime.registry)(crd)
        assert [cr["metadata"]["name"] for cr in peers] == ["one"]
        assert dict(cluster.requests()) == before  # the informer's cache: no request
        review = create_review(kat.manifest("guarded", "two", {"replicas": 1, "host": "a"}))
        answer = admission_answer(crd, review, mutate=False, validate=True, peers=peers)
        assert answer["response"]["allowed"] is False
        assert "spec.host 'a' is already used" in answer["response"]["status"]["message"]


@pytest.mark.slow
async def test_run_serves_the_webhooks_over_tls_until_sigterm(tmp_path):
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    issued.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            "run",
            str(ADMISSION),
            "--embedded",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(tmp_path / "kubeconfig"),
            "--webhook-listen",
            "127.0.0.1:0",
            "--webhook-cert",
            str(tmp_path / "tls.crt"),
            "--webhook-key",
            str(tmp_path / "tls.key"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    try:
        banner = await read_banner(process.stdout, [], timeout=30)
        url, paths = banner["webhooks"].split(" ", 1)
        assert url.startswith("https://127.0.0.1:")
        assert "/validate/adm.example.com/guardeds" in paths
        assert "/mutate/adm.example.com/guardeds" in paths
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        review = create_review(
            {
                "apiVersion": "adm.example.com/v1",
                "kind": "Guarded",
                "metadata": {"name": "x", "namespace": "default"},
                "spec": {"replicas": 8, "host": "h"},
            }
        )
        async with httpx.AsyncClient(base_url=url, verify=trusting, timeout=10) as client:
            answer = await client.post("/validate/adm.example.com/guardeds", json=review)
        assert answer.status_code == 200
        assert answer.json()["response"]["status"]["message"] == "at most 5 replicas"
        assert await stop(process) == 0
    finally:
        await reap(process)


async def test_a_replica_without_the_box_starts_the_crs_informer_for_unique(autojump_clock):
    """--leader-elect per-box: the Service sends a review to any replica, also one that does
    not run the CRD's box. Its peers come from the CRD's informer, started on that first
    review and listed before the answer; the next review reads the same cache."""
    import trio

    from orkestra_trio.katalog import load_katalogs
    from orkestra_trio.runtime.crdinstall import install_crds
    from orkestra_trio.runtime.registry import KatalogRegistry

    katalogs = load_katalogs([ADMISSION])
    async with open_test_cluster() as cluster:
        await install_crds(cluster.kube, katalogs)
        await cluster.kube.create(
            {
                "apiVersion": "adm.example.com/v1",
                "kind": "Guarded",
                "metadata": {"name": "one", "namespace": "default"},
                "spec": {"replicas": 1, "host": "a"},
            },
            namespace="default",
        )
        async with trio.open_nursery() as nursery:
            registry = KatalogRegistry(cluster.kube, katalogs, nursery)  # no box registered
            peers = webhook_peers(registry)
            crd = katalogs.crds["guarded"]
            first = await peers(crd)
            lists = cluster.requests(include_test=True)[("list", "guardeds")]
            again = await peers(crd)
            assert (
                [cr["metadata"]["name"] for cr in first]
                == ["one"]
                == [cr["metadata"]["name"] for cr in again]
            )
            assert cluster.requests(include_test=True)[("list", "guardeds")] == lists == 1
            nursery.cancel_scope.cancel()


async def test_beyond_loopback_without_a_client_ca_the_runtime_says_who_may_call(capsys, pair):
    import argparse
    from types import SimpleNamespace

    import trio

    from orkestra_trio.commands.run import _start_webhooks, _webhook_setup, configure
    from orkestra_trio.katalog import load_katalogs

    parser = argparse.ArgumentParser()
    configure(parser)
    cert, key = pair
    katalogs = load_katalogs([ADMISSION])
    runtime = SimpleNamespace(registry=None)  # the peers are read only when a review needs them
    for extra, warned in (([], True), (["--webhook-client-ca", cert], False)):
        flags = ["--webhook-listen", "0.0.0.0:0", "--webhook-cert", cert, "--webhook-key", key]
        args = parser.parse_args([str(ADMISSION), *flags, *extra])
        webhooks = _webhook_setup(args, katalogs)
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            line = await _start_webhooks(nursery, webhooks, katalogs, runtime, stop)
            stop.set()
        assert line.startswith("webhooks: https://0.0.0.0:")
        err = capsys.readouterr().err
        assert ("any client that reaches it may post reviews" in err) is warned, err
