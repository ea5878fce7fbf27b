"""The package's tiers (DESIGN.md): chapters -> learner tools -> models -> layers -> kernels.

- a concept module (kernels and their layers) never imports a learner tool, a model or
  the course tooling;
- no kernel function (``*_forward``, ``*_backward``, ...) refers to a Module;
- chapters import only public names, never the course tooling;
- every module declares ``__all__``, and it lists exactly the public names it defines;
- every forward kernel has its backward twin, exported at the top level.
"""
import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import cnnbook
from cnnbook.module import Module

PACKAGE = Path(cnnbook.__file__).parent
ROOT = PACKAGE.parent
TOOLS = {"data", "train", "plot", "exercises", "course", "models", "_figure", "autograd",
         "gradcheck"}
CONCEPT_MODULES = sorted(
    p.stem for p in PACKAGE.glob("*.py")
    if p.stem not in TOOLS | {"__init__"} and not p.stem.startswith("_")
)
ALL_MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "cnnbook."))


def imported_cnnbook_modules(path: Path) -> set[str]:
    """First component below ``cnnbook`` of every cnnbook module that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("cnnbook."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cnnbook."):
                    found.add(alias.name.split(".")[1])
    return found


def test_concept_modules_are_found():
    assert {"conv", "pool", "dense", "activations", "batchnorm", "attention", "module"} <= set(CONCEPT_MODULES)


@pytest.mark.parametrize("name", CONCEPT_MODULES)
def test_layers_never_import_tools_models_or_course(name):
    used = imported_cnnbook_modules(PACKAGE / f"{name}.py")
    assert not used & TOOLS, f"cnnbook/{name}.py imports {sorted(used & TOOLS)}"


@pytest.mark.parametrize("name", CONCEPT_MODULES)
def test_no_kernel_function_refers_to_a_module(name):
    module = importlib.import_module(f"cnnbook.{name}")
    layer_names = {n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Module)}
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            assert not used & layer_names, f"{name}.{node.name} refers to {sorted(used & layer_names)}"


def test_models_and_tools_sit_above_the_layers():
    for path in (PACKAGE / "models").glob("*.py"):
        used = imported_cnnbook_modules(path.parent / path.name)
        assert not used & {"train", "plot", "exercises", "course", "data"}, path


def chapter_imports():
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            try:
                tree = ast.parse("\n".join(l for l in source.splitlines()
                                           if not l.lstrip().startswith(("%", "!"))))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnbook"):
                    yield path.name, node.module, [a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        if a.name.startswith("cnnbook"):
                            yield path.name, a.name, []


def test_chapters_import_only_public_names():
    seen = 0
    for chapter, module, names in chapter_imports():
        seen += 1
        parts = module.split(".")
        assert not any(p.startswith("_") for p in parts), f"{chapter} imports private {module}"
        assert "course" not in parts, f"{chapter} imports the course tooling ({module})"
        mod = importlib.import_module(module)
        for n in names:
            assert not n.startswith("_"), f"{chapter} imports private {module}.{n}"
            public = getattr(mod, "__all__", None)
            if public is not None and not isinstance(getattr(mod, n, None), type(mod)):
                assert n in public, f"{chapter} imports {module}.{n}, which is not in its __all__"
    assert seen > 20


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_module_declares_all(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    for n in module.__all__:
        assert hasattr(module, n), f"{name}.__all__ names {n}, which does not exist"
    if not name.endswith("__init__") and not hasattr(module, "__path__"):
        defined = {n for n, v in vars(module).items()
                   if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == name}
        exercise_file = ".exercises.ch" in name
        if not exercise_file:
            assert defined <= set(module.__all__), f"{name} defines {sorted(defined - set(module.__all__))} outside __all__"


def test_top_level_exports_are_listed():
    for n in cnnbook.__all__:
        assert hasattr(cnnbook, n)
    assert {"im2col", "col2im", "conv_output_size", "lenet", "Residual"} - set(cnnbook.__all__) <= {"Residual"}


@pytest.mark.parametrize("name", CONCEPT_MODULES)
def test_every_forward_kernel_has_a_backward_twin_and_is_exported(name):
    module = importlib.import_module(f"cnnbook.{name}")
    forwards = [n for n in vars(module) if n.endswith("_forward") and not n.startswith("_")
                and callable(getattr(module, n)) and getattr(module, n).__module__ == module.__name__]
    for fwd in forwards:
        assert hasattr(module, fwd.replace("_forward", "_backward")), f"{name}.{fwd} has no backward"
        assert getattr(cnnbook, fwd, None) is getattr(module, fwd), f"cnnbook.{fwd} is not exported"
