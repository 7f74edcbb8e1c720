"""a2c-cli: a config-driven Advantage Actor-Critic experiment CLI."""

__version__ = "0.1.0"
