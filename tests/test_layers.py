"""Each package states what other packages may import from it (its `__all__`: modules and
names), and they import nothing else of it. import-linter (`lint-imports` in ./check) holds
the direction of imports between layers; this holds the surface of each package."""

from __future__ import annotations

import importlib
import pkgutil

import grimp

import notifier


def _packages() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(notifier.__path__, "notifier.")
        if info.ispkg and info.name != "notifier.templates"
    )


def test_other_packages_import_only_what_a_package_declares() -> None:
    graph = grimp.build_graph("notifier")
    reaching_in = []
    for package in _packages():
        declared = set(getattr(importlib.import_module(package), "__all__", ()))
        for module in graph.modules:
            if not module.startswith(package + "."):
                continue
            first = module[len(package) + 1 :].split(".")[0]
            if first in declared:
                continue
            for importer in graph.find_modules_that_directly_import(module):
                if importer != package and not importer.startswith(package + "."):
                    reaching_in.append(f"{importer} imports {module}")
    assert reaching_in == [], "undeclared imports (add to the package's __all__, or use it)"


def test_every_declared_module_exists() -> None:
    for package in _packages():
        loaded = importlib.import_module(package)
        names = set(dir(loaded)) | {m.name for m in pkgutil.iter_modules(loaded.__path__)}
        missing = [n for n in getattr(loaded, "__all__", ()) if n not in names]
        assert missing == [], f"{package}.__all__ names what is not there: {missing}"
