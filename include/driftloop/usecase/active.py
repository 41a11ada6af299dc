"""The active use case: its spec (``usecase.toml``) and the Python files it names, loaded from its folder.

``DRIFTLOOP_USECASE`` selects the folder (a name under ``<repo>/usecases/`` or a path); :func:`active_spec` reads
and validates its spec once per folder, and :func:`use_case_function` imports a function from one of its files
by path (the folder is not a package, so several use cases can sit side by side).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from driftloop.settings import Settings, get_settings
from driftloop.usecase.spec import SpecError, UseCaseSpec, load_spec


@lru_cache(maxsize=8)
def _spec_of(folder: Path) -> UseCaseSpec:
    return load_spec(folder)


def active_spec(settings: Settings | None = None) -> UseCaseSpec:
    """The spec of the use case ``DRIFTLOOP_USECASE`` names (validated; SpecError names the file and field)."""
    settings = settings or get_settings()
    return _spec_of(settings.usecase_dir)


def use_case_module(spec: UseCaseSpec, relative: str, fresh: bool = False) -> ModuleType:
    """The use case's Python file ``relative`` imported as a module (once, unless ``fresh``: Feast definitions read
    the environment when imported, so they are imported anew each time the repository is parsed)."""
    path = (spec.folder / relative).resolve()
    name = f"driftloop_usecase_{spec.name}_{path.stem}"
    module = sys.modules.get(name)
    if not fresh and module is not None and getattr(module, "__file__", None) == str(path):
        return module
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise SpecError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def use_case_function(spec: UseCaseSpec, relative: str, function: str):
    """The callable ``function`` defined in the use case's file ``relative``; SpecError when it is not there."""
    module = use_case_module(spec, relative)
    found = getattr(module, function, None)
    if not callable(found):
        raise SpecError(
            f"{spec.folder / relative} defines no function {function!r} (named in {spec.folder}/usecase.toml)"
        )
    return found
