"""kubernetes_asyncio's generated client loads each class when first named, never all at once.

Its packages (``kubernetes_asyncio``, ``.client``, ``.client.api``, ``.client.models``)
import every generated API and model as they are imported: about 1,600 modules and half a
second of CPU at every start, for the configuration, the HTTP client and the two or three
classes this controller and Kopf name. :func:`defer` installs those packages without
running their ``__init__``; each answers a name with the one module that defines it, read
from the package's own ``__init__`` (its ``from <module> import <name>`` lines), so every
name the package exports is still there, the same class, from the same module.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = "kubernetes_asyncio"
PACKAGES = (ROOT, f"{ROOT}.client", f"{ROOT}.client.api", f"{ROOT}.client.models")
_EXPORT = re.compile(r"^from (kubernetes_asyncio[\w.]*) import (\w+)\s*$", re.MULTILINE)
_IMPORT_AS = re.compile(r"^import (kubernetes_asyncio[\w.]*) as (\w+)\s*$", re.MULTILINE)
_DUNDER = re.compile(r"^(__\w+__) = \"([^\"]*)\"\s*$", re.MULTILINE)


def exports(init: str) -> dict[str, str]:
    """Each name a package's ``__init__`` source exports, with the module it comes from."""
    names = {name: module for module, name in _EXPORT.findall(init)}
    names.update({alias: module for module, alias in _IMPORT_AS.findall(init)})
    return names


def _resolver(package: str, names: dict[str, str]) -> Callable[[str], object]:
    def resolve(name: str) -> object:
        source = names.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(source)
        value = module if source == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    return resolve


def defer() -> bool:
    """Install the deferred packages, unless one of them is imported already (or missing).

    Returns whether they were installed.
    """
    if any(name in sys.modules for name in PACKAGES):
        return False
    installed: list[str] = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            for done in installed:
                del sys.modules[done]
            return False
        module: ModuleType = importlib.util.module_from_spec(spec)
        init = Path(spec.origin).read_text(encoding="utf-8")
        names = exports(init)
        for dunder, value in _DUNDER.findall(init):  # __version__ and the like
            setattr(module, dunder, value)
        module.__getattr__ = _resolver(package, names)  # type: ignore[method-assign]
        sys.modules[package] = module
        installed.append(package)
        parent, _, child = package.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    return True
