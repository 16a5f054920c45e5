"""The floors hold (docs/ARCHITECTURE.md): every import points down, never up or sideways.

Plain ``ast``, no import of the code under test, so the check also runs on another
checkout: ``HELPDESK_ARCHITECTURE_ROOT=/path/to/checkout pytest helpdesk/tests/test_architecture.py``.

Read: every ``.py`` file of the apps, module-level imports and those inside
functions and ``if TYPE_CHECKING:`` blocks alike (an import in a function is still
an arrow), relative imports resolved, plus ``apps.get_model("<app>", ...)`` with a
literal label (a lookup by name is an arrow too). Not read:

- ``migrations/``: frozen history. Their dependencies name the apps of the day
  (tickets 0001 depends on monitoring 0001, where Application lived), and editing
  applied migrations is wrong.
- ``tests/``: a test may set up any floor's data to prove its own (monitoring's
  factories make tickets, the permission matrix walks every app's URLs). Tests are
  not shipped and nothing imports them.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(os.environ.get("HELPDESK_ARCHITECTURE_ROOT") or Path(__file__).resolve().parents[2])

# The floors, ground up. An app may import its own floor's code and anything below.
FLOORS = {
    "helpdesk": 0,
    "catalog": 1,
    "tickets": 2,
    "notifications": 3,
    "monitoring": 4,
    "escalation": 4,
    "mail": 4,
    "dashboard": 5,
}
CORE = "helpdesk"
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}

# Arrows that run against the floors on purpose, each with its reason. Keep it short.
ALLOWED = {
    # TicketQuerySet.linkable_incidents: an incident "born from an alert" is one an
    # alert names; the EXISTS reads monitoring's table by name at query time.
    # Removing it needs a field on the ticket (a schema change, not this refactor).
    ("tickets.models", "monitoring"),
}


def python_files(app: str) -> Iterator[Path]:
    base = ROOT / app
    for path in sorted(base.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(base).parts):
            yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import and literal get_model in the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # "from helpdesk import roles" imports helpdesk.roles
                yield node.lineno, f"{target}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value.split(".")[0]


def floor_violations() -> list[str]:
    found = []
    for app, floor in FLOORS.items():
        for path in python_files(app):
            source = module_name(path)
            seen = set()
            for line, target in imported_modules(path):
                other = target.split(".")[0]
                if other == app or other not in FLOORS or (line, other) in seen:
                    continue
                seen.add((line, other))  # one report per import statement
                if FLOORS[other] < floor or (source, other) in ALLOWED:
                    continue
                way = "up" if FLOORS[other] > floor else "sideways"
                found.append(f"{path.relative_to(ROOT)}:{line}: {app} (floor {floor}) imports {target} ({way})")
    return found


def core_cycles() -> list[list[str]]:
    """Import cycles among the core's own modules (any import, at any level)."""
    modules = {module_name(path): path for path in python_files(CORE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            target for _, target in imported_modules(path) if target in modules and target != name
        } - {name.rpartition(".")[0]}  # a module reads its package's __init__; that is not a cycle
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_the_checker_sees_every_app_and_reads_imports_at_every_level():
    assert all((ROOT / app).is_dir() for app in FLOORS), "an app of FLOORS is missing under the root"
    found = {
        target
        for path in python_files("tickets")
        if path.name == "apps.py"
        for _, target in imported_modules(path)
    }
    assert "tickets.tasks" in found  # imported inside AppConfig.ready(), not at module level


def test_imports_point_down_the_floors():
    violations = floor_violations()
    assert not violations, "imports against the floors (docs/ARCHITECTURE.md):\n" + "\n".join(violations)


def test_the_core_has_no_import_cycles():
    cycles = core_cycles()
    assert not cycles, "import cycles in the core:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)
