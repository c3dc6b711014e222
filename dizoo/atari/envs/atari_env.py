"""Atari for ding, the per-env gymnasium path: an ale-py env with DeepMind's preprocessing as gymnasium wrappers.

Runs under the ``base`` and ``subprocess`` managers. The native manager (``env.manager.type='atari'``, ale-py's C++
vector env on threads, several times faster) reads the same keys and, for the same seeds and actions, gives the same
observations, rewards and episode ends; see ``ding/envs/env_manager/atari_env_manager.py`` for the conventions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
from easydict import EasyDict

from ding.config.rules import at_least, between
from ding.envs.env_manager.atari_env_manager import AtariSettings, ale_game, atari_settings, check_ale_roms
from ding.utils.registry import ENV_REGISTRY
from dizoo.atari.envs.wrappers import wrap_deepmind


@ENV_REGISTRY.register("atari")
class AtariEnv(gymnasium.Wrapper):
    """An Atari game as DeepMind's DQN played it: obs ``(frame_stack, 84, 84)`` uint8 (grey frames, oldest first,
    zero-padded at an episode's start), actions ``Discrete(n)`` (the game's minimal action set), 4 frames per step.

    The env config's ``is_train`` (set by the managers' ``build``; default True) picks the side: training envs end an
    episode at each life loss and clip rewards (as ``episode_life`` and ``clip_rewards`` say); evaluation envs play
    the real game with raw rewards. At every episode end ``info['episode_return']`` (and ``info['episode_length']``)
    hold the whole game's raw return (and agent steps), or NaN (and 0) at a life-loss end, where the game goes on.
    """

    config = dict(
        env_id="PongNoFrameskip-v4",  # game: DI-engine's '<Game>NoFrameskip-v4' or gymnasium's 'ALE/<Game>-v5'
        frame_stack=4,  # frames per observation, stacked channel-first: obs (frame_stack, 84, 84) uint8
        episode_life=True,  # training envs only: a life loss ends the training episode (terminated); the game goes on
        clip_rewards=True,  # training envs only: rewards clipped to their sign; reported returns stay raw
        noop_max=30,  # a reset plays uniform{0..noop_max-1} no-op frames (the reset's FIRE counted among them)
        fire_reset=True,  # press FIRE for one frame at a game's reset, in games that have FIRE (Breakout's serve)
        repeat_action_probability=0.0,  # sticky actions: chance that a frame repeats the previous action (v5: 0.25)
        max_episode_frames=108_000,  # emulator frames of play before the episode is truncated (108,000: 30 min)
        # a life lost while the episode goes on (the evaluator's whole games) restarts the frame stack, [0, .., 0,
        # frame], as the training envs' episodic life does: Dopamine's agent begins a new episode at each life loss
        # in evaluation too (its Atari 100k protocol); False: the stack runs on (DeepMind's and DI-engine's)
        stack_reset_on_life_loss=False,  # True: a life lost while the episode goes on restarts the frame stack
    )
    config_rules = {
        "frame_stack": at_least(1),
        "repeat_action_probability": between(0, 1),
        "max_episode_frames": at_least(1),
    }

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """What compile_config checks before anything is built, for every env manager and on every rank: ``env_id``
        names a game ale-py has, ale-py imports, and its ROM is where ale-py will look (``ALE_ROMS_DIR``).

        :raises ConfigError: any of these fails (one line, with the fix)."""
        game, _ = ale_game(cfg["env_id"])
        check_ale_roms(game)

    @staticmethod
    def create_collector_env_cfg(cfg: Mapping[str, Any]) -> list[EasyDict]:
        """DI-engine's ``AtariEnv.create_collector_env_cfg(cfg.env)``: ``env.collector_env_num`` copies of the env
        config with ``is_train=True`` (episodic life, clipped rewards as configured); ``cfg`` is left as it is."""
        return [EasyDict(copy.deepcopy({**cfg, "is_train": True})) for _ in range(cfg["collector_env_num"])]

    @staticmethod
    def create_evaluator_env_cfg(cfg: Mapping[str, Any]) -> list[EasyDict]:
        """DI-engine's ``AtariEnv.create_evaluator_env_cfg(cfg.env)``: ``env.evaluator_env_num`` copies of the env
        config with ``is_train=False`` (the real game, raw rewards); ``cfg`` is left as it is."""
        return [EasyDict(copy.deepcopy({**cfg, "is_train": False})) for _ in range(cfg["evaluator_env_num"])]

    def __init__(self, cfg: Mapping[str, Any] | None = None) -> None:
        cfg = EasyDict({**copy.deepcopy(self.config), **dict(cfg or {})})
        self.settings: AtariSettings = atari_settings(cfg, is_train=cfg.get("is_train", True))
        s = self.settings
        import ale_py  # ~0.2 s: imported when an env is built

        gymnasium.register_envs(ale_py)
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner per env (the vector env prints none)
        env = gymnasium.make(
            f"ALE/{s.game_name}-v5",
            obs_type="grayscale",
            frameskip=1,
            repeat_action_probability=s.repeat_action_probability,
            full_action_space=False,
            max_num_frames_per_episode=None,  # the frame cap is MaxAndSkipWrapper's, counted from the end of reset
            disable_env_checker=True,
            render_mode=cfg.get("render_mode"),  # 'rgb_array' for evaluation videos: the full-colour screen
        )
        super().__init__(
            wrap_deepmind(
                env,
                frame_stack=s.frame_stack,
                episode_life=s.episode_life,
                clip_rewards=s.clip_rewards,
                noop_max=s.noop_max,
                fire_reset=s.fire_reset,
                max_episode_frames=s.max_episode_frames,
                stack_reset_on_life_loss=s.stack_reset_on_life_loss,
            )
        )
        # one agent step is 4 emulator frames at 60 Hz: videos play at 15 agent steps per second, in real time
        self.metadata = {**self.env.metadata, "render_fps": 15}
