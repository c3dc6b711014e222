"""eval: run the config's evaluator episodes with a trained checkpoint."""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

from ding.config import ConfigError, compile_config
from ding.entry.arguments import check_entry_arguments, check_output_folder, check_path_argument
from ding.entry.run import (
    ConfigInput,
    build_env_managers,
    build_evaluator,
    check_env_setting,
    checkpoint_mismatch,
    load_input_config,
)
from ding.envs.normalize import EnvNormalizer
from ding.utils.checkpoint import load_checkpoint
from ding.utils.registry import POLICY_REGISTRY
from ding.utils.seed import set_global_seed


def eval(  # noqa: A001 (DI-engine's name for this entry)
    input_cfg: ConfigInput,
    seed: int = 0,
    env_setting: Any = None,
    model: Optional[torch.nn.Module] = None,
    state_dict: Optional[dict] = None,
    load_path: Optional[str] = None,
    replay_path: Optional[str] = None,
) -> float:
    """Evaluate a checkpoint on ``env.n_evaluator_episode`` greedy episodes; prints and returns the mean return.
    The arguments are DI-engine's, in its order.

    :param input_cfg: ``(main_config, create_config)`` or a config file path (a run's total_config.py works too).
    :param seed: base seed of the evaluator envs (the same derivation as in training), an int >= 0.
    :param env_setting: DI-engine's [env_fn, collector_env_cfgs, evaluator_env_cfgs]: the evaluator's envs built by
        env_fn(cfg=c) for each evaluator config, instead of the config's env type; None: from the config.
    :param model: a model instance to load the checkpoint into, instead of one built from ``policy.model``.
    :param state_dict: a checkpoint already in memory (``{'model': ...}``, as ``torch.load`` of a checkpoint file
        gives), instead of a file.
    :param load_path: checkpoint file; defaults to ``policy.load_path`` of the config.
    :param replay_path: write one MP4 per episode there (overrides ``env.replay_path``).
    :return: the mean episode return.
    """
    from ding.utils.log_helper import Logger

    seed, _, _ = check_entry_arguments("eval", seed, model, env_setting)
    load_path = check_path_argument(load_path, "load_path", "eval")
    replay_path = check_path_argument(replay_path, "replay_path", "eval")
    main_cfg, create_cfg = load_input_config(input_cfg)
    cfg = compile_config(main_cfg, seed=seed, create_cfg=create_cfg, save_cfg=False)
    if replay_path:
        cfg.env.replay_path = replay_path
    if cfg.env.replay_path:
        check_output_folder(cfg.env.replay_path, "replay_path" if replay_path else "env.replay_path")
    if env_setting is not None:
        check_env_setting(env_setting, cfg)
    if state_dict is not None:
        if load_path:
            raise ConfigError("eval: give a checkpoint as state_dict or as load_path, not both")
        if not isinstance(state_dict, dict) or "model" not in state_dict:
            raise ConfigError(
                "eval(state_dict=...) takes a checkpoint's dict ({'model': the model's state dict, ...}, as torch.load "
                f"of a checkpoint file gives), got {type(state_dict).__name__}"
                + (f" with keys {sorted(state_dict)[:5]}" if isinstance(state_dict, dict) else "")
            )
        state, path = state_dict, "state_dict"
    else:
        path = load_path or cfg.policy.load_path
        if not path:
            raise ConfigError(
                "no checkpoint to evaluate: pass --load-path PATH (or set policy.load_path in the config)"
            )
        if not load_path and not os.path.isfile(path):
            raise ConfigError(
                f"the config's policy.load_path '{path}' does not exist (working directory: {os.getcwd()}): train "
                f"first, or pass --load-path PATH"
            )
        state = load_checkpoint(path)
    set_global_seed(seed)
    _, _, evaluator_env, eval_seeds = build_env_managers(cfg, seed, collector=False, env_setting=env_setting)
    logger = Logger(None, enabled=True, tensorboard=False)
    try:
        policy = POLICY_REGISTRY.build(cfg.policy.type, cfg.policy, model=model, enable_field=["eval"])
        try:
            policy.eval_mode.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError) as err:
            detail = checkpoint_mismatch(state, cfg.policy, err, own_model=model is not None)
            raise ConfigError(f"checkpoint '{path}' does not fit the config's model: {detail}") from None
        evaluator = build_evaluator(
            cfg, evaluator_env, policy, logger, eval_seeds, _normalizer(cfg, evaluator_env, state, path)
        )
        returns = evaluator.run_episodes(int(state.get("envstep", 0)), int(state.get("last_iter", 0)))
    finally:
        evaluator_env.close()
        logger.close()
    mean = float(returns.mean())
    print(f"episodes={len(returns)} returns={[round(r, 2) for r in returns.tolist()]}")
    if cfg.env.replay_path:
        print(f"videos: {cfg.env.replay_path} (one MP4 per episode; episodes.json lists them)")
    print(f"eval_episode_return_mean: {mean}")
    return mean


def _normalizer(cfg, env, state: dict, path: str) -> Optional[EnvNormalizer]:
    """The training run's observation statistics (``env.norm_obs``), frozen, from the checkpoint; None without."""
    normalizer = EnvNormalizer.from_config(cfg.env, env.observation_space, env.env_num, discount=0.99)
    if normalizer is not None:
        try:
            normalizer.load_state_dict(state.get("env_norm"))
        except ValueError as err:
            raise ConfigError(f"checkpoint '{path}': {err}") from None
    return normalizer
