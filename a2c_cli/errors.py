"""The exceptions that mean "bad input" (reported as one line, exit code 2)."""

from __future__ import annotations

from gymnasium.error import Error as GymError

from a2c_cli.checkpoint import CheckpointError
from a2c_cli.envs import UnsupportedEnvError
from a2c_cli.validation import ConfigError

USER_ERRORS = (ConfigError, UnsupportedEnvError, CheckpointError, GymError)
