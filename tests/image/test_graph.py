"""rpm-graph's pure parts: cycles among specs, and the DOT text Graphviz draws."""
from __future__ import annotations

from rules.image.goals.graph import cycles, to_dot


def test_cycles_are_strongly_connected_specs_over_build_order_edges() -> None:
    edges = [
        ("a:a", "b:b", "Requires"),
        ("b:b", "c:c", "BuildRequires"),
        ("c:c", "a:a", "Requires"),
        ("c:c", "d:d", "Requires"),  # d is reached, not part of the loop
        ("d:d", "toolchain:official", "built_in"),
        ("toolchain:official", "d:d", "stage_package"),  # not a build-order edge: no cycle
        ("e:e", "e:e", "Requires"),  # a package requiring its own target is no cycle
    ]
    assert cycles(edges) == [["a:a", "b:b", "c:c"]]
    assert cycles([(f"n{i}:n", f"n{i + 1}:n", "Requires") for i in range(5000)]) == []


def test_dot_marks_cycles_and_unresolved_requirements() -> None:
    nodes = [
        {"id": "a:a", "kind": "rpm_package", "spec": "a/a.spec"},
        {"id": "b:b", "kind": "rpm_package", "spec": "b/b.spec"},
        {"id": "package:a", "kind": "binary_package", "name": "a"},
        {"id": "images/x:disk", "kind": "disk_image"},
    ]
    edges = [("a:a", "b:b", "Requires"), ("b:b", "a:a", "BuildRequires"), ("images/x:disk", "package:a", "installs")]
    unresolved = [{"target": "a:a", "requirement": "foo-devel >= 2", "kind": "BuildRequires"}]
    dot = to_dot(nodes, edges, unresolved, cycles(edges))
    assert dot.startswith("digraph keel {") and dot.endswith("}\n")
    assert '"a:a" [label="a:a\\na/a.spec", shape=note' in dot and "color=red, penwidth=2" in dot
    assert '"a:a" -> "b:b" [label="Requires", color=red];' in dot
    assert '"images/x:disk" -> "package:a" [label="installs"];' in dot
    assert '"unresolved:foo-devel >= 2" [label="NOTHING provides foo-devel >= 2"' in dot
    assert to_dot(nodes, edges, unresolved, cycles(edges)) == dot  # deterministic
