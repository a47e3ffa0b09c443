"""Which way imports point (README, "Development"): no circle among the project's modules, and
nothing but Celery (config/celery.py autodiscovery) and tests imports ``workers.tasks``.

The walk reads the source with ``ast``: module-level and function-level imports alike, because an
import hidden in a function is still an edge (it only moves the circle to run time). Imports
under ``if TYPE_CHECKING:`` never run and are left out.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "labs", "tenants", "workers")
TASKS = "workers.tasks"
# Allowed to import workers.tasks besides tests/: none. Celery finds it by autodiscovery.
TASKS_IMPORTERS_ALLOWED: set[str] = set()


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every project module that ``module`` imports, at any depth of its code."""
    found: list[Import] = []

    def add(target: str, node: ast.AST, in_function: bool) -> None:
        # `from labs import services` names a module; `from labs.models import Lab` names a thing.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            found.append(Import(module, target, node.lineno, in_function))

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    walk(other, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, path, child)
                for alias in child.names:
                    add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, child, in_function)
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(ast.parse(path.read_text(), str(path)), False)
    return found


def import_graph() -> tuple[dict[str, set[str]], list[Import]]:
    modules = project_modules()
    known = set(modules)
    every: list[Import] = []
    for module, path in modules.items():
        every.extend(imports_of(module, path, known))
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for edge in every:
        graph[edge.importer].add(edge.target)
    return graph, every


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_circle_among_project_modules():
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_only_celery_and_tests_import_workers_tasks():
    _, every = import_graph()
    offenders = [f"{e.importer}:{e.line}" for e in every if e.target == TASKS]
    assert [o for o in offenders if o.partition(":")[0] not in TASKS_IMPORTERS_ALLOWED] == []


def _targets_of(prefix: str) -> dict[str, set[str]]:
    _, every = import_graph()
    found: dict[str, set[str]] = {}
    for e in every:
        if e.importer == prefix or e.importer.startswith(prefix + "."):
            found.setdefault(e.importer, set()).add(e.target)
    return found


def test_the_simulator_imports_nothing_of_the_project():
    simulator = "workers.hyperv.simulator"
    outside = {
        module: {t for t in targets if not t.startswith(simulator)}
        for module, targets in _targets_of(simulator).items()
    }
    assert {module: targets for module, targets in outside.items() if targets} == {}


def test_the_drivers_import_no_django_model_and_nothing_above_them():
    allowed = ("workers.hyperv", "config.errors")
    outside = {
        module: {t for t in targets if not t.startswith(allowed)}
        for module, targets in _targets_of("workers.hyperv").items()
    }
    assert {module: targets for module, targets in outside.items() if targets} == {}


def test_the_states_table_imports_no_model():
    assert _targets_of("labs.states") == {"labs.states": {"config.errors"}}


def test_the_walk_sees_function_level_imports_relative_imports_and_circles(tmp_path):
    # The tests above are only as good as the walk: check it on code it must flag.
    source = tmp_path / "services.py"
    source.write_text(
        "from labs.models import Lab\n"
        "def f():\n"
        "    from workers import tasks\n"
        "if TYPE_CHECKING:\n"
        "    from tenants.models import Tenant\n"
        "from .selectors import x\n"
    )
    known = {"labs.models", "workers.tasks", "workers", "tenants.models", "labs.selectors", "labs.services"}
    found = {(e.target, e.in_function) for e in imports_of("labs.services", source, known)}
    assert found == {("labs.models", False), ("workers.tasks", True), ("labs.selectors", False)}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
