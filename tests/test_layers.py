"""Layering: tiered's modules → their imports, checked against the layers (base → compiler → runtime → profiler and public face)."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tiered"
# each layer may import only from the layers listed for it (and from itself)
ALLOWED = {
    "cpython": {"cpython", "weaktable"},
    "compiler": {"cpython", "compiler", "reasons", "config"},
    "runtime": {"cpython", "compiler", "runtime", "reasons", "config", "weaktable", "tally"},
    "profiler": {"cpython", "compiler", "runtime", "profiler", "reasons", "config", "weaktable", "tally"},
}
SHARED = {"reasons", "config", "weaktable", "tally"}       # leaf modules of plain data any layer uses


def module_name(path):
    """Dotted name of a file under tiered/."""
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path):
    """(imported tiered module, line, lazy?) for every import in the file (lazy: inside a function)."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    lazy = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lazy.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in lazy) for a in node.names if a.name.startswith("tiered")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("tiered"):
                continue
            for a in node.names:              # `from . import x` may name a module
                sub = f"{mod}.{a.name}"
                target = sub if _exists(sub) else mod
                out.append((target, node.lineno, id(node) in lazy))
    return out


def _exists(mod):
    """Whether a dotted tiered name is a module or package."""
    p = ROOT.parent.joinpath(*mod.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def layer_of(mod):
    """The layer a tiered module belongs to (its first component under tiered)."""
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "tiered"


FILES = sorted(ROOT.rglob("*.py"))
GRAPH = {module_name(f): imports_of(f) for f in FILES}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_point_down_only(layer):
    bad = [f"{m}:{line} imports {t}" for m, deps in GRAPH.items() if layer_of(m) == layer
           for t, line, _ in deps if layer_of(t) not in ALLOWED[layer]]
    assert not bad, "\n".join(bad)


def test_shared_leaves_import_nothing_above_the_base():
    bad = [f"{m}:{line} imports {t}" for m, deps in GRAPH.items() if layer_of(m) in SHARED
           for t, line, _ in deps if layer_of(t) not in SHARED | {"cpython"}]
    assert not bad, "\n".join(bad)


def test_no_import_circle_between_files():
    edges = {m: {t for t, _, _ in deps if t in GRAPH and t != m} for m, deps in GRAPH.items()}
    # a package's __init__ importing its own submodules is how a package exposes them, not a circle
    for m in edges:
        edges[m] = {t for t in edges[m] if not (GRAPH and t.startswith(m + ".") and _is_package(m))}
    seen, stack, circles = {}, [], []

    def visit(m):
        seen[m] = "open"
        stack.append(m)
        for t in sorted(edges[m]):
            if seen.get(t) == "open":
                circles.append(stack[stack.index(t):] + [t])
            elif t not in seen:
                visit(t)
        stack.pop()
        seen[m] = "done"
    for m in sorted(edges):
        if m not in seen:
            visit(m)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def _is_package(m):
    """Whether a dotted name is a package."""
    return (ROOT.parent.joinpath(*m.split(".")) / "__init__.py").exists()


def test_the_walk_sees_the_imports():
    # the checks above mean something only if the walk finds real imports
    assert ("tiered.cpython.capi", ) and any(t == "tiered.cpython.capi" for t, _, _ in GRAPH["tiered.compiler.lower_llvm"])
    assert sum(len(d) for d in GRAPH.values()) > 100


def test_lazy_imports_say_why():
    # a lazy import is only for start-up time, and the line (or the one above) says so
    bad = []
    for f in FILES:
        lines = f.read_text().splitlines()
        for t, line, lazy in imports_of(f):
            if lazy:
                text = " ".join(lines[max(0, line - 2):line])
                if "#" not in text:
                    bad.append(f"{module_name(f)}:{line} imports {t} lazily without a comment")
    assert not bad, "\n".join(bad)
