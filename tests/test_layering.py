"""Dependencies point one way (DESIGN.md): chapters -> learner tools -> layers -> kernels.

A kernel or layer module never imports a learner tool (data, train, plot, exercises,
grade, student, execute), so the package can be read bottom-up.
"""
import ast
from pathlib import Path

import pytest

import cnnbook

PACKAGE = Path(cnnbook.__file__).parent
TOOLS = {"data", "train", "plot", "exercises", "grade", "student", "execute", "_figure"}
KERNEL_MODULES = sorted(
    p.stem for p in PACKAGE.glob("*.py")
    if p.stem not in TOOLS | {"__init__", "graph"}
)


def imported_cnnbook_modules(path: Path) -> set[str]:
    """First component of every cnnbook module that ``path`` imports (relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module:
                found.add(node.module.split(".")[0])
            elif node.level:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("cnnbook."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cnnbook."):
                    found.add(alias.name.split(".")[1])
    return found


def test_kernel_modules_are_found():
    assert {"conv", "pool", "dense", "activations", "batchnorm", "attention"} <= set(KERNEL_MODULES)


@pytest.mark.parametrize("name", KERNEL_MODULES)
def test_kernels_and_layers_never_import_learner_tools(name):
    used = imported_cnnbook_modules(PACKAGE / f"{name}.py")
    assert not used & TOOLS, f"cnnbook/{name}.py imports {sorted(used & TOOLS)}"


@pytest.mark.parametrize("name", KERNEL_MODULES)
def test_every_forward_kernel_has_a_backward_twin_and_is_exported(name):
    module = __import__(f"cnnbook.{name}", fromlist=["_"])
    forwards = [n for n in vars(module) if n.endswith("_forward") and not n.startswith("_")
                and callable(getattr(module, n)) and getattr(module, n).__module__ == module.__name__]
    for fwd in forwards:
        assert hasattr(module, fwd.replace("_forward", "_backward")), f"{name}.{fwd} has no backward"
        assert getattr(cnnbook, fwd, None) is getattr(module, fwd), f"cnnbook.{fwd} is not exported"
