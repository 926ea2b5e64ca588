"""The package's layers, as its folders show them, and the directions in which they may import each other.

Every module's imports are read from its source (ast), resolved to absolute names, and checked
against ALLOWED below (the same rules the subpackages' docstrings state). Also: neural-tangents is
imported only by ``reference`` and only inside functions; no module imports another module's
underscore names; the core imports no third-party package but jax, numpy and tqdm.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ntk_lessons"
LAYERS = ("core", "analysis", "support", "lessons", "teaching", "reference")

# layer -> the layers it may import at module level (its own included)
ALLOWED = {
    "core": {"core"},
    "analysis": {"analysis", "core", "support.config"},  # of support, only the seed offset
    "support": {"support", "core.checks"},  # of the core, only its input checks
    "lessons": {"lessons", "analysis", "core", "support"},
    "teaching": {"teaching", "analysis", "core", "support"},
    "reference": {"reference", "analysis", "core", "support"},
    "": set(),  # ntk_lessons/__init__.py imports nothing of the package
}
LAZY = {"lessons": {"reference"}}  # allowed only inside a function: neural-tangents is needed there, not at import
CORE_THIRD_PARTY = {"jax", "numpy", "tqdm", "IPython"}  # IPython: core.progress displays its bar in a notebook


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


class Import:
    def __init__(self, target: str, in_function: bool, line: int):
        self.target, self.in_function, self.line = target, in_function, line


def imports_of(path: Path) -> list[Import]:
    """Every import of the module at ``path``: absolute target names (``from a import b`` gives ``a.b``),
    whether it sits inside a function, and its line. ``if TYPE_CHECKING:`` blocks are left out."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, in_function, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.extend(Import(f"{base}.{alias.name}" if base else alias.name, in_function, child.lineno)
                             for alias in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def _id(path):
    return module_name(path)


def test_every_module_sits_in_a_layer():
    assert {layer_of(module_name(p)) for p in MODULES} == set(LAYERS) | {""}
    top = [module_name(p) for p in MODULES if layer_of(module_name(p)) == ""]
    assert top == ["ntk_lessons"], "only __init__.py at the top: every module belongs to a layer's folder"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_imports_go_only_in_the_allowed_directions(path):
    layer = layer_of(module_name(path))
    wrong = []
    for imp in imports_of(path):
        if not imp.target.startswith("ntk_lessons"):
            continue
        if imp.target in ("ntk_lessons.__version__",):
            continue
        target_layer = layer_of(imp.target)
        sub = ".".join(imp.target.split(".")[1:3])  # e.g. "core.checks"
        allowed = ALLOWED[layer] | (LAZY.get(layer, set()) if imp.in_function else set())
        if target_layer not in allowed and sub not in allowed:
            wrong.append(f"line {imp.line}: {imp.target}" + (" (inside a function)" if imp.in_function else ""))
    assert not wrong, f"{module_name(path)} ({layer or 'top'} layer) may import only {sorted(ALLOWED[layer])}: {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_only_the_reference_imports_neural_tangents_and_only_when_called(path):
    for imp in imports_of(path):
        if imp.target.split(".")[0] in ("neural_tangents", "tensorflow", "tf2jax"):
            assert layer_of(module_name(path)) == "reference", f"{module_name(path)} line {imp.line}: {imp.target}"
            assert imp.in_function, f"{module_name(path)} line {imp.line} imports {imp.target} when it is imported"


@pytest.mark.parametrize("path", [p for p in MODULES if layer_of(module_name(p)) == "core"], ids=_id)
def test_the_core_imports_only_jax_numpy_and_tqdm(path):
    third_party = {imp.target.split(".")[0] for imp in imports_of(path)} - set(sys.stdlib_module_names)
    assert third_party - {"ntk_lessons", "__future__"} <= CORE_THIRD_PARTY, third_party


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_no_module_uses_another_modules_underscore_names(path):
    tree = ast.parse(path.read_text())
    modules = set()  # local names bound to modules of the package
    wrong = []
    for imp in imports_of(path):
        last = imp.target.rsplit(".", 1)[-1]
        if imp.target.startswith("ntk_lessons") and last.startswith("_") and not last.startswith("__"):
            wrong.append(f"line {imp.line}: imports {imp.target}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ntk_lessons")):
            modules |= {alias.asname or alias.name for alias in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            wrong.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    assert not wrong, f"{module_name(path)} uses private names of other modules (make them public there): {wrong}"


def test_the_rules_are_read_from_real_imports():
    """The checker itself: it sees relative imports, imports inside functions, and type-checking-only ones."""
    found = {(i.target, i.in_function) for i in imports_of(PACKAGE / "lessons" / "width_limits.py")}
    assert ("ntk_lessons.core.checks", False) in found and ("ntk_lessons.lessons.sweeps", False) in found
    assert ("ntk_lessons.reference.conv_net", True) in found
    targets = {i.target for i in imports_of(PACKAGE / "reference" / "nt_reference.py")}
    assert "ntk_lessons.core.models.MLPSpec" not in targets  # only under TYPE_CHECKING


def test_importing_any_layer_but_the_reference_imports_no_neural_tangents():
    code = ("import sys, importlib, pkgutil, ntk_lessons\n"
            "names = [m.name for m in pkgutil.walk_packages(ntk_lessons.__path__, 'ntk_lessons.')\n"
            "         if not m.name.startswith('ntk_lessons.reference')]\n"
            "for name in names:\n"
            "    importlib.import_module(name)\n"
            "import ntk_lessons.reference\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('neural_tangents', 'tensorflow')]\n"
            "assert not bad, bad\n"
            "print(len(names))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 30


def test_importing_the_package_imports_nothing_else():
    done = subprocess.run([sys.executable, "-c", "import sys, ntk_lessons; print(sorted(m for m in sys.modules "
                           "if m.startswith(('ntk_lessons.', 'jax'))))"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_subpackages_docstrings_state_their_rules_and_their_public_names_import():
    import importlib

    for layer in LAYERS:
        package = importlib.import_module(f"ntk_lessons.{layer}")
        doc = package.__doc__ or ""
        assert "May import" in doc and "Holds" in doc, f"ntk_lessons.{layer}'s docstring states what it holds"
        for name in package.__all__:
            assert getattr(package, name, None) is not None or importlib.import_module(f"ntk_lessons.{layer}.{name}")
