"""``wait: true`` on resource entries: onDelete only, a boolean, carried to the rendered child."""

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.render import build_context, render_children


def test_wait_loads_on_on_delete_entries_and_reaches_the_rendered_child(write_katalog, box_katalog):
    katalog = load_katalog(
        write_katalog(
            box_katalog(
                """\
                onDelete:
                  jobs:
                    - name: drain
                      image: busybox
                      wait: true
                    - name: notify
                      image: busybox
                """
            )
        )
    )
    box = katalog.crds["web"].operator_box
    assert [entry.wait for entry in box.on_delete["jobs"]] == [True, False]
    cr = {
        "apiVersion": "demo.example.com/v1",
        "kind": "Web",
        "metadata": {"name": "w", "namespace": "default", "uid": "u1"},
        "spec": {},
    }
    children = render_children(box, build_context(cr), phase="onDelete")
    assert [(c.name, c.wait) for c in children] == [("drain", True), ("notify", False)]


def test_wait_elsewhere_is_a_load_error_at_its_key(load_issues, box_katalog):
    issues = load_issues(
        box_katalog(
            """\
            onReconcile:
              configMaps:
                - name: cm
                  wait: true
            """
        )
    )
    (issue,) = issues
    assert "wait applies to onDelete entries only" in issue.message
    assert (issue.line, issue.column) == (13, 15)  # the `wait` key itself
