"""``a2c-eval``: evaluate a trained agent from a run directory or a checkpoint file.

    a2c-eval outputs/2026-11-24/19-40-00                    # final.pt, 100 episodes
    a2c-eval outputs/.../checkpoints/best.pt episodes=20 video=true
    a2c-eval RUN_DIR checkpoint=last seed=7 deterministic=false --plot
    a2c-eval RUN_DIR deterministic_action=mean_of_clipped  # E[clip(a)], not clip(mean)

Prints a table (mean, std, min, max, median, solved), writes ``eval.json`` next to the
checkpoint, and with ``video=true`` mp4 files of the first episodes into
``<run_dir>/videos/``. With the default seed it replays the run's final evaluation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

OPTIONS: Dict[str, type] = {"episodes": int, "video": bool, "video_episodes": int, "seed": int,
                            "deterministic": bool, "checkpoint": str, "num_envs": int,
                            "device": str, "plot": bool, "deterministic_action": str,
                            "wrappers": str}
DEFAULTS: Dict[str, Any] = {"episodes": 100, "video": False, "video_episodes": 3, "seed": None,
                            "deterministic": True, "checkpoint": None, "num_envs": None,
                            "device": "auto", "plot": False, "deterministic_action": None,
                            "wrappers": None}


def parse_options(items: List[str]) -> Dict[str, Any]:
    """``key=value`` words -> typed options; ConfigError names a bad one."""
    from a2c_cli.config import DETERMINISTIC_ACTIONS
    from a2c_cli.errors import ConfigError

    opts = dict(DEFAULTS)
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in OPTIONS:
            raise ConfigError(f"{item!r} is not an a2c-eval option: use key=value with key "
                              f"one of {', '.join(OPTIONS)}.")
        kind = OPTIONS[key]
        if kind is bool:
            if raw.lower() not in ("true", "false"):
                raise ConfigError(f"{key}={raw!r} is invalid: use true or false.")
            opts[key] = raw.lower() == "true"
        elif kind is int:
            try:
                opts[key] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{key}={raw!r} is invalid: an integer is needed.") from exc
        else:
            opts[key] = raw
    if opts["episodes"] < 1:
        raise ConfigError(f"episodes={opts['episodes']} is invalid: must be >= 1.")
    if opts["checkpoint"] not in (None, "final", "best", "last"):
        raise ConfigError(f"checkpoint={opts['checkpoint']!r} is invalid: choose final, best "
                          "or last.")
    if opts["wrappers"] is not None:
        opts["wrappers"] = parse_wrappers(opts["wrappers"])
    if opts["deterministic_action"] not in (None, *DETERMINISTIC_ACTIONS):
        raise ConfigError(f"deterministic_action={opts['deterministic_action']!r} is invalid: "
                          f"choose {' or '.join(DETERMINISTIC_ACTIONS)}.")
    return opts


def parse_wrappers(raw: str) -> List[Dict[str, Any]]:
    """``wrappers=[{_target_: ...}, ...]`` (YAML): replaces the checkpoint's saved
    ``env.wrappers`` (``wrappers=[]`` evaluates the bare env)."""
    import yaml

    from a2c_cli.errors import ConfigError
    from a2c_cli.validation import is_wrapper_spec

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"wrappers={raw!r} is invalid: not YAML ({exc}).") from exc
    if not isinstance(value, list) or not all(is_wrapper_spec(w) for w in value):
        raise ConfigError(f"wrappers={raw!r} is invalid: give a list of mappings with a "
                          "_target_, e.g. wrappers='[{_target_: gymnasium.wrappers."
                          "TimeAwareObservation}]', or wrappers=[].")
    return value


def find_checkpoint(path: Path, which: Optional[str]) -> Tuple[Path, Path]:
    """(checkpoint file, run directory) for a run directory or a checkpoint path."""
    from a2c_cli.errors import CheckpointError

    if path.is_file():
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        return path, run_dir
    if not path.is_dir():
        raise CheckpointError(f"{path} does not exist (give a run directory or a .pt file).")
    names = [which] if which else ["final", "last"]
    for name in names:
        candidate = path / "checkpoints" / f"{name}.pt"
        if candidate.is_file():
            return candidate, path
    raise CheckpointError(f"{path} has no checkpoints/{names[0]}.pt: not a run directory, "
                          "or a run that has not saved one yet.")


def load_agent(payload: Dict[str, Any], device_name: str,  # noqa: ANN201
               deterministic_action: Optional[str] = None,
               wrappers: Optional[List[Dict[str, Any]]] = None):
    """(Agent, Config) rebuilt from a checkpoint payload; deterministic actions as the run
    evaluated them unless ``deterministic_action`` is given, its env wrappers unless
    ``wrappers`` replaces them (replaying them imports and calls what the saved config
    names, as ``env.id=module:EnvId`` imports its module)."""
    from omegaconf import OmegaConf

    from a2c_cli.agent.agent import Agent
    from a2c_cli.agent.networks import ActorCritic
    from a2c_cli.agent.normalization import ObsNormalizer
    from a2c_cli.config import Config
    from a2c_cli.envs.factory import probe_spaces
    from a2c_cli.errors import CheckpointError
    from a2c_cli.training.checkpoint import rms_from_tensors
    from a2c_cli.training.runtime import limit_threads
    from a2c_cli.validation import resolve_device

    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), payload["config"])
        cfg: Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"the checkpoint's config does not fit this a2c-cli: {exc}") \
            from exc
    if wrappers is not None:
        cfg.env.wrappers = wrappers
    spaces = probe_spaces(cfg.env)
    device = resolve_device(device_name)
    network = ActorCritic(spaces, cfg.network).to(device)
    try:
        network.load_state_dict(payload["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"the checkpoint's weights do not fit {cfg.env.id}: {first}") \
            from exc
    obs_norm = ObsNormalizer.for_spaces(spaces, cfg.algo.normalize_obs, cfg.algo.obs_clip)
    rms_from_tensors(obs_norm.rms, payload["obs_rms"])
    limit_threads(max(cfg.torch_threads, 1))
    if deterministic_action is not None:
        cfg.eval.deterministic_action = deterministic_action
    return Agent(network, obs_norm, spaces, device,
                 deterministic_action=cfg.eval.deterministic_action), cfg


def run(path: Path, opts: Dict[str, Any]) -> Dict[str, Any]:
    """Evaluate; print the table; write eval.json (and videos / plot). Returns the report."""
    # A wrong path is the commonest mistake: say so before importing torch and gymnasium.
    ckpt, run_dir = find_checkpoint(path, opts["checkpoint"])
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from a2c_cli.envs.factory import make_vector_env, target_return
    from a2c_cli.errors import first_line
    from a2c_cli.outputs.metrics import write_json
    from a2c_cli.training.checkpoint import load_checkpoint
    from a2c_cli.training.evaluation import evaluate
    from a2c_cli.training.seeds import eval_env_seed

    if opts["video"]:
        from a2c_cli.outputs.video import require_video

        require_video("video")
    payload = load_checkpoint(ckpt)
    agent, cfg = load_agent(payload, opts["device"], opts["deterministic_action"],
                            opts["wrappers"])
    if opts["video"]:
        from a2c_cli.outputs.video import require_rendering

        require_rendering(cfg.env, "video")
    seed = opts["seed"] if opts["seed"] is not None else eval_env_seed(cfg.seed)
    num_envs = opts["num_envs"] or cfg.eval.num_envs
    envs = make_vector_env(cfg.env, num_envs, "sync")
    try:
        result = evaluate(agent, envs, opts["episodes"], seed, opts["deterministic"])
    finally:
        envs.close()
    target = target_return(cfg.env)
    r = result.returns
    report: Dict[str, Any] = {
        "checkpoint": str(ckpt), "env_id": cfg.env.id, "global_step": payload["global_step"],
        "episodes": len(r), "seed": seed, "device": str(agent.device),
        "deterministic": opts["deterministic"],
        "deterministic_action": cfg.eval.deterministic_action,
        "mean_return": float(r.mean()), "std_return": float(r.std()),
        "min_return": float(r.min()), "max_return": float(r.max()),
        "median_return": float(np.median(r)), "mean_length": float(result.lengths.mean()),
        "target_return": target, "solved": bool(target is not None and r.mean() >= target),
        "returns": [round(x, 2) for x in r.tolist()],
    }
    if opts["video"]:
        try:
            report["videos"] = [str(p) for p in _videos(agent, cfg, run_dir, ckpt.stem, seed,
                                                          opts)]
        except Exception as exc:  # noqa: BLE001 - the evaluation stands without its video
            report["video_error"] = f"{type(exc).__name__}: {first_line(exc)}"
            print(f"a2c-eval: warning: the video failed ({report['video_error']}); the "
                  "evaluation is in eval.json", file=sys.stderr)
    if opts["plot"]:
        from a2c_cli.outputs.plots import plot_learning_curve

        report["plot"] = str(plot_learning_curve(run_dir))
    write_json(ckpt.parent / "eval.json", report)

    table = Table(title=f"a2c-eval: {cfg.env.id}, {ckpt.name} (step {payload['global_step']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("episodes", "mean_return", "std_return", "min_return", "max_return",
                "median_return", "mean_length", "target_return", "solved"):
        value = report[key]
        table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    console.print(f"wrote {ckpt.parent / 'eval.json'}")
    for extra in report.get("videos", []) + ([report["plot"]] if "plot" in report else []):
        console.print(f"wrote {extra}")
    return report


def _videos(agent, cfg, run_dir: Path, stem: str, seed: int,  # noqa: ANN001
            opts: Dict[str, Any]) -> List[Path]:
    from a2c_cli.outputs.video import record_episode, write_mp4

    paths = []
    for i in range(opts["video_episodes"]):
        frames, _ = record_episode(agent, cfg.env, seed + i, opts["deterministic"])
        paths.append(write_mp4(run_dir / "videos" / f"eval_{stem}_ep{i}.mp4", frames,
                               cfg.video.fps))
    return paths


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point of ``a2c-eval``."""
    parser = argparse.ArgumentParser(
        prog="a2c-eval", description=__doc__.split("\n\n")[0],
        epilog="options (key=value): episodes=100 video=false video_episodes=3 seed=<run's "
               "eval seed> deterministic=true deterministic_action=<run's: clipped_mean|"
               "mean_of_clipped> checkpoint=final|best|last num_envs=<run's> device=auto "
               "plot=false wrappers=<run's env.wrappers: a YAML list, [] for none>",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="run directory or checkpoint (.pt) file")
    parser.add_argument("options", nargs="*", help="key=value options (see below)")
    parser.add_argument("--plot", action="store_true", help="also write learning_curve.png")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        opts = parse_options(args.options)
        opts["plot"] = opts["plot"] or args.plot
        run(args.path, opts)
    except KeyboardInterrupt:
        print("a2c-eval: aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        from a2c_cli.cli.failures import exit_with_error

        exit_with_error("a2c-eval", exc, args.debug)


if __name__ == "__main__":
    main()
