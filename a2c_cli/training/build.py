"""Wiring: one run's parts built from a plain :class:`~a2c_cli.config.Config` (no Hydra
here) and handed to the :class:`~a2c_cli.training.loop.Trainer`.

The order matters for reproducibility: seeding, then the network's initialisation, then
the environments' first reset.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from a2c_cli.agent.agent import Agent
from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.agent.normalization import ObsNormalizer, RewardScaler
from a2c_cli.config import Config
from a2c_cli.envs.factory import make_vector_env, target_return
from a2c_cli.envs.spaces import describe_spaces
from a2c_cli.outputs.run_logger import Progress, RunLogger
from a2c_cli.outputs.tensorboard import TensorBoardLogger
from a2c_cli.outputs.video import VideoRecorder
from a2c_cli.training.backends import make_backend, resolve_backend
from a2c_cli.training.collector import Collector
from a2c_cli.training.cuda_graphs import GraphCapturer
from a2c_cli.training.evaluator import Evaluator
from a2c_cli.training.learner import A2C
from a2c_cli.training.loop import Trainer
from a2c_cli.training.optim import make_optimizer
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.runtime import (
    limit_threads,
    seed_everything,
    skip_dynamo_import_for_optimizers,
)
from a2c_cli.training.seeds import eval_env_seed, train_env_seed
from a2c_cli.training.train_state import Checkpointer, TrainState
from a2c_cli.training.weight_average import WeightAverage
from a2c_cli.validation import resolve_device


def build_trainer(cfg: Config, run_dir: Path, config_dict: Dict[str, Any], console: Progress,
                  resume: Optional[Dict[str, Any]] = None,
                  stop_requested: Callable[[], Optional[int]] = lambda: None,
                  graphs: Optional[GraphCapturer] = None, trial: str = "") -> Trainer:
    """``resume`` is a checkpoint payload (``last.pt``) to continue from: weights,
    optimizer, statistics, RNG states and counters are restored; the training envs start
    fresh episodes from a seed derived from the step, so a resume is reproducible.
    ``graphs``: what captures the graph backend's graphs (tests pass the CPU stand-in for
    CUDA graphs; by default the GPU's). ``trial``: the run's name in TensorBoard's HParams
    table ("" = its path)."""
    limit_threads(cfg.torch_threads)
    device = resolve_device(cfg.device, cfg.num_envs, cnn=cfg.network.encoder != "none")
    seed_everything(cfg.seed)
    envs = make_vector_env(cfg.env, cfg.num_envs, cfg.vec_env, training=True)
    try:
        spaces = describe_spaces(envs.single_observation_space, envs.single_action_space)
        backend_name, why = resolve_backend(cfg.backend, cfg, device, graphs is not None,
                                            spaces)
        logging.getLogger("a2c_cli").info("backend=%s: %s", backend_name, why)
        if backend_name == "numpy":
            skip_dynamo_import_for_optimizers()
        network = ActorCritic(spaces, cfg.network).to(device)
        flat = flatten_parameters(network)
        optimizer = make_optimizer([flat], cfg.algo)
        weights = WeightAverage(network, flat, cfg.algo.ema_decay)
        backend = make_backend(backend_name, cfg, network, optimizer, device, graphs)
        agent = Agent(network, ObsNormalizer.for_spaces(spaces, cfg.algo.normalize_obs,
                                                        cfg.algo.obs_clip),
                      spaces, device, backend.sampler, cfg.eval.deterministic_action)
        reward_scaler = RewardScaler(cfg.num_envs, cfg.algo.gamma, cfg.algo.scale_reward,
                                     cfg.algo.reward_clip)
        state = TrainState()
        checkpointer = Checkpointer(run_dir / "checkpoints", state, agent, optimizer,
                                    reward_scaler, weights, config_dict)
        if resume is not None:
            checkpointer.restore(resume)
        buffer = RolloutBuffer(cfg.algo.n_steps, cfg.num_envs, spaces.obs_shape,
                               spaces.action_shape, spaces.discrete,
                               device, obs_dtype=spaces.obs_dtype)
        collector = Collector(envs, agent, buffer, reward_scaler,
                              train_env_seed(cfg.seed, state.global_step),
                              game_scores=cfg.env.atari)
        # On resume, purge_step hides what a killed session logged after last.pt was
        # written; events at last.pt's own step were logged before it and stay.
        tb = TensorBoardLogger(run_dir, purge_step=state.global_step + 1 if resume else None)
    except BaseException:
        envs.close()
        raise

    target = target_return(cfg.env)

    def save_best() -> None:
        if cfg.checkpoint.save_best:
            checkpointer.save("best.pt")

    return Trainer(
        cfg=cfg, run_dir=run_dir, agent=agent, envs=envs, buffer=buffer,
        collector=collector, learner=A2C(backend, optimizer, cfg.algo), weights=weights,
        state=state, checkpointer=checkpointer,
        evaluator=Evaluator(agent, weights,
                            lambda: make_vector_env(cfg.env, cfg.eval.num_envs, "sync"),
                            cfg.eval, eval_env_seed(cfg.seed), target, state, save_best),
        logger=RunLogger(tb, console, config_dict, str(run_dir), trial),
        videos=VideoRecorder(agent, cfg.env, cfg.video, cfg.eval.deterministic, run_dir, tb)
        if cfg.video.enabled else None,
        target=target, stop_requested=stop_requested)
