"""Range and choice checks on a composed :class:`~a2c_cli.config.Config`.

Run before any environment, directory or tensor work, so a bad value fails in the first
second with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from a2c_cli.config import (
    CHOICES,
    MAX_ENVS,
    NUMPY_ACTIVATIONS,
    Config,
    NetworkConfig,
)
from a2c_cli.errors import ConfigError, first_line

if TYPE_CHECKING:  # gymnasium-heavy: only the lazy checks need it
    from a2c_cli.envs.spaces import EnvSpaces


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}.")


def _choice(key: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    _check(value in choices, key, value, "choose one of " + ", ".join(choices))


def _positive(key: str, value: float) -> None:
    _check(math.isfinite(value) and value > 0, key, value, "must be > 0")


def _at_least(key: str, value: int, low: int) -> None:
    _check(value >= low, key, value, f"must be >= {low}")


def _in_range(key: str, value: float, ok: Callable[[float], bool], text: str) -> None:
    _check(math.isfinite(value) and ok(value), key, value, text)


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` for the first invalid value in ``cfg``."""
    a, n, e = cfg.algo, cfg.network, cfg.eval
    for key, choices in CHOICES.items():
        _choice(key, reduce(getattr, key.split("."), cfg), choices)
    _in_range("num_envs", cfg.num_envs, lambda x: 1 <= x <= MAX_ENVS,
              f"must be in [1, {MAX_ENVS}]")
    _at_least("algo.n_steps", a.n_steps, 1)
    _in_range("algo.gamma", a.gamma, lambda g: 0 < g <= 1, "must be in (0, 1]")
    _in_range("algo.gae_lambda", a.gae_lambda, lambda x: 0 <= x <= 1, "must be in [0, 1]")
    _positive("algo.lr", a.lr)
    _positive("algo.optimizer_eps", a.optimizer_eps)
    _positive("algo.max_grad_norm", a.max_grad_norm)
    _positive("algo.obs_clip", a.obs_clip)
    _positive("algo.reward_clip", a.reward_clip)
    _in_range("algo.vf_coef", a.vf_coef, lambda x: x >= 0, "must be >= 0")
    _in_range("algo.ent_coef", a.ent_coef, lambda x: x >= 0, "must be >= 0")
    _in_range("algo.ema_decay", a.ema_decay, lambda x: 0 <= x < 1,
              "must be in [0, 1) (0 turns weight averaging off; e.g. 0.999)")
    _in_range("algo.rmsprop_momentum", a.rmsprop_momentum, lambda x: 0 <= x < 1,
              "must be in [0, 1)")
    _check(a.optimizer == "rmsprop_tf" or (a.rmsprop_momentum == 0 and not a.rmsprop_centered),
           "algo.optimizer", a.optimizer,
           "algo.rmsprop_momentum and algo.rmsprop_centered are options of "
           "algo.optimizer=rmsprop_tf; use that, or leave them at 0 / false")
    batch = cfg.num_envs * a.n_steps
    _check(
        cfg.total_timesteps >= batch,
        "total_timesteps",
        cfg.total_timesteps,
        f"must be >= num_envs * algo.n_steps = {batch} (one update)",
    )
    _in_range("network.dropout", n.dropout, lambda x: 0 <= x < 1, "must be in [0, 1)")
    for key, sizes in (("network.shared", n.shared), ("network.actor", n.actor),
                       ("network.critic", n.critic)):
        _check(all(s >= 1 for s in sizes), key, list(sizes), "layer sizes must be >= 1")
    check_log_std_floor(n)
    if n.gsde:
        _check(n.log_std_min is None, "network.log_std_min", n.log_std_min,
               "a floor on a single log std does not apply with network.gsde=true (its "
               "noise scales come from a matrix of log stds); drop one of the two")
        _check(cfg.backend in ("auto", "torch"), "backend", cfg.backend,
               "gSDE (network.gsde=true) runs on the eager torch backend; use backend=auto "
               "or backend=torch")
    _at_least("eval.every_steps", e.every_steps, 0)
    _at_least("eval.episodes", e.episodes, 1)
    _at_least("eval.final_episodes", e.final_episodes, 0)
    _in_range("eval.num_envs", e.num_envs, lambda x: 1 <= x <= MAX_ENVS,
              f"must be in [1, {MAX_ENVS}]")
    _at_least("checkpoint.every_steps", cfg.checkpoint.every_steps, 0)
    _at_least("video.count", cfg.video.count, 1)
    _at_least("video.fps", cfg.video.fps, 1)
    if cfg.backend == "numpy":
        reason = numpy_unsupported_reason(n)
        _check(reason is None, "backend", cfg.backend,
               f"the NumPy backend {reason}; use backend=auto or backend=torch")
        _check(cfg.device != "cuda", "backend", cfg.backend,
               "the NumPy backend runs on the CPU; use device=cpu (or backend=auto)")
    _check(cfg.backend != "graph" or cfg.device != "cpu", "backend", cfg.backend,
           "CUDA graphs run on a GPU; use device=cuda (or auto) there, or backend=auto here")
    _check(cfg.env.backend == "gymnasium" or cfg.vec_env == "sync" or cfg.num_envs >= 2,
           "vec_env", cfg.vec_env,
           "with env.backend=envpool, async steps half the envs while the policy acts for "
           "the other half, so it needs num_envs >= 2; use vec_env=sync")
    _at_least("torch_threads", cfg.torch_threads, 0)
    _at_least("log_every_steps", cfg.log_every_steps, 1)
    _positive("log_interval_s", cfg.log_interval_s)
    if cfg.env.max_episode_steps is not None:
        _at_least("env.max_episode_steps", cfg.env.max_episode_steps, 1)
    check_wrapper_specs(cfg)
    key = cfg.env.action_mask_key
    if key is not None:
        _check(bool(key) and isinstance(key, str), "env.action_mask_key", key,
               "give the info key where the env reports its legal actions (e.g. "
               "action_mask), or null for none")
        _check(cfg.env.backend == "gymnasium", "env.action_mask_key", key,
               "EnvPool's envs report no action masks; use env.backend=gymnasium")
    _check(not cfg.env.atari or cfg.env.id.startswith("ALE/"), "env.atari", cfg.env.atari,
           f"the Atari protocol wraps ale-py's ALE/<Game>-v5 ids, not {cfg.env.id}; use an "
           "ALE/ id (e.g. env=pong) or env.atari=false")


def numpy_unsupported_reason(net: NetworkConfig) -> str | None:
    """Why the NumPy backend cannot run this network; None when it can."""
    if net.activation not in NUMPY_ACTIVATIONS:
        return (f"has no network.activation={net.activation} (it has "
                f"{', '.join(NUMPY_ACTIVATIONS)})")
    if net.dropout > 0:
        return "has no dropout (network.dropout must be 0)"
    if net.encoder != "none":
        return f"has no image encoder (network.encoder={net.encoder}: MLPs only)"
    if net.gsde:
        return "has no gSDE (network.gsde)"
    return None


#: The smallest frame nature_cnn's three convolutions (8/4, 4/2, 3/1) can read.
NATURE_CNN_MIN_SIZE = 36


def check_log_std_floor(network: NetworkConfig) -> None:
    """network.log_std_min: finite, and not above log_std_init (a log std that starts under
    the floor gets no gradient and would never move)."""
    floor = network.log_std_min
    if floor is None:
        return
    where = f"network.log_std_min={floor!r} is invalid"
    if not math.isfinite(floor):
        raise ConfigError(f"{where}: give a finite number (e.g. -1.6 for a std of 0.2), or "
                          "null for no floor.")
    if network.log_std_init < floor:
        raise ConfigError(f"{where}: it is above network.log_std_init="
                          f"{network.log_std_init!r}, and a log std that starts under the "
                          "floor gets no gradient; lower log_std_min or raise log_std_init.")


def check_observations(cfg: Config, spaces: EnvSpaces) -> None:
    """The network and the options fit the env's observations (images, vectors, or a
    Dict/Tuple holding images)."""
    encoder, env_id = cfg.network.encoder, cfg.env.id
    if spaces.layout is not None:
        frames = [entry.chw for entry in spaces.layout.images]
        flatten_hint = ", or network.encoder=none to flatten the images inside the Dict"
    else:
        frames = [spaces.image_chw] if spaces.image else []
        flatten_hint = ""
    if spaces.image and encoder == "none":
        raise ConfigError(
            f"network.encoder='none' is invalid for {env_id}: its observations are images "
            f"{spaces.obs_shape}, which an MLP cannot read; use network=nature_cnn (Atari-size "
            "frames) or network=minatar_cnn (small frames such as MinAtar's 10x10).")
    if not frames and encoder != "none":
        raise ConfigError(
            f"network.encoder={encoder!r} is invalid for {env_id}: its observations are "
            f"vectors of {spaces.obs_dim}, not images; use network=default (or "
            "network.encoder=none).")
    if encoder == "nature_cnn" and any(min(chw[1:]) < NATURE_CNN_MIN_SIZE for chw in frames):
        raise ConfigError(
            f"network.encoder='nature_cnn' is invalid for {env_id}: its frames "
            f"{frames} (C, H, W) are smaller than {NATURE_CNN_MIN_SIZE}x"
            f"{NATURE_CNN_MIN_SIZE}; use network=minatar_cnn{flatten_hint}.")
    if encoder == "minatar_cnn" and any(min(chw[1:]) < 3 for chw in frames):
        raise ConfigError(
            f"network.encoder='minatar_cnn' is invalid for {env_id}: its 3x3 convolution "
            f"needs frames of at least 3x3, and they are {frames} (C, H, W); resize them "
            f"(a wrapper in env.wrappers){flatten_hint}.")
    if spaces.image and cfg.algo.normalize_obs:
        raise ConfigError(
            "algo.normalize_obs=true is invalid for image observations: the network scales "
            "pixels to [0, 1] itself; set algo.normalize_obs=false.")
    if cfg.backend == "numpy":
        reason = numpy_spaces_reason(spaces)
        if reason is not None:
            raise ConfigError(f"backend=numpy is invalid for {env_id}: the NumPy backend "
                              f"{reason}; use backend=auto or backend=torch.")


def check_action_mask(cfg: Config) -> None:
    """``env.action_mask_key``: one env reports the mask at reset (the wrapper checks every
    step as it runs), so a wrong key fails before anything is written."""
    from a2c_cli.envs.factory import make_env_fn

    env = make_env_fn(cfg.env)()
    try:
        env.reset(seed=cfg.seed)
    finally:
        env.close()


def numpy_spaces_reason(spaces: EnvSpaces) -> str | None:
    """Why the NumPy backend cannot act in these spaces; None when it can (flat vector
    observations, Discrete or Box actions)."""
    if spaces.layout is not None or spaces.image:
        return "reads flat vector observations only (this env's hold images)"
    if spaces.action_mask_dim:
        return "does not mask actions (env.action_mask_key)"
    if spaces.action_kind in ("multi_discrete", "multi_binary"):
        return f"has Discrete and Box actions only (this env's are {spaces.action_kind})"
    return None


def is_wrapper_spec(spec: Any) -> bool:
    """One ``env.wrappers`` entry: a mapping with a ``_target_`` import path (and the
    wrapper's arguments); also what ``a2c-eval wrappers=`` takes."""
    return isinstance(spec, Mapping) and isinstance(spec.get("_target_"), str)


def check_wrapper_specs(cfg: Config) -> None:
    """``env.wrappers``: a list of ``_target_`` mappings, gymnasium envs only."""
    for i, spec in enumerate(cfg.env.wrappers):
        _check(is_wrapper_spec(spec), f"env.wrappers[{i}]", spec,
               "each wrapper is a mapping with a _target_ import path and its arguments, "
               "e.g. '+env.wrappers=[{_target_:gymnasium.wrappers.TimeAwareObservation}]'")
    _check(not cfg.env.wrappers or cfg.env.backend == "gymnasium", "env.wrappers",
           [s.get("_target_") for s in cfg.env.wrappers],
           "EnvPool's C++ envs cannot be wrapped in Python; use env.backend=gymnasium")


#: gymnasium's env checker's findings by env id, from the start-up check (env.check=true).
_checked: dict[str, list[str]] = {}


def env_checker_findings(cfg: Config) -> list[str]:
    """``env.check=true``: gymnasium's env checker on the env as ``gymnasium.make`` builds it
    with ``env.kwargs`` (the checker re-creates an env from its spec, which wrappers of
    one's own need not support); once per process and env id. A failed check raises."""
    import dataclasses

    from a2c_cli.envs.factory import make_env_fn
    from a2c_cli.envs.wrappers import run_env_checker

    if cfg.env.id not in _checked:
        env_cfg = dataclasses.replace(cfg.env, wrappers=[])
        _checked[cfg.env.id] = run_env_checker(make_env_fn(env_cfg))
    return _checked[cfg.env.id]


def log_env_checker(cfg: Config) -> None:
    """The findings of :func:`env_checker_findings`, in one place of the run's log."""
    import logging

    log = logging.getLogger("a2c_cli")
    findings = env_checker_findings(cfg)
    log.info("env.check: gymnasium's env checker on %s: %s", cfg.env.id,
             f"{len(findings)} finding(s)" if findings else "no findings")
    for finding in findings:
        log.warning("env.check: %s", finding)


def check_environment(cfg: Config) -> None:
    """Checks that need gymnasium (and torch for ``device=cuda``): the env id exists, its
    spaces are supported, options fit its action space, the device is there."""
    import difflib
    import importlib

    import gymnasium as gym

    from a2c_cli.envs.factory import probe_spaces, register_namespace
    from a2c_cli.envs.wrappers import import_user_modules

    register_namespace(cfg.env.id)
    import_user_modules()
    module, _, env_id = cfg.env.id.rpartition(":")
    if module:  # gymnasium's "package.module:EnvId-v0" form registers the env on import
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"env.id={cfg.env.id!r} is invalid: cannot import module "
                              f"{module!r} ({exc}).") from exc
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}" if close else \
            "see gymnasium.pprint_registry() for the registered ids"
        raise ConfigError(f"env.id={cfg.env.id!r} is invalid: no such gymnasium environment; "
                          f"{hint}.")
    if cfg.env.backend == "envpool":
        from a2c_cli.envs.envpool_backend import envpool_task

        try:
            envpool_task(cfg.env)
        except (ImportError, ValueError) as exc:
            raise ConfigError(str(exc) + ".") from exc
    try:
        spaces = probe_spaces(cfg.env)
    except gym.error.DependencyNotInstalled as exc:
        hint = ("install the mujoco extra: pip install 'a2c-cli[mujoco]' (make install "
                "includes it)" if "mujoco" in str(exc).lower() else "install the package it names")
        raise ConfigError(f"env.id={cfg.env.id!r} needs a package that is missing: "
                          f"{first_line(exc)}; {hint}.") from exc
    except TypeError as exc:  # gym.make passes unknown kwargs to the env's constructor
        raise ConfigError(f"env.kwargs={dict(cfg.env.kwargs)!r} is invalid for {cfg.env.id}: "
                          f"{exc} (drop a key with ~env.kwargs.<key>).") from exc
    check_observations(cfg, spaces)
    if cfg.env.action_mask_key is not None:
        check_action_mask(cfg)
    if cfg.env.check:
        env_checker_findings(cfg)  # fails before anything is written; logged by the run
    # Continuous-only options, with their defaults: anything else is refused for discrete.
    for key, value, default in (("log_std_init", cfg.network.log_std_init, 0.0),
                                ("log_std_min", cfg.network.log_std_min, None),
                                ("gsde", cfg.network.gsde, False),
                                ("clipped_log_prob", cfg.network.clipped_log_prob, False)):
        if spaces.discrete and value != default:
            raise ConfigError(f"network.{key}={value!r} is invalid: {cfg.env.id} has discrete "
                              f"actions; {key} only applies to continuous (Box) actions (drop "
                              f"it with ~network.{key}).")
    if cfg.video.enabled:
        from a2c_cli.outputs.video import require_rendering, require_video

        require_video("video.enabled")
        require_rendering(cfg.env, "video.enabled")
    if cfg.device == "cuda":
        resolve_device(cfg.device)


#: device=auto picks the GPU from this many envs up. Measured on the GPU machine (H200, tuned
#: LunarLander settings, default network; docs: Speed): below it the CPU trains faster.
AUTO_CUDA_MIN_ENVS = 256


def auto_device(num_envs: int, cuda_available: bool, cnn: bool = False) -> tuple[str, str]:
    """``device=auto``'s choice for ``num_envs`` envs (``cnn``: a convolutional encoder),
    and why (for the log)."""
    if not cuda_available:
        return "cpu", "no CUDA GPU here"
    if cnn:
        return "cuda", ("a convolutional network: its forward and backward passes, not the "
                        "per-step overhead, dominate the run (docs: Environments, Pixels)")
    if num_envs < AUTO_CUDA_MIN_ENVS:
        return "cpu", (f"{num_envs} envs: below {AUTO_CUDA_MIN_ENVS}, where the GPU was measured "
                       "slower than the CPU for A2C's small networks; device=cuda forces it")
    return "cuda", f"{num_envs} envs: from {AUTO_CUDA_MIN_ENVS} up the GPU was measured faster"


def resolve_device(name: str, num_envs: int = 1,  # noqa: ANN201 - torch.device, lazy torch
                   cnn: bool = False):
    """The torch device for ``device=name``: ``cuda`` without a GPU is a config error;
    ``auto`` decides by :func:`auto_device` and logs its choice."""
    import logging

    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' is invalid: no CUDA GPU is available here; "
                          "use device=auto or device=cpu.")
    if name == "auto":
        name, why = auto_device(num_envs, torch.cuda.is_available(), cnn)
        logging.getLogger("a2c_cli").info("device=auto: %s (%s)", name, why)
    return torch.device(name)
