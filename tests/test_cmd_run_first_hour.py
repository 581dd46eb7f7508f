"""A newcomer's first hour with ``python -m orkestra_trio KATALOG``, as real processes.

Which cluster the banner names and why; a cluster that does not answer; the
kubeconfig the runtime writes; every mistake one line on stderr. Each
process gets its own HOME and no $KUBECONFIG, so the machine's own
configuration never leaks in, and every wait is bounded.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import yaml

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.crdinstall import install_crds
from runtime_banner import reap, stop

ROOT = Path(__file__).parents[1]
KATALOG = ROOT / "katalogs" / "website.yaml"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with nothing configured: own HOME, no KUBECONFIG, no XDG dirs."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), **extra}


def write_kubeconfig(path: Path, server: str, *, context: str = "dev") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """A running ``python -m orkestra_trio``; stdout and stderr read line by line."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.out: list[str] = []
        self.err: list[str] = []
        self._buffers = {"out": b"", "err": b""}

    async def _read(self, which: str) -> bool:
        stream = self.process.stdout if which == "out" else self.process.stderr
        chunk = await stream.receive_some(65536)
        if not chunk:
            return False
        data = self._buffers[which] + chunk
        *lines, self._buffers[which] = data.split(b"\n")
        (self.out if which == "out" else self.err).extend(line.decode() for line in lines)
        return True

    async def wait_for(self, which: str, predicate, *, timeout: float = 30.0) -> str:
        """The first line of stdout/stderr that matches, reading until it comes."""
        lines = self.out if which == "out" else self.err
        seen = 0
        with trio.fail_after(timeout):
            while True:
                for line in lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(lines)
                if not await self._read(which):
                    raise AssertionError(f"exited; stdout {self.out} stderr {self.err}")

    def banner(self) -> dict[str, str]:
        return {key: value for key, _, value in (line.partition(": ") for line in self.out)}

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            code = await self.process.wait()
            while await self._read("err"):
                pass
            while await self._read("out"):
                pass
        return code


async def start(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "orkestra_trio", str(KATALOG), "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    return Run(process)


async def run_to_end(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run to its exit; a run that does not end within 60 s fails the test (and is killed)."""
    with trio.fail_after(60):
        result = await trio.run_process(
            [sys.executable, "-m", "orkestra_trio", *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
            cwd=cwd,
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def stopped(run: Run) -> None:
    if run.process.returncode is None:
        run.process.kill()
        await run.process.wait()
    await run.process.stdout.aclose()
    await run.process.stderr.aclose()


# The README's command, with the default address made one the test holds busy
# (a fixed 8080 would depend on the machine): the runtime takes a free port and says so.
BUSY_DEFAULT = """\
import sys
from orkestra_trio.commands import run
from orkestra_trio.cli import main
run.DEFAULT_LISTEN = sys.argv[1]
raise SystemExit(main(sys.argv[2:]))
"""


@pytest.mark.slow
async def test_nothing_configured_runs_embedded_and_leaves_the_working_dir_clean(tmp_path):
    home, repo = tmp_path / "home", tmp_path / "repo"
    repo.mkdir()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = f"127.0.0.1:{busy.getsockname()[1]}"
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", BUSY_DEFAULT, taken, str(KATALOG)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(home),
        cwd=repo,
    )
    run = Run(process)
    try:
        await run.wait_for("out", lambda line: line.startswith("http: "))
        banner = run.banner()
        assert banner["listen"] == (
            f"{taken} is busy, serving on a free port instead (choose one with --listen)"
        )
        assert banner["http"].startswith("http://127.0.0.1:") and taken not in banner["http"]
        assert banner["cluster"].startswith("embedded API server http://127.0.0.1:")
        assert (
            "(no --kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster account)"
            in (banner["cluster"])
        )
        # The kubeconfig goes to the state directory, where README's export finds it.
        expected = home / ".local" / "state" / "orkestra_trio" / "kubeconfig"
        assert banner["kubeconfig"] == str(expected)
        assert yaml.safe_load(expected.read_text())["current-context"] == "orkestra-embedded"
        assert list(repo.iterdir()) == []
        assert await run.stop() == 0
    finally:
        busy.close()
        await stopped(run)


@pytest.mark.slow
async def test_home_kubeconfig_is_named_in_the_banner_and_embedded_overrides_it(tmp_path):
    home = tmp_path / "home"
    async with open_apiserver(workload_simulation=False) as server:
        async with open_kube_client(server.url) as kube:
            await install_crds(kube, load_katalogs([KATALOG]))
        config = write_kubeconfig(home / ".kube" / "config", server.url, context="kind-dev")
        run = await start(["--kubeconfig-out", str(tmp_path / "unused")], clean_env(home), tmp_path)
        try:
            await run.wait_for("out", lambda line: line.startswith("http: "))
            assert run.banner()["cluster"] == (
                f"{server.url} from ~/.kube/config ({config}), context kind-dev"
            )
            assert "kubeconfig" not in run.banner()  # nothing written for a real cluster
            await run.wait_for("err", lambda line: "--kubeconfig-out" in line)
            assert not (tmp_path / "unused").exists()
            assert await run.stop() == 0
        finally:
            await stopped(run)

        # --embedded: the same environment, the embedded server.
        run = await start(
            ["--embedded", "--kubeconfig-out", str(tmp_path / "kc")], clean_env(home), tmp_path
        )
        try:
            await run.wait_for("out", lambda line: line.startswith("http: "))
            cluster = run.banner()["cluster"]
            assert cluster.startswith("embedded API server ") and cluster.endswith("(--embedded)")
            assert server.url not in cluster
            assert await run.stop() == 0
        finally:
            await stopped(run)


@pytest.mark.slow
async def test_an_unreachable_cluster_is_one_line_per_attempt_until_stopped(tmp_path):
    # Bound but not listening: connections are refused, and no other job can take the port.
    unreachable = socket.socket()
    unreachable.bind(("127.0.0.1", 0))
    port = unreachable.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    env = clean_env(tmp_path, KUBECONFIG=str(kubeconfig))
    run = await start([], env, tmp_path)
    try:
        for attempt in (1, 2, 3):
            line = await run.wait_for("err", lambda line, n=attempt: f"attempt {n}," in line)
            assert f"from $KUBECONFIG={kubeconfig}, context dev" in line
            assert "unreachable" in line
        # Stopping while it still waits for the cluster is a clean exit.
        assert await run.stop() == 0
        assert run.out == ["SIGTERM: stopping during start-up", "stopped"]
        assert not any("Traceback" in line for line in run.err), run.err
        # Nothing but the attempts (and no restart loop of boxes): one line each.
        assert all("unreachable" in line for line in run.err if line), run.err
    finally:
        unreachable.close()
        await stopped(run)


async def test_kubeconfig_mistakes_are_one_line_naming_the_source(tmp_path):
    (tmp_path / "binary").write_bytes(b"\x00\xff\xfe\x00 not text")
    (tmp_path / "broken").write_text("clusters: [unclosed\n")
    dev = write_kubeconfig(tmp_path / "dev", "http://127.0.0.1:1")
    cases = [
        (["--kubeconfig", str(tmp_path / "binary")], {}, [str(tmp_path / "binary"), "UTF-8"]),
        ([], {"KUBECONFIG": str(tmp_path / "broken")}, ["$KUBECONFIG", "broken:2:1"]),
        (["--kubeconfig", str(dev), "--context", "nope"], {}, ['context "nope" not found']),
    ]
    for args, extra, expected in cases:
        code, _out, err = await run_to_end(
            [str(KATALOG), "--listen", "127.0.0.1:0", *args],
            clean_env(tmp_path, **extra),
            tmp_path,
        )
        assert code == 1, (args, err)
        assert err.count("\n") == 1 and err.startswith("orkestra_trio: "), err
        for text in expected:
            assert text in err, (text, err)


def test_flag_mistakes_are_one_line(tmp_path, capsys, monkeypatch):
    from orkestra_trio.cli import main

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [
            (["--grace", "-1"], "--grace -1: must be 0 or more seconds"),
            (["--progress-interval", "nan"], "--progress-interval nan"),
            (
                ["--apiserver-listen", f"127.0.0.1:{port}"],
                f"--apiserver-listen 127.0.0.1:{port}: cannot serve",
            ),
            (["--embedded", "--context", "x"], "--embedded and --context contradict"),
        ]
        for args, expected in cases:
            assert main([str(KATALOG), "--listen", "127.0.0.1:0", *args]) == 1, args
            err = capsys.readouterr().err
            assert err.startswith(f"orkestra_trio: {expected}") and err.count("\n") == 1, err


def test_log_level_comes_from_the_flag_else_the_environment(capsys, monkeypatch):
    import logging

    from orkestra_trio.cli import main
    from orkestra_trio.commands.run import _log_level

    assert _log_level(None, {}) == logging.INFO
    assert _log_level(None, {"ORKESTRA_LOG_LEVEL": "DEBUG"}) == logging.DEBUG
    assert _log_level("error", {"ORKESTRA_LOG_LEVEL": "debug"}) == logging.ERROR
    monkeypatch.setenv("ORKESTRA_LOG_LEVEL", "loud")
    assert main([str(KATALOG), "--listen", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "orkestra_trio: $ORKESTRA_LOG_LEVEL='loud': expected one of debug, info, warning, error\n"
    )


def test_the_default_listen_address_falls_back_to_a_free_port_when_busy(monkeypatch):
    from orkestra_trio.commands import run as run_command

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        monkeypatch.setattr(run_command, "DEFAULT_LISTEN", taken)
        address, note = run_command._default_listen()
    assert address == "127.0.0.1:0"
    assert taken in note and "--listen" in note
    # A free default is used as is, without a note.
    free = f"127.0.0.1:{closed_port()}"
    monkeypatch.setattr(run_command, "DEFAULT_LISTEN", free)
    assert run_command._default_listen() == (free, "")


def test_readme_export_names_the_kubeconfig_the_runtime_writes(tmp_path):
    """README's ``export KUBECONFIG=...`` points where the runtime writes, with or without XDG."""
    from orkestra_trio.apiserver.kubeconfig import default_kubeconfig_path
    from orkestra_trio.commands.run import DEFAULT_KUBECONFIG_OUT

    readme = (ROOT / "README.md").read_text()
    exports = [line for line in readme.splitlines() if line.startswith("export KUBECONFIG=")]
    assert len(exports) == 1, exports
    for env in ({"HOME": str(tmp_path)}, {"HOME": str(tmp_path), "XDG_STATE_HOME": "/x/state"}):
        shown = subprocess.run(
            ["sh", "-c", f'{exports[0]} && printf %s "$KUBECONFIG"'],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown == str(default_kubeconfig_path(DEFAULT_KUBECONFIG_OUT, env))


def test_docs_name_the_installed_command():
    """The console script is ``orkestra-trio``: no doc may tell users to type ``orkestra``."""
    import re
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "orkestra-trio" in scripts
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        wrong = re.findall(
            r"(?<![\w/.-])orkestra (?:run|validate|render|simulate|apiserver)\b", doc.read_text()
        )
        assert not wrong, (doc.name, wrong)


@pytest.mark.slow
async def test_the_apiserver_command_writes_its_kubeconfig_to_the_state_dir(tmp_path):
    home, repo = tmp_path / "home", tmp_path / "repo"
    repo.mkdir()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "orkestra_trio", "apiserver"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(home, XDG_STATE_HOME=str(tmp_path / "state")),
        cwd=repo,
    )
    run = Run(process)
    try:
        line = await run.wait_for("out", lambda line: line.startswith("kubeconfig: "))
        written = tmp_path / "state" / "orkestra_trio" / "apiserver.kubeconfig"
        assert line == f"kubeconfig: {written}" and written.exists()
        assert list(repo.iterdir()) == []
        assert await stop(process) == 0
    finally:
        await reap(process)


@pytest.mark.slow
async def test_a_cluster_certificate_not_trusted_is_one_line_not_a_retry_loop(tmp_path):
    import trustme

    server_ca, other_ca = trustme.CA(), trustme.CA()
    cert = server_ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    async with open_apiserver(
        workload_simulation=False,
        tls_cert_file=str(tmp_path / "server.pem"),
        tls_private_key_file=str(tmp_path / "server.pem"),
    ) as server:
        assert server.url.startswith("https://")
        kubeconfig = write_kubeconfig(tmp_path / "kc", server.url)
        config = yaml.safe_load(kubeconfig.read_text())
        # A CA, but not the one that signed the server's certificate.
        config["clusters"][0]["cluster"]["certificate-authority"] = str(tmp_path / "other.crt")
        other_ca.cert_pem.write_to_path(str(tmp_path / "other.crt"))
        kubeconfig.write_text(yaml.safe_dump(config))
        code, _out, err = await run_to_end(
            [str(KATALOG), "--listen", "127.0.0.1:0", "--kubeconfig", str(kubeconfig)],
            clean_env(tmp_path),
            tmp_path,
        )
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("orkestra_trio: "), err
    assert f"cluster {server.url} (from --kubeconfig {kubeconfig}" in err, err
    assert "TLS handshake failed" in err and "certificate-authority" in err, err


def test_each_process_claims_its_own_state_dir_kubeconfig(tmp_path):
    from orkestra_trio.apiserver.kubeconfig import claim_default_kubeconfig

    env = {"HOME": str(tmp_path)}
    first, first_lock = claim_default_kubeconfig("kubeconfig", env)
    second, second_lock = claim_default_kubeconfig("kubeconfig", env)
    assert first.name == "kubeconfig" and second.name == "kubeconfig-2"
    assert first_lock is not None and second_lock is not None
    first_lock.close()  # the first run ended: its file is free again
    again, again_lock = claim_default_kubeconfig("kubeconfig", env)
    assert again == first
    for lock in (second_lock, again_lock):
        assert lock is not None
        lock.close()
    # An unwritable state directory: the plain default, the write reports it.
    (tmp_path / "file").write_text("")
    path, lock = claim_default_kubeconfig("kubeconfig", {"HOME": str(tmp_path / "file")})
    assert lock is None and path.name == "kubeconfig"


@pytest.mark.slow
async def test_two_embedded_runs_at_once_write_two_kubeconfigs(tmp_path):
    home = tmp_path / "home"
    runs = [await start(["--embedded"], clean_env(home), tmp_path) for _ in range(2)]
    try:
        banners = []
        for run in runs:
            await run.wait_for("out", lambda line: line.startswith("http: "))
            banners.append(run.banner())
        paths = {Path(banner["kubeconfig"]).name for banner in banners}
        assert paths == {"kubeconfig", "kubeconfig-2"}, banners
        for banner in banners:
            server = yaml.safe_load(Path(banner["kubeconfig"]).read_text())["clusters"][0]
            # Each file names its own run's server, the one its banner shows.
            assert server["cluster"]["server"] in banner["cluster"]
        for run in runs:
            assert await run.stop() == 0
    finally:
        for run in runs:
            await stopped(run)
