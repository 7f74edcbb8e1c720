"""Structured config schema: the types and defaults behind every YAML file in ``conf/``.

Hydra merges the YAML files onto these dataclasses, so an unknown key or a value of the
wrong type fails at compose time. Value ranges and choices are checked by
:mod:`a2c_cli.validation` before any environment or file is touched.

This module must stay light (no torch, no gymnasium): ``a2c-train --help`` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from omegaconf import MISSING

# The allowed values of every choice key, in one place: validation, the network builder and
# the backend factory read them from here (tests check that each has an implementation).
ACTIVATIONS = ("silu", "relu", "tanh", "elu", "gelu")
OPTIMIZERS = ("adam", "rmsprop", "rmsprop_tf")
#: Schedules of the learning rate and the entropy bonus; ``linear`` decays to 0 at the end.
SCHEDULES = ("constant", "linear")
DEVICES = ("auto", "cpu", "cuda")
VEC_ENVS = ("sync", "async")
ENV_BACKENDS = ("gymnasium", "envpool")
#: How acting and the update are computed (see a2c_cli.training.backends).
BACKENDS = ("auto", "torch", "compiled", "numpy", "graph")
#: Image encoders in front of the MLP trunk (none: the trunk reads vector observations).
ENCODERS = ("none", "nature_cnn", "minatar_cnn")
#: The activations the NumPy backend has hand-written gradients for.
NUMPY_ACTIVATIONS = ("tanh", "relu", "silu", "elu")
PROGRESS = ("auto", "bar", "plain", "none")
#: Deterministic continuous actions: the Gaussian's mean clipped to the bounds (SB3's), or
#: the mean of the clipped action the env receives when the policy samples.
DETERMINISTIC_ACTIONS = ("clipped_mean", "mean_of_clipped")
#: The most envs in one set (training or evaluation): keeps their seed ranges disjoint.
MAX_ENVS = 1_000_000
#: Every key whose value is one of a list: what validation checks and the option reference
#: (docs/reference/options.md) shows.
CHOICES: Dict[str, Tuple[str, ...]] = {
    "env.backend": ENV_BACKENDS, "network.encoder": ENCODERS,
    "network.activation": ACTIVATIONS, "algo.lr_schedule": SCHEDULES,
    "algo.optimizer": OPTIMIZERS, "algo.ent_schedule": SCHEDULES,
    "eval.deterministic_action": DETERMINISTIC_ACTIONS, "device": DEVICES,
    "vec_env": VEC_ENVS, "backend": BACKENDS, "progress": PROGRESS,
}


@dataclass
class EnvConfig:
    """Which gymnasium environment to train on."""

    #: The gymnasium id (``CartPole-v1``, ``ALE/Pong-v5``), or ``module:EnvId`` to import
    #: the module that registers it first (a user's ``my_envs.py`` in the working directory).
    id: str = MISSING
    #: Keyword arguments passed to ``gymnasium.make`` (e.g. LunarLander's wind options).
    kwargs: Dict[str, Any] = field(default_factory=dict)
    #: Return that counts as "solved"; null = the env's gymnasium ``reward_threshold``.
    target_return: Optional[float] = None
    #: Override the env's registered time limit; null = keep it.
    max_episode_steps: Optional[int] = None
    #: gymnasium (Python envs, any id) or envpool (C++ envs in a thread pool; the envpool
    #: extra).
    backend: str = "gymnasium"
    #: The Atari protocol of published A2C results (gymnasium + ale-py ids such as
    #: ALE/Pong-v5): no-op resets, frame skip 4 with max-pooling, 84x84 grayscale, 4 stacked
    #: frames; for training only, a lost life ends the learner's episode and rewards are
    #: clipped to [-1, 1]. Episode statistics and evaluations are raw scores of full games.
    atari: bool = False
    #: Wrappers applied to every sub-environment (training, evaluation, videos, a2c-eval),
    #: in order, after ``kwargs`` and ``max_episode_steps``: ``_target_`` entries, e.g.
    #: ``[{_target_: gymnasium.wrappers.TimeAwareObservation}]`` (the env is passed first,
    #: the other keys as keyword arguments).
    wrappers: List[Any] = field(default_factory=list)
    #: Run gymnasium's env checker on one env at start and report what it finds.
    check: bool = False
    #: The info key where the env reports its legal actions as a 0/1 mask at every reset
    #: and step (gymnasium's Taxi: ``action_mask``); null = no masking. Masked actions are
    #: never sampled nor chosen (Discrete/MultiDiscrete actions, vector observations).
    action_mask_key: Optional[str] = None


@dataclass
class NetworkConfig:
    """Actor-critic MLP: a shared trunk, then separate actor and critic heads.

    ``shared: []`` gives fully separate actor and critic networks.
    """

    #: A convolutional torso for image observations, before ``shared``: nature_cnn for
    #: Atari's 84x84 frames, minatar_cnn for small frames (MinAtar's 10x10).
    encoder: str = "none"
    #: Layer sizes of the trunk the actor and the critic share, after the encoder if any
    #: (``[]``: none, two separate networks).
    shared: List[int] = field(default_factory=lambda: [64, 64])
    #: Layer sizes of the actor's own head above the trunk (``[]``: a linear head).
    actor: List[int] = field(default_factory=lambda: [32])
    #: Layer sizes of the critic's own head above the trunk (``[]``: a linear head).
    critic: List[int] = field(default_factory=lambda: [32])
    #: The nonlinearity after every hidden layer.
    activation: str = "silu"
    #: LayerNorm after every hidden layer (before the activation).
    layer_norm: bool = True
    #: Dropout probability after every hidden layer (0: off).
    dropout: float = 0.0
    #: Orthogonal initialisation with the gains of OpenAI Baselines and SB3 (sqrt 2 for
    #: hidden layers, 0.01 for the policy head, 1 for the value head).
    ortho_init: bool = True
    #: Initial log standard deviation of the Gaussian policy (continuous actions only).
    log_std_init: float = 0.0
    #: Floor on that log std (None: no floor): sampling, log-probabilities and entropy use
    #: exp(max(log_std, log_std_min)) (no gradient below it), so exploration cannot die
    #: out; must be finite and at most ``log_std_init``.
    log_std_min: Optional[float] = None
    #: Generalized state-dependent exploration (gSDE, Raffin et al. 2022; SB3's use_sde):
    #: the exploration noise is the actor's last hidden features times a random matrix
    #: drawn at the start of each rollout, so it varies smoothly with the state instead of
    #: jittering every step; ``log_std_init`` then initialises that matrix's log stds
    #: (rl-zoo uses -2). Continuous actions, on the eager torch backend (auto picks it).
    gsde: bool = False
    #: Score the action the env received (CAPG, Fujita & Maeda 2018): a sample beyond a
    #: bound gets the log-probability of all samples beyond it, log P(a >= high), instead of
    #: its Gaussian density; the policy gradient stays unbiased and has a smaller variance
    #: where the means push against the bounds. Continuous actions, every backend (the
    #: NumPy one derives its gradient by hand, tested against autograd), with gSDE too.
    clipped_log_prob: bool = False


@dataclass
class AlgoConfig:
    """A2C hyperparameters (names as in Stable-Baselines3)."""

    #: Steps each env takes per update: one update learns from num_envs x n_steps steps.
    n_steps: int = 5
    #: Discount factor of future rewards.
    gamma: float = 0.99
    #: GAE lambda; 1.0 gives the plain n-step return of the original A2C.
    gae_lambda: float = 1.0
    #: Learning rate (the start of the schedule).
    lr: float = 7e-4
    #: constant, or linear: decays to 0 at ``total_timesteps``.
    lr_schedule: str = "constant"
    #: adam; rmsprop (torch's, alpha 0.99: eps outside the square root, as SB3's A2C);
    #: rmsprop_tf (TensorFlow's: eps inside the root, square average starting at ones, as
    #: SB3's RMSpropTFLike that rl-zoo's Atari A2C uses; tested against it), in the torch,
    #: compiled, NumPy and graph backends.
    optimizer: str = "adam"
    #: The optimizer's epsilon.
    optimizer_eps: float = 1e-5
    #: rmsprop_tf only (SB3's RMSpropTFLike option): momentum of the step (the NumPy
    #: backend hands the step to torch's with it).
    rmsprop_momentum: float = 0.0
    #: rmsprop_tf only (SB3's RMSpropTFLike option): centre by the running mean of the
    #: gradients.
    rmsprop_centered: bool = False
    #: Weight of the value loss in the total loss.
    vf_coef: float = 0.5
    #: Weight of the entropy bonus (exploration); 0: none.
    ent_coef: float = 0.0
    #: The entropy bonus's schedule: ``linear`` explores early and lets the action noise
    #: shrink late.
    ent_schedule: str = "constant"
    #: Clip the global gradient norm to this before each step (the norm before clipping is
    #: logged).
    max_grad_norm: float = 0.5
    #: Standardise the advantages of each batch (mean 0, std 1); where the std is not
    #: finite it only centres them (counted in TensorBoard).
    normalize_advantage: bool = True
    #: Running mean/std observation normalisation (frozen during evaluation).
    normalize_obs: bool = False
    #: Normalised observations are clipped to [-obs_clip, obs_clip].
    obs_clip: float = 10.0
    #: Divide rewards by the running std of the discounted return (as SB3's VecNormalize).
    scale_reward: bool = False
    #: Scaled rewards are clipped to [-reward_clip, reward_clip].
    reward_clip: float = 10.0
    #: Evaluate, record and save an exponential moving average of the weights (Polyak
    #: averaging, decay min(ema_decay, (1+t)/(10+t)) after update t; 0 = off, e.g. 0.999);
    #: training always steps the online weights.
    ema_decay: float = 0.0


@dataclass
class EvalConfig:
    """Deterministic evaluation on separate environment instances."""

    #: Env steps between periodic evaluations (0: none; the final one still runs).
    every_steps: int = 100_000
    #: Episodes of each periodic evaluation.
    episodes: int = 10
    #: Episodes of the final evaluation, the run's score in metrics.json (0: none).
    final_episodes: int = 100
    #: Evaluation envs stepped side by side.
    num_envs: int = 8
    #: Act with the policy's most likely action (false: sample, as in training).
    deterministic: bool = True
    #: Continuous actions: clipped_mean (the Gaussian's mean clipped to the bounds, SB3's
    #: and rl-zoo's) or mean_of_clipped (E[clip(a)]: the mean of the action the env gets
    #: when the policy samples, in closed form, also with gSDE). They differ where the std
    #: is wide and means lie beyond the bounds; also an a2c-eval option.
    deterministic_action: str = "clipped_mean"


@dataclass
class CheckpointConfig:
    """``checkpoints/last.pt`` every ``every_steps`` (and on Ctrl-C/SIGTERM), ``best.pt``
    whenever a periodic evaluation beats the best so far, ``final.pt`` at the end."""

    #: Env steps between writes of last.pt (0: none; still written on an interrupt).
    every_steps: int = 100_000
    #: Keep best.pt, the weights of the best periodic evaluation so far.
    save_best: bool = True


@dataclass
class VideoConfig:
    """mp4 videos of deterministic evaluation episodes during training (needs the
    ``video`` extra), in ``<run_dir>/videos/`` and as GIFs in TensorBoard's Images tab."""

    #: Record videos during training (``video=true`` is short for this).
    enabled: bool = False
    #: Episodes recorded, evenly spaced over the run (the last at the end).
    count: int = 9
    #: Frames per second of the mp4 and GIF.
    fps: int = 30
    #: Also put each video in TensorBoard's Images tab (a GIF at half size).
    tensorboard: bool = True


@dataclass
class Config:
    """The whole run: what ``a2c-train`` composes from ``conf/``."""

    env: EnvConfig = field(default_factory=EnvConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    #: A run directory to continue from its ``checkpoints/last.pt`` (same config).
    resume: Optional[str] = None
    #: Seeds Python, NumPy, torch and every env: training env i gets seed + i, evaluation
    #: envs seed + 1000000 + i, the training envs of a session resumed at step s
    #: seed + 2000000 + s + i, so the sets never share a seed (at most 1,000,000 envs
    #: each, checked).
    seed: int = 0
    #: cpu and cuda are always honoured; auto takes the GPU only where it was measured
    #: faster than the CPU: a CNN, or num_envs >= 256 (validation.AUTO_CUDA_MIN_ENVS; see
    #: Speed); the run's log says what it chose and why.
    device: str = "auto"
    #: Training envs stepped side by side.
    num_envs: int = 8
    #: The budget: agent steps summed over the envs (Atari: 4 frames each), rounded down
    #: to whole rollouts.
    total_timesteps: int = 1_000_000
    #: sync: the envs step in this process; async: in worker processes (gymnasium), or
    #: two EnvPool halves, one stepping while the policy acts for the other.
    vec_env: str = "sync"
    #: How acting and the update are computed: numpy (a NumPy twin of the MLP's forward,
    #: backward and optimizer step; CPU, MLPs with silu/relu/tanh/elu and no dropout;
    #: gradients tested against autograd), torch (eager, any device and network),
    #: compiled (torch.compile), graph (GPU: acting and the update as CUDA graphs); auto =
    #: graph on a GPU, numpy on the CPU where the network allows it, else torch.
    backend: str = "auto"
    #: Threads for torch and NumPy's BLAS (1 is fastest for small networks and keeps
    #: side-by-side runs from spinning against each other); 0 = the libraries' defaults.
    torch_threads: int = 1
    #: auto = a bar on a terminal, plain log lines otherwise.
    progress: str = "auto"
    #: Seconds between plain progress lines (CI, Slurm, multirun).
    log_interval_s: float = 30.0
    #: Env steps between training-loss scalars in TensorBoard (averaged over the interval).
    log_every_steps: int = 2_000
    #: Write <run_dir>/learning_curve.png at the end of the run.
    plot: bool = True
    #: Show full Python tracebacks for errors (same as HYDRA_FULL_ERROR=1).
    debug: bool = False


def flatten_dict(data: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"algo": {"lr": 1e-3}}`` -> ``{"algo.lr": 1e-3}`` (empty mappings stay values)."""
    out: Dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten_dict(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def find_config_dir() -> Path:
    """The packaged ``a2c_cli/conf`` (installed wheel), else the checkout's ``conf/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"a2c-cli config directory not found next to {here}")


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore (``defaults: [base_config, ...]``)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=Config)
