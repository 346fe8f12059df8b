"""The package's shape: no import cycles, and each service part is entered only through its face.

Imports are read from the source (every ``import`` statement, including those inside functions
and ``if TYPE_CHECKING:`` blocks), so a cycle that only shows up at type-checking time or on a
rarely taken path fails here too.
"""

from __future__ import annotations

import ast
import pathlib

import spark_tui

ROOT = pathlib.Path(spark_tui.__file__).parent


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(path: pathlib.Path, known: set[str]) -> set[str]:
    """The spark_tui modules ``path`` imports, resolving ``from package import submodule``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in known:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found.update(subs or {node.module})
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    graph = {name: imports_of(path, known) for name, path in mods.items()}
    # A package's __init__ is not an edge into itself, and importing a module also imports its
    # parent packages: count those only through what their __init__ really imports.
    return {name: {d for d in deps if d != name} for name, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_of_spark_tui_takes_part_in_an_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def service_parts() -> list[str]:
    return sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def test_services_is_made_of_parts_with_only_a_handful_of_loose_modules():
    loose = [p.name for p in (ROOT / "services").glob("*.py") if p.name != "__init__.py"]
    assert len(service_parts()) >= 5
    assert len(loose) <= 5, loose


def test_other_layers_enter_a_service_part_only_through_its_face():
    graph = import_graph()
    breaches = []
    for part in service_parts():
        face = f"spark_tui.services.{part}"
        for importer, deps in graph.items():
            if importer == face or importer.startswith(face + "."):
                continue
            breaches += [f"{importer} imports {d}" for d in deps if d.startswith(face + ".")]
    assert not breaches, "\n".join(breaches)


def test_each_face_says_what_its_part_is_and_exports_only_what_exists():
    import importlib

    for part in service_parts():
        face = importlib.import_module(f"spark_tui.services.{part}")
        assert face.__doc__ and len(face.__doc__.strip()) > 20, part
        for name in getattr(face, "__all__", ()):
            assert getattr(face, name) is not None, f"{part}.{name}"
