"""The docs' generated pages: the option reference covers every schema key with its doc
comment and allowed values, and the committed pages are what the generator writes now."""

from __future__ import annotations

import importlib.util
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from a2c_cli.config import CHOICES, Config
from a2c_cli.errors import ConfigError
from a2c_cli.validation import validate

from .conftest import compose_config, to_config

ROOT = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("docs_reference",
                                                  ROOT / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def schema_keys() -> list[str]:
    keys = []
    for f in fields(Config):
        value = getattr(Config(), f.name)
        if is_dataclass(value):
            keys += [f"{f.name}.{g.name}" for g in fields(value)]
        else:
            keys.append(f.name)
    return keys


def test_committed_reference_pages_are_up_to_date():
    """Edit a2c_cli/config.py or conf/ and forget the pages: this fails until
    `python docs/hooks/reference.py` (or `make docs`) rewrites them."""
    for path, text in load_generator().pages().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run " \
                                         "python docs/hooks/reference.py"


def test_option_reference_lists_every_schema_key_with_its_choices():
    page = load_generator().options_page()
    rows = {line.split("|")[1].strip().strip("`"): line for line in page.splitlines()
            if line.startswith("| `")}
    assert set(rows) == set(schema_keys())
    for key, choices in CHOICES.items():
        assert all(f"`{c}`" in rows[key].split("|")[5] for c in choices), key
    assert "`3000000` | `1000000`" in rows["total_timesteps"]  # base config vs schema


def test_a_field_without_a_doc_comment_fails_the_build(tmp_path, monkeypatch):
    gen = load_generator()
    source = (ROOT / "a2c_cli" / "config.py").read_text()
    doc = "    #: Discount factor of future rewards.\n"
    assert doc in source
    broken = tmp_path / "config.py"
    broken.write_text(source.replace(doc, ""))
    monkeypatch.setattr(gen, "CONFIG_PY", broken)
    with pytest.raises(gen.UndocumentedField, match="AlgoConfig.gamma"):
        gen.options_page()


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_every_choice_key_is_validated_against_its_list(key):
    """What the reference calls allowed is what validation enforces."""
    config = to_config(compose_config([]))
    section, _, name = key.rpartition(".")
    setattr(getattr(config, section) if section else config, name, "bogus")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + "='bogus' is invalid"):
        validate(config)


def test_preset_reference_shows_every_preset_and_its_values():
    page = load_generator().presets_page()
    for group in ("env", "network", "sweep"):
        for path in (ROOT / "conf" / group).glob("*.yaml"):
            assert f"### `{group}={path.stem}`" in page
    assert "| `algo.gamma` | `0.995` |" in page.split("### `env=hopper`")[1].split("###")[0]


@pytest.mark.parametrize("group", ["env", "network"])
def test_every_key_a_preset_composes_is_in_the_option_reference(group):
    """`a2c-train --cfg job` of the default run and of every preset of the groups: each
    key is a row of the reference, or lies inside a mapping the reference documents as
    one (env.kwargs: gym.make's keyword arguments)."""
    from omegaconf import OmegaConf

    from a2c_cli.config import flatten_dict

    page = load_generator().options_page()
    rows = {line.split("|")[1].strip().strip("`") for line in page.splitlines()
            if line.startswith("| `")}
    for path in sorted((ROOT / "conf" / group).glob("*.yaml")):
        composed = flatten_dict(OmegaConf.to_container(
            compose_config([f"{group}={path.stem}"])))
        for key in composed:
            assert key in rows or key.startswith("env.kwargs."), (path.stem, key)
