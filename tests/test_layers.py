"""The import layers of neutrino, checked on the source (docs/architecture.md draws them).

Every import counts, also one written inside a function: a lower layer never
imports a higher one, and no two modules import each other, directly or round
a loop. A new top-level module or package must be given its layer here.
"""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Bottom first; a package may import its own layer and the layers below.
LAYERS: list[set[str]] = [
    {"kernel", "gcpause"},
    {"identity", "ovs", "network", "db", "layout", "config", "modes", "paths"},
    {"scheduler", "plan"},
    {"api", "dataplane", "sim", "agent", "lab", "selftest", "server", "demo"},
    {"cli"},
]
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "neutrino").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the neutrino modules it imports (at any depth of its code)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                head = ".".join([*base, node.module] if node.module else base)
                targets = [f"{head}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges[name].add(target)
    return edges


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    loops.append(sorted(component))
    return loops


def test_every_package_has_a_layer():
    tops = {_top(m) for m in _modules() if m != "neutrino"}
    assert tops - LAYER_OF.keys() == set(), "give these a layer in tests/test_layers.py"


def test_no_module_imports_a_higher_layer():
    edges = _imports(_modules())
    upward = [
        f"{a} (layer {LAYER_OF[_top(a)]}) imports {b} (layer {LAYER_OF[_top(b)]})"
        for a, targets in sorted(edges.items())
        for b in sorted(targets)
        if a != "neutrino" and b != "neutrino" and LAYER_OF[_top(b)] > LAYER_OF[_top(a)]
    ]
    assert upward == []


def test_no_import_loop_between_modules():
    assert _loops(_imports(_modules())) == []


def test_no_import_loop_between_packages():
    edges = _imports(_modules())
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if "neutrino" not in (a, b) and _top(a) != _top(b):
                packages[_top(a)].add(_top(b))
    assert _loops(packages) == []


def test_the_checker_sees_a_loop_and_an_upward_import():
    """The walk above is what the other tests rest on: a loop of three is found."""
    assert _loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _loops({"a": {"b"}, "b": set()}) == []


def test_the_kernel_model_imports_nothing_else_of_neutrino():
    """The model is the bottom: the harness that drives real tools (`selftest`) sits above."""
    outside = {
        (a, b)
        for a, targets in _imports(_modules()).items()
        if a.startswith("neutrino.kernel")
        for b in targets
        if not b.startswith("neutrino.kernel")
    }
    assert outside == set()


def test_namespace_imports_none_of_the_code_that_works_on_it():
    """`Namespace` is the state; the code that changes and reads it imports it, not back."""
    above = {"devices", "addrconf", "fibconfig", "ruleconfig", "fib", "stack", "l2", "ip", "kernel"}
    imported = _imports(_modules())["neutrino.kernel.netns"]
    assert {t for t in imported if t.split(".")[2] in above} == set()
