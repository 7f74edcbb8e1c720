"""The layout keeps its promises: no import cycles, layers import downwards only,
a2c-eval does not load the training loop, and every choice has one source of truth."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from a2c_cli import config
from a2c_cli.config import Config, find_config_dir

PACKAGE = Path(config.__file__).resolve().parent

#: What each layer may import from a2c_cli (besides itself and the leaf modules).
LEAVES = {"a2c_cli", "a2c_cli.errors", "a2c_cli.config"}
ALLOWED = {
    "envs": set(),
    "agent": {"envs"},
    "outputs": {"agent", "envs"},
    "validation": {"envs", "outputs"},  # lazy checks: the env's spaces, video support
    "training": {"agent", "envs", "outputs", "validation"},
    "cli": {"agent", "envs", "outputs", "training", "validation"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """a2c_cli module -> the a2c_cli modules it imports (anywhere in the file)."""
    graph: dict[str, set[str]] = {}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("a2c_cli"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("a2c_cli")}
        graph[module_name(path)] = found
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles():
    graph = imports()
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, node, dep]))
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_layers_import_downwards_only():
    bad = []
    for module, deps in imports().items():
        own = layer(module)
        for dep in deps:
            if dep in LEAVES or layer(dep) == own:
                continue
            if layer(dep) not in ALLOWED.get(own, set()):
                bad.append(f"{module} imports {dep}")
    assert not bad, bad


def test_eval_cli_does_not_load_the_training_loop():
    graph = imports()
    seen, todo = set(), ["a2c_cli.cli.evaluate"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert not seen & {"a2c_cli.training.loop", "a2c_cli.training.build",
                       "a2c_cli.training.learner", "a2c_cli.cli.train"}, seen


def test_schema_defaults_equal_the_base_config_files():
    """conf/algo/a2c.yaml, conf/network/default.yaml and the root keys of config.yaml say
    exactly what the schema's defaults say, and name every key of their section."""
    schema = OmegaConf.to_container(OmegaConf.structured(Config))
    conf = find_config_dir()
    for section, path in (("algo", conf / "algo" / "a2c.yaml"),
                          ("network", conf / "network" / "default.yaml")):
        yaml = OmegaConf.to_container(OmegaConf.load(path))
        assert yaml == schema[section], path
    root = OmegaConf.to_container(OmegaConf.load(conf / "config.yaml"))
    for key, value in root.items():
        if key not in ("defaults", "hydra"):
            assert schema[key] == value, key


def test_every_choice_has_an_implementation():
    import torch

    from a2c_cli.agent.networks import ACTIVATION_MODULES
    from a2c_cli.agent.numpy_mlp import _Activation
    from a2c_cli.training.optim import make_optimizer
    from a2c_cli.training.rmsprop_tf import RMSpropTF

    assert set(ACTIVATION_MODULES) == set(config.ACTIVATIONS)
    assert set(config.NUMPY_ACTIVATIONS) <= set(config.ACTIVATIONS)
    x = torch.linspace(-3, 3, 13)
    for name in config.NUMPY_ACTIVATIONS:  # the NumPy twin computes the same function
        expected = ACTIVATION_MODULES[name]()(x).numpy()
        assert _Activation(name).forward(x.numpy()) == pytest.approx(expected, abs=1e-6), name
    p = torch.nn.Parameter(torch.zeros(3))
    kinds = {name: type(make_optimizer([p], config.AlgoConfig(optimizer=name)))
             for name in config.OPTIMIZERS}
    assert kinds == {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
                     "rmsprop_tf": RMSpropTF}
