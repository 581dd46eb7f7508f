"""Kubeconfig loading: merging, contexts, relative paths, clear errors."""

import base64
import textwrap

import pytest

from orkestra_trio.kube import ConfigError, find_config, load_incluster, load_kubeconfig


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


BASIC = """\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority: certs/ca.pem
- name: prod-cluster
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    token: dev-token
- name: prod-user
  user:
    client-certificate-data: {cert}
    client-key: keys/prod.key
contexts:
- name: dev
  context: {{cluster: dev-cluster, user: dev-user, namespace: team-a}}
- name: prod
  context: {{cluster: prod-cluster, user: prod-user}}
"""


def test_current_context_resolves_cluster_user_and_namespace(tmp_path):
    cert = base64.b64encode(b"CERT").decode()
    path = write(tmp_path / "config", BASIC.format(cert=cert))
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://dev.example:6443"  # trailing slash dropped
    assert cfg.namespace == "team-a"
    assert cfg.token == "dev-token"
    assert cfg.context == "dev"
    # Relative paths resolve against the file that names them.
    assert cfg.ca_file == str(tmp_path / "certs" / "ca.pem")


def test_explicit_context_and_defaults(tmp_path):
    cert = base64.b64encode(b"CERT").decode()
    path = write(tmp_path / "config", BASIC.format(cert=cert))
    cfg = load_kubeconfig(path, context="prod")
    assert cfg.namespace == "default"
    assert cfg.insecure_skip_tls_verify is True
    assert cfg.client_cert_data == b"CERT"
    assert cfg.client_key_file == str(tmp_path / "keys" / "prod.key")
    assert cfg.token is None


def test_merged_files_first_definition_wins(tmp_path):
    first = write(
        tmp_path / "a",
        """\
        clusters:
        - name: c
          cluster: {server: "http://first:1"}
        users:
        - name: u
          user: {token: first}
        """,
    )
    second = write(
        tmp_path / "b",
        """\
        current-context: ctx
        clusters:
        - name: c
          cluster: {server: "http://second:2"}
        - name: other
          cluster: {server: "http://other:3"}
        users:
        - name: u
          user: {token: second}
        contexts:
        - name: ctx
          context: {cluster: c, user: u, namespace: ns2}
        """,
    )
    cfg = load_kubeconfig([first, second])
    assert cfg.server == "http://first:1"
    assert cfg.token == "first"
    assert cfg.namespace == "ns2"
    # The first non-empty current-context wins too.
    third = write(
        tmp_path / "c",
        "current-context: other-ctx\ncontexts:\n- name: other-ctx\n  context: {cluster: other}\n",
    )
    assert load_kubeconfig([third, second]).server == "http://other:3"


def test_kubeconfig_env_with_several_files_and_missing_ones(tmp_path):
    a = write(tmp_path / "a", "clusters:\n- name: c\n  cluster: {server: 'http://a:1'}\n")
    b = write(
        tmp_path / "b",
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n",
    )
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{a}:{b}"}
    cfg = find_config(env=env, home=str(tmp_path / "nohome"))
    assert cfg is not None and cfg.server == "http://a:1"


def test_missing_current_context_names_the_file(tmp_path):
    path = write(tmp_path / "config", "clusters: []\ncontexts: []\n")
    with pytest.raises(ConfigError) as info:
        load_kubeconfig(path)
    assert str(tmp_path / "config") in str(info.value)
    assert "current-context" in str(info.value)


def test_unknown_context_lists_known_ones(tmp_path):
    cert = base64.b64encode(b"CERT").decode()
    path = write(tmp_path / "config", BASIC.format(cert=cert))
    with pytest.raises(ConfigError, match=r'context "nope" not found \(contexts: dev, prod\)'):
        load_kubeconfig(path, context="nope")


def test_errors_point_at_file_line_column_and_field(tmp_path):
    path = write(
        tmp_path / "config",
        """\
        current-context: x
        clusters:
        - name: c
          cluster:
            server: ftp://nope
        contexts:
        - name: x
          context: {cluster: c, user: ghost}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_kubeconfig(path)
    assert f"{path}:8:" in str(info.value)
    assert "user" in str(info.value) and "ghost" in str(info.value)

    path = write(
        tmp_path / "config2",
        """\
        current-context: x
        clusters:
        - name: c
          cluster:
            server: ftp://nope
        contexts:
        - name: x
          context: {cluster: c}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_kubeconfig(path)
    assert f"{path}:5:13: clusters[0].cluster.server:" in str(info.value)


def test_bad_base64_and_bad_yaml_are_config_errors(tmp_path):
    write(
        tmp_path / "config",
        """\
        current-context: x
        clusters:
        - name: c
          cluster: {server: "https://h", certificate-authority-data: "@@@notbase64"}
        contexts:
        - name: x
          context: {cluster: c}
        """,
    )
    # b64decode without validation ignores junk; a truncated string is the real failure.
    text = (tmp_path / "config").read_text()
    path2 = write(tmp_path / "config2", text.replace("@@@notbase64", "abc"))
    with pytest.raises(
        ConfigError, match=r"config2:4:\d+: .*certificate-authority-data: is not valid base64"
    ):
        load_kubeconfig(path2)
    bad = write(tmp_path / "bad", "clusters: [\n")
    with pytest.raises(ConfigError, match=r"bad:\d+:\d+: invalid YAML"):
        load_kubeconfig(bad)


def test_exec_plugin_config(tmp_path):
    path = write(
        tmp_path / "config",
        """\
        current-context: x
        clusters:
        - name: c
          cluster: {server: "https://h"}
        users:
        - name: u
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: ./bin/get-token
              args: [--cluster, c]
              env: [{name: FOO, value: bar}]
              provideClusterInfo: true
        contexts:
        - name: x
          context: {cluster: c, user: u}
        """,
    )
    cfg = load_kubeconfig(path)
    assert cfg.exec is not None
    assert cfg.exec.command == str(tmp_path / "bin" / "get-token")
    assert cfg.exec.args == ("--cluster", "c")
    assert cfg.exec.env == (("FOO", "bar"),)
    assert cfg.exec.api_version.endswith("v1beta1")
    assert cfg.exec.provide_cluster_info
    assert cfg.exec.where == f"{path}:9:7"  # where the exec block starts


def test_exec_plugin_bad_api_version(tmp_path):
    path = write(
        tmp_path / "config",
        """\
        current-context: x
        clusters: [{name: c, cluster: {server: "https://h"}}]
        users:
        - name: u
          user:
            exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}
        contexts: [{name: x, context: {cluster: c, user: u}}]
        """,
    )
    with pytest.raises(ConfigError, match=r"config:6:\d+: users\[0\]\.user\.exec\.apiVersion"):
        load_kubeconfig(path)


def test_find_config_order(tmp_path):
    explicit = write(
        tmp_path / "explicit",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'http://explicit:1'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
    )
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    write(
        home / ".kube" / "config",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'http://home:1'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
    )
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("tok\n")
    (sa / "namespace").write_text("operators")
    (sa / "ca.crt").write_text("CA")
    incluster_env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    got = find_config(explicit, env=incluster_env, home=str(home), incluster_root=str(sa))
    assert got is not None and got.server == "http://explicit:1"
    got = find_config(env=incluster_env, home=str(home), incluster_root=str(sa))
    assert got is not None and got.server == "http://home:1"
    got = find_config(env=incluster_env, home=str(tmp_path / "nohome"), incluster_root=str(sa))
    assert got is not None
    assert got.server == "https://10.0.0.1:443"
    assert got.namespace == "operators"
    assert got.token_file == str(sa / "token")
    assert got.ca_file == str(sa / "ca.crt")
    assert find_config(env={}, home=str(tmp_path / "nohome"), incluster_root=str(sa)) is None


def test_incluster_ipv6_host(tmp_path):
    (tmp_path / "token").write_text("t")
    cfg = load_incluster(
        {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, str(tmp_path)
    )
    assert cfg is not None and cfg.server == "https://[fd00::1]:443"
    assert cfg.namespace == "default"


async def test_open_kube_client_without_config_uses_find_config(tmp_path, monkeypatch):
    from orkestra_trio.kube import open_kube_client

    path = write(
        tmp_path / "config",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: x, context: {cluster: c, namespace: ops}}]\n",
    )
    monkeypatch.setenv("KUBECONFIG", path)
    async with open_kube_client() as kube:
        assert kube.server == "http://127.0.0.1:9" and kube.namespace == "ops"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="no cluster configured"):
        async with open_kube_client():
            pass
