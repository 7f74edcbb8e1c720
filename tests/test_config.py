"""Every config group option composes against the schema; bad values are rejected."""

from __future__ import annotations

import dataclasses

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from a2c_cli.config import Config, find_config_dir
from a2c_cli.errors import ConfigError
from a2c_cli.validation import validate

from .conftest import compose_config, to_config

CONF = find_config_dir()


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_groups_have_the_documented_options():
    assert {"lunar_discrete", "lunar_continuous", "cartpole", "acrobot", "pendulum",
            "mountain_car", "mountain_car_continuous", "lunar_wind"} <= set(options("env"))
    assert {"default", "wide", "separate"} <= set(options("network"))
    assert "a2c" in options("algo")


@pytest.mark.parametrize("group", ["env", "network", "algo"])
def test_every_group_option_composes_and_validates(group):
    for option in options(group):
        cfg = to_config(compose_config([f"{group}={option}"]))
        assert isinstance(cfg, Config)
        validate(cfg)


def test_defaults_are_the_seed_network_and_lunar_discrete():
    cfg = to_config(compose_config())
    assert cfg.env.id == "LunarLander-v3" and cfg.env.kwargs == {}
    assert (cfg.network.shared, cfg.network.actor, cfg.network.critic) == ([64, 64], [32], [32])
    assert cfg.network.activation == "silu" and cfg.network.layer_norm
    assert cfg.algo.vf_coef == 0.5 and cfg.algo.max_grad_norm == 0.5
    assert cfg.num_envs == 8 and cfg.device == "auto"


def test_env_files_carry_tuned_defaults_but_cli_overrides_win():
    cfg = to_config(compose_config(["env=lunar_continuous", "algo.lr=1e-4", "num_envs=4"]))
    assert cfg.env.kwargs["continuous"] is True
    assert cfg.algo.lr == 1e-4 and cfg.num_envs == 4


def test_wind_preset_has_the_seed_options():
    cfg = to_config(compose_config(["env=lunar_wind"]))
    assert cfg.env.kwargs == {"gravity": -10.0, "enable_wind": True,
                              "wind_power": 15.0, "turbulence_power": 1.5}


def test_any_gymnasium_id_through_env_id_and_kwargs():
    cfg = to_config(compose_config(["env.id=Acrobot-v1", "env.kwargs={}"]))
    assert cfg.env.id == "Acrobot-v1"


@pytest.mark.parametrize("override, error", [
    ("algo.lrr=1e-3", ConfigKeyError),       # typo in a key
    ("algo.lr=fast", ValidationError),        # wrong type
    ("num_envs=1.5", ValidationError),
    ("network.shared=[a]", ValidationError),
])
def test_schema_rejects_typos_and_types_at_compose_time(override, error):
    with pytest.raises((error, ConfigCompositionException)):
        compose_config([override])


def test_unknown_group_option_fails_at_compose_time():
    with pytest.raises(Exception, match="lunar_discrte"):
        compose_config(["env=lunar_discrte"])


@pytest.mark.parametrize("override, key", [
    ("num_envs=0", "num_envs"),
    ("algo.n_steps=0", "algo.n_steps"),
    ("algo.gamma=1.5", "algo.gamma"),
    ("algo.gamma=0", "algo.gamma"),
    ("algo.gae_lambda=-0.1", "algo.gae_lambda"),
    ("algo.lr=0", "algo.lr"),
    ("algo.lr_schedule=cosine", "algo.lr_schedule"),
    ("algo.ent_schedule=cosine", "algo.ent_schedule"),
    ("algo.optimizer=sgd", "algo.optimizer"),
    ("algo.max_grad_norm=0", "algo.max_grad_norm"),
    ("algo.ema_decay=1", "algo.ema_decay"),
    ("algo.ema_decay=-0.5", "algo.ema_decay"),
    ("total_timesteps=10", "total_timesteps"),
    ("network.activation=swish", "network.activation"),
    ("network.dropout=1.0", "network.dropout"),
    ("device=tpu", "device"),
    ("vec_env=threads", "vec_env"),
    ("eval.episodes=0", "eval.episodes"),
    ("eval.deterministic_action=mode", "eval.deterministic_action"),
])
def test_validation_names_the_key_and_what_is_allowed(override, key):
    cfg = to_config(compose_config([override]))
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert message.startswith(f"{key}=") and ("must" in message or "choose" in message)


def test_schema_fields_have_defaults_except_env_id():
    for f in dataclasses.fields(Config):
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def test_device_auto_picks_the_gpu_only_where_it_was_measured_faster(caplog):
    import logging

    from a2c_cli.validation import AUTO_CUDA_MIN_ENVS, auto_device, resolve_device

    assert auto_device(8, cuda_available=True)[0] == "cpu"
    assert auto_device(AUTO_CUDA_MIN_ENVS - 1, cuda_available=True)[0] == "cpu"
    assert auto_device(AUTO_CUDA_MIN_ENVS, cuda_available=True)[0] == "cuda"
    assert auto_device(4096, cuda_available=False) == ("cpu", "no CUDA GPU here")
    assert auto_device(16, cuda_available=True, cnn=True)[0] == "cuda"  # pixels: compute-bound
    assert auto_device(16, cuda_available=False, cnn=True)[0] == "cpu"
    with caplog.at_level(logging.INFO, logger="a2c_cli"):
        assert resolve_device("cpu", 4096).type == "cpu"  # an explicit device is honoured
        assert not caplog.records
        resolve_device("auto", 8)
    assert "device=auto: cpu (" in caplog.text  # the choice and its reason are logged


@pytest.mark.parametrize("suite", ["benchmark_classic", "benchmark_mujoco"])
def test_benchmark_suite_composes_every_task_with_a_reference(suite):
    """sweep=benchmark_classic and benchmark_mujoco: each task's preset composes and
    validates, is within rl-zoo's budget for it, and has the reference scores a2c-report
    normalises with."""
    from a2c_cli.cli.report_stats import load_references, task_name
    from a2c_cli.config import flatten_dict

    cfg = compose_config([f"sweep={suite}"], with_hydra=True)
    params = cfg.hydra.sweeper.params
    envs = params.env.split(",")
    assert params.seed == "range(5)" and cfg.hydra.launcher.n_jobs == 2
    assert "joblib" in cfg.hydra.launcher._target_.lower()
    assert cfg.hydra.sweep.dir == f"outputs/benchmark/{suite.removeprefix('benchmark_')}"
    refs = load_references()
    tasks = set()
    for env in envs:
        config = to_config(compose_config([f"sweep={suite}", f"env={env}"]))
        validate(config)
        flat = flatten_dict(OmegaConf.to_container(OmegaConf.structured(config)))
        task = task_name(flat)
        assert task in refs, task
        assert config.total_timesteps <= refs[task].rl_zoo_steps or task.startswith(
            "LunarLander"), (task, config.total_timesteps)  # LunarLander: held to solving
        tasks.add(task)
    assert len(tasks) == len(envs)


def test_spaces_suite_composes_and_its_envs_are_what_the_presets_say():
    """sweep=benchmark_spaces: FrozenLake's one-hot states, MiniGrid's packed Dict, Taxi's
    one-hot states with its action mask."""
    from a2c_cli.envs.factory import probe_spaces
    from a2c_cli.validation import check_environment

    cfg = compose_config(["sweep=benchmark_spaces"], with_hydra=True)
    assert cfg.hydra.sweep.dir == "outputs/benchmark/spaces"
    assert cfg.hydra.sweeper.params.env.split(",") == ["minigrid_doorkey", "frozen_lake", "taxi"]
    for env, layout, mask in (("minigrid_doorkey", True, 0), ("frozen_lake", False, 0),
                              ("taxi", False, 6)):
        config = to_config(compose_config(["sweep=benchmark_spaces", f"env={env}"]))
        validate(config)
        check_environment(config)
        spaces = probe_spaces(config.env)
        assert (spaces.layout is not None) == layout and spaces.action_mask_dim == mask


def test_minatar_suite_is_five_games_under_one_protocol_and_one_set_of_settings():
    """sweep=benchmark_minatar: the MinAtar paper's protocol (v0: all 6 actions, sticky
    actions 0.1, 5M frames = 5M agent steps) and env=minatar_breakout's settings for all."""
    pytest.importorskip("minatar")
    import gymnasium as gym

    from a2c_cli.envs.factory import register_namespace

    cfg = compose_config(["sweep=benchmark_minatar"], with_hydra=True)
    assert cfg.hydra.sweep.dir == "outputs/benchmark/minatar"
    assert cfg.hydra.sweeper.params.seed == "range(5)" and cfg.hydra.launcher.n_jobs == 2
    presets = cfg.hydra.sweeper.params.env.split(",")
    shared = OmegaConf.to_container(compose_config(["env=minatar_breakout"]))
    games = set()
    for preset in presets:
        config = OmegaConf.to_container(compose_config([f"env={preset}"]))
        validate(to_config(compose_config([f"env={preset}"])))
        env_id = config["env"].pop("id")
        assert env_id.startswith("MinAtar/") and env_id.endswith("-v0"), env_id
        assert {**config, "env": None} == {**shared, "env": None}
        assert config["env"] == {k: v for k, v in shared["env"].items() if k != "id"}
        assert config["total_timesteps"] == 5_000_000
        register_namespace(env_id)
        env = gym.make(env_id)
        assert env.unwrapped.game.sticky_action_prob == 0.1 and env.action_space.n == 6
        env.close()
        games.add(env_id)
    assert games == {f"MinAtar/{g}-v0" for g in ("Asterix", "Breakout", "Freeway", "Seaquest",
                                                  "SpaceInvaders")}


@pytest.mark.parametrize("overrides, says", [
    (["env=cartpole", "network.log_std_min=-1.0"], "has discrete actions"),
    (["env=pendulum", "network.log_std_min=nan"], "give a finite number"),
    (["env=pendulum", "network.log_std_min=0.0"], "above network.log_std_init=-1.0"),
])
def test_log_std_floor_is_checked(overrides, says):
    from a2c_cli.validation import check_environment

    config = to_config(compose_config(overrides))
    with pytest.raises(ConfigError) as info:
        validate(config)
        check_environment(config)
    message = str(info.value)
    assert message.startswith("network.log_std_min=") and says in message, message


def test_log_std_floor_accepted_and_built():
    from a2c_cli.agent.distributions import DiagGaussian
    from a2c_cli.agent.networks import ActorCritic
    from a2c_cli.envs.factory import probe_spaces
    from a2c_cli.validation import check_environment

    config = to_config(compose_config(["env=pendulum", "network.log_std_min=-1.5"]))
    validate(config)
    check_environment(config)
    net = ActorCritic(probe_spaces(config.env), config.network)
    assert isinstance(net.dist, DiagGaussian) and net.dist.log_std_min == -1.5


def test_clipped_log_prob_is_for_continuous_actions():
    from a2c_cli.agent.networks import ActorCritic
    from a2c_cli.envs.factory import probe_spaces
    from a2c_cli.validation import check_environment

    config = to_config(compose_config(["env=cartpole", "network.clipped_log_prob=true"]))
    validate(config)
    with pytest.raises(ConfigError, match="network.clipped_log_prob=True is invalid: "
                                          "CartPole-v1 has discrete actions"):
        check_environment(config)
    config = to_config(compose_config(["env=pendulum", "network.clipped_log_prob=true"]))
    check_environment(config)
    net = ActorCritic(probe_spaces(config.env), config.network)
    assert [b.tolist() for b in net.dist.bounds] == [[-2.0], [2.0]]


#: rl-zoo's Atari A2C (hyperparams/a2c.yml "atari": SB3's A2C defaults, 16 envs, vf_coef
#: 0.25, ent_coef 0.01, RMSpropTFLike with eps 1e-5, 1e7 agent steps).
RL_ZOO_ATARI_A2C = {
    "num_envs": 16, "total_timesteps": 10_000_000, "algo.n_steps": 5, "algo.gamma": 0.99,
    "algo.gae_lambda": 1.0, "algo.lr": 7e-4, "algo.lr_schedule": "constant",
    "algo.optimizer": "rmsprop_tf", "algo.optimizer_eps": 1e-5, "algo.rmsprop_momentum": 0.0,
    "algo.rmsprop_centered": False, "algo.ent_coef": 0.01, "algo.ent_schedule": "constant",
    "algo.vf_coef": 0.25, "algo.max_grad_norm": 0.5, "algo.normalize_advantage": False,
    "algo.normalize_obs": False, "algo.scale_reward": False, "env.atari": True,
    "network.encoder": "nature_cnn",
}


@pytest.mark.parametrize("preset", ["pong", "breakout", "space_invaders", "qbert", "seaquest",
                                    "beam_rider"])
def test_atari_presets_are_rl_zoos_a2c_setting_for_setting(preset):
    from a2c_cli.cli.report_stats import load_references
    from a2c_cli.config import flatten_dict

    config = to_config(compose_config([f"env={preset}"]))
    validate(config)
    flat = flatten_dict(OmegaConf.to_container(OmegaConf.structured(config)))
    assert {k: flat[k] for k in RL_ZOO_ATARI_A2C} == RL_ZOO_ATARI_A2C
    ref = load_references()[config.env.id]
    assert ref.rl_zoo_steps == config.total_timesteps  # compared at rl-zoo's own budget
