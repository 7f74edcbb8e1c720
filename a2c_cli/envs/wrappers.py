"""``env.wrappers``: what a config names, applied to every sub-environment.

Each entry is a Hydra-style ``_target_`` mapping, e.g. ``{_target_:
gymnasium.wrappers.TimeAwareObservation}`` or ``{_target_: my_wrappers.Scale, factor: 2}``:
the callable at that import path is called with the env first and the other keys as
keyword arguments. Resolved here (not by Hydra's ``instantiate``) so that a2c-eval
replays a checkpoint's saved wrappers from its plain config, and errors name the entry.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym

from a2c_cli.errors import UnsupportedEnvError, first_line


def import_user_modules() -> None:
    """Make the working directory importable, as ``python -m`` does: a user's
    ``./my_envs.py`` is found for ``env.id=my_envs:MyEnv-v0`` and for wrappers, without
    ``PYTHONPATH``."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def locate(target: str) -> Callable[..., Any]:
    """The object at a dotted import path (``package.module.Name``; the working directory
    is importable once :func:`a2c_cli.envs.factory.make_env_fn` ran)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # the module exists but an import inside it failed
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(f"no module named {parts[0]!r}")


def describe(spec: Any) -> str:
    return str(spec.get("_target_", "?")) if isinstance(spec, Mapping) else repr(spec)


def apply_wrappers(env: gym.Env, specs: Sequence[Mapping[str, Any]]) -> gym.Env:
    """``env`` wrapped by each of ``specs`` in order (one-line errors naming the entry)."""
    for i, spec in enumerate(specs):
        kwargs = {k: v for k, v in spec.items() if k != "_target_"}
        try:
            wrapper = locate(str(spec["_target_"]))
        except (ImportError, AttributeError) as exc:
            raise UnsupportedEnvError(
                f"env.wrappers[{i}] ({describe(spec)}) cannot be imported: {exc}") from exc
        try:
            env = wrapper(env, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the user's code: any error, one line
            raise UnsupportedEnvError(
                f"env.wrappers[{i}] ({describe(spec)}) could not wrap the env: "
                f"{type(exc).__name__}: {first_line(exc)}") from exc
    return env


def run_env_checker(make_env: Callable[[], gym.Env]) -> list[str]:
    """gymnasium's own env checker on the env ``make_env`` builds: its warnings, one per
    line; an error it raises becomes UnsupportedEnvError."""
    import warnings

    from gymnasium.utils.env_checker import check_env

    env = make_env()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check_env(env, skip_render_check=True)
            except Exception as exc:  # noqa: BLE001 - the checker's verdict, any type
                name = env.spec.id if env.spec else type(env).__name__
                raise UnsupportedEnvError(
                    f"env.check: gymnasium's env checker failed on {name}: "
                    f"{type(exc).__name__}: {first_line(exc)}") from exc
    finally:
        env.close()
    seen: list[str] = []
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.append(text)
    return seen
