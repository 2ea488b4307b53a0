"""The core's shape, checked: every import inside `mnist_core` (at module level or inside a
function) keeps the layer order, no module imports another's private names, the modules import
each other without a cycle, and the core never imports Streamlit.

Layers, lowest first: the base modules (settings, untrusted, quiet), then data < model <
training < lab < jobs < drawing < classroom < views < cli < __main__. A module may import base
modules, modules of its own package, and lower layers; base modules only base modules.
"""
from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "mnist_core"
BASE = ("settings", "untrusted", "quiet")
LAYERS = ("data", "model", "training", "lab", "jobs", "drawing", "classroom", "views", "cli",
          "__main__")


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at `root`, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer(module: str) -> tuple[int, str]:
    """(rank, name) of `module`'s layer: base -1, then LAYERS in order. ValueError for a module
    that belongs to none (a new top-level module must be given its place here)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return -1, "base"
    if parts[1] in LAYERS:
        return LAYERS.index(parts[1]), parts[1]
    raise ValueError(f"{module} is in no layer: add it to BASE or LAYERS in {__file__}")


def imports(module: str, path: Path, known: dict[str, Path]):
    """(line, imported module, names) for every import of the package's own modules in
    `module` (`path`), wherever it stands; third-party imports as (line, name, ())."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                                   # relative: from its package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in known:                          # from package import module
                    yield node.lineno, child, ()
                else:
                    yield node.lineno, base, (alias.name,)


def problems(root: Path = CORE) -> list[str]:
    """Every broken rule under `root`, one line each: where, what, which rule."""
    known = module_names(root)
    top = root.name
    found, graph = [], {m: set() for m in known}
    for module, path in known.items():
        where = f"{path.relative_to(root.parent)}"
        try:
            rank, name = layer(module)
        except ValueError as e:
            found.append(f"{where}: {e}")
            continue
        for line, target, names in imports(module, path, known):
            if target == "streamlit" or target.startswith("streamlit."):
                found.append(f"{where}:{line} imports {target}: the core never imports "
                             "Streamlit (the UI layer does)")
                continue
            if target != top and not target.startswith(top + "."):
                continue
            for private in (n for n in names if n.startswith("_")):
                found.append(f"{where}:{line} imports the private name {private} from "
                             f"{target}: make it public, or keep it where it is used")
            if target not in known:
                found.append(f"{where}:{line} imports {target}, which is no module here")
                continue
            if target != module:
                graph[module].add(target)
            own_package = target.split(".")[:2] == module.split(".")[:2]
            target_rank, target_name = layer(target)
            if target_rank >= 0 and not own_package and target_rank >= rank:
                level = "its own layer" if target_rank == rank else "a higher layer"
                found.append(f"{where}:{line} imports {target}: {name} may not import from "
                             f"{target_name}, {level} (order: base < {' < '.join(LAYERS)})")
            elif rank < 0 and target_rank >= 0:
                found.append(f"{where}:{line} imports {target}: a base module may import only "
                             "base modules")
    found += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm), as
    the modules in import order, the first repeated at the end."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(set(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:                 # walk inside the group until a module repeats
        path, node = [], min(group)
        while node not in path:
            path.append(node)
            node = min(n for n in graph[node] if n in group)
        found.append(path[path.index(node):] + [node])
    return found


def test_the_core_keeps_its_layers_without_cycles_or_private_imports():
    found = problems()
    assert not found, "\n" + "\n".join(found)


def test_the_checker_catches_each_kind_of_bad_import(tmp_path):
    """A made-up core with one of each mistake: every one is reported, and said where."""
    core = tmp_path / "mnist_core"
    files = {
        "__init__.py": "",
        "settings.py": "",
        "model/__init__.py": "",
        "model/build.py": "def f():\n    from mnist_core.training.presets import PRESETS\n",
        "training/__init__.py": "",
        "training/presets.py": "from mnist_core.training.config import TrainConfig\n",
        "training/config.py": "def f():\n    from mnist_core.training import presets\n",
        "lab/__init__.py": "",
        "lab/store.py": "from mnist_core.model.build import _layer\nimport streamlit as st\n",
        "widgets.py": "",
    }
    for name, text in files.items():
        (core / name).parent.mkdir(parents=True, exist_ok=True)
        (core / name).write_text(text)
    found = "\n".join(problems(core))
    assert "mnist_core/model/build.py:2 imports mnist_core.training.presets: model may not " \
           "import from training, a higher layer" in found
    assert ("import cycle: mnist_core.training.config -> mnist_core.training.presets -> "
            "mnist_core.training.config") in found
    assert "mnist_core/lab/store.py:1 imports the private name _layer" in found
    assert "mnist_core/lab/store.py:2 imports streamlit" in found
    assert "mnist_core.widgets is in no layer" in found
    assert len(problems(core)) == 5
