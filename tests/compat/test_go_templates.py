"""Go text/template in a Katalog, on the embedded server (ORKESTRA-LANGUAGE 1.5): associated
templates (`define`, `template`, `block`, recursion), Go's builtins (`slice`, `html`, `js`,
`urlquery`, `println`), `missing` keys as zero values, and a field of a non-map failing that
CR's reconcile with the template's file:line:col while the other CRs go on."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: go-templates}
spec:
  crds:
    site:
      apiTypes: {group: tpl.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-page"
              data:
                hosts: '{{ define "hosts" }}{{ if . }}{{ index . 0 }}{{ if gt (len .) 1 }},{{ end }}{{ template "hosts" slice . 1 }}{{ end }}{{ end }}{{ template "hosts" .spec.hosts }}'
                banner: '{{ block "banner" .spec.title }}<h1>{{ html . }}</h1>{{ end }}'
                link: 'https://example.com/?q={{ urlquery .spec.title }}'
                script: "var t = '{{ js .spec.title }}';"
                short: '{{ slice .metadata.name 0 3 }}'
                lines: '{{ println "a" 1 }}'
                missing: '[{{ .spec.nothing }}]'
                owner: '{{ with .spec.owner }}{{ .name }}{{ end }}'
"""


async def test_go_templates_and_missing_keys_on_the_embedded_server(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        spec = {"hosts": ["a", "b", "c"], "title": "Tom & Jerry's", "owner": {"name": "ann"}}
        await kat.apply(kat.manifest("site", "alphabet", spec))
        # owner is a string here: ".name" of it is Go's "can't evaluate field".
        await kat.apply(kat.manifest("site", "broken", {**spec, "owner": "bob"}))
        await kat.wait_steady()

        data = kat.child("site", "alphabet", "ConfigMap", "alphabet-page")["data"]
        assert data == {
            "hosts": "a,b,c",
            "banner": "<h1>Tom &amp; Jerry&#39;s</h1>",
            "link": "https://example.com/?q=Tom+%26+Jerry%27s",
            "script": "var t = 'Tom \\u0026 Jerry\\'s';",
            "short": "alp",
            "lines": "a 1\n",
            "missing": "[]",
            "owner": "ann",
        }
        assert kat.ready("site", "alphabet")

        assert kat.children("site", "broken") == []
        conditions = kat.status("site", "broken").get("conditions") or []
        (ready,) = [c for c in conditions if c["type"] == "Ready"]
        assert ready["status"] == "False"
        assert f"{path}:20:" in ready["message"]
        assert "can't evaluate field name in type string" in ready["message"]
