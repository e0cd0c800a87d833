"""The kernel model's layering: it is the bottom layer, without import loops.

Every import counts, those inside functions included: `neutrino.kernel`
imports nothing else of neutrino (the differential harness, `neutrino.selftest`,
sits above it), and no two of its modules import each other, directly or
through others. Namespace, the state, imports none of the code that works on it.
"""

import ast
from pathlib import Path

import neutrino

SRC = Path(neutrino.__file__).parent.parent


def _modules(package: str) -> dict[str, Path]:
    """Module name -> file, for every module of a neutrino package."""
    top = SRC / package.replace(".", "/")
    found = {}
    for path in top.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(target: str, known: dict[str, Path]) -> str | None:
    """The module a dotted name lives in (its longest prefix that is a module)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The neutrino modules `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [_resolve(alias.name, known) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else _resolve(base, known)
                for alias in node.names
            ]
        else:
            continue
        out.update(t for t in targets if t is not None and t != name)
    return out


def _graph(package: str) -> dict[str, set[str]]:
    every = _modules("neutrino")
    return {name: _imports(name, path, every) for name, path in _modules(package).items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_kernel_model_and_its_harness_have_no_import_loop():
    graph = _graph("neutrino.kernel") | _graph("neutrino.selftest")
    assert _cycles(graph) == []


def test_the_kernel_model_imports_nothing_else_of_neutrino():
    outside = {
        (name, target)
        for name, targets in _graph("neutrino.kernel").items()
        for target in targets
        if not target.startswith("neutrino.kernel")
    }
    assert outside == set()


def test_namespace_imports_none_of_the_code_that_works_on_it():
    above = {"devices", "addrconf", "fibconfig", "ruleconfig", "fib", "stack", "l2", "ip", "kernel"}
    imported = _graph("neutrino.kernel")["neutrino.kernel.netns"]
    assert {
        t for t in imported if t.removeprefix("neutrino.kernel.").split(".")[0] in above
    } == set()
