"""The Atari configs of the DQN family and PPO (a folder per game). DI-engine's package exports the config dicts its
scripts import from here (``from dizoo.atari.config.serial import pong_dqn_envpool_config``)."""

from dizoo.atari.config.serial.pong.pong_dqn_envpool_config import (
    pong_dqn_envpool_config,
    pong_dqn_envpool_create_config,
)

__all__ = ["pong_dqn_envpool_config", "pong_dqn_envpool_create_config"]
