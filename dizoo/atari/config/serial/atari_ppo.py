"""The Atari PPO config every game shares: Nature CNN actor-critic on 4x84x84 grey stacks, DeepMind preprocessing,
clipped rewards. A game's config file (e.g. pong/pong_ppo_config.py) names the game and calls :func:`atari_ppo_config`.

The hyperparameters of the PPO paper's Atari runs (Schulman et al. 2017, table 5): rollouts of 128 steps of 8 envs,
4 epochs of 4 minibatches, clip 0.1, entropy 0.01, Adam 2.5e-4. Runs on ale-py's native vector env (env_manager
'atari': C++ threads, no Python worker processes); the GPU trains when there is one.
"""

from easydict import EasyDict


def atari_ppo_config(game: str, action_shape: int, stop_value: float) -> tuple[EasyDict, EasyDict]:
    """Build DI-engine's two config dicts for PPO on one Atari game (a new pair on every call).

    :param game: the game as in its env id, e.g. "SpaceInvaders" for "SpaceInvadersNoFrameskip-v4".
    :param action_shape: size of the game's minimal action set (Pong 6, Breakout 4).
    :param stop_value: stop when the evaluation's mean episode return (raw game score) reaches this.
    :return: (main_config, create_config); ``exp_name`` is "<game in lower case>_ppo_seed0".
    """
    main_config = dict(
        exp_name=f"{game.lower()}_ppo_seed0",
        env=dict(
            collector_env_num=8,
            evaluator_env_num=8,
            n_evaluator_episode=8,
            stop_value=stop_value,
            env_id=f"{game}NoFrameskip-v4",
            frame_stack=4,
        ),
        policy=dict(
            cuda=True,  # falls back to the CPU (with a warning) when there is no GPU
            action_space="discrete",
            recompute_adv=True,
            model=dict(
                obs_shape=[4, 84, 84],
                action_shape=action_shape,
                action_space="discrete",
                encoder_hidden_size_list=[32, 64, 64, 512],  # the Nature CNN
                actor_head_hidden_size=512,
                actor_head_layer_num=0,
                critic_head_hidden_size=512,
                critic_head_layer_num=0,
            ),
            learn=dict(
                epoch_per_collect=4,
                batch_size=256,
                learning_rate=0.00025,
                value_weight=0.5,
                entropy_weight=0.01,
                clip_ratio=0.1,
                adv_norm=True,
                value_norm=False,  # rewards are clipped to [-1, 1]: returns stay small
                grad_clip_type="clip_norm",
                grad_clip_value=0.5,
            ),
            collect=dict(
                n_sample=1024,  # 128 steps of each of the 8 envs
                unroll_len=1,
                discount_factor=0.99,
                gae_lambda=0.95,
            ),
            eval=dict(evaluator=dict(eval_freq=5000)),
        ),
    )
    create_config = dict(
        env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
        env_manager=dict(type="atari"),
        policy=dict(type="ppo"),
    )
    return EasyDict(main_config), EasyDict(create_config)
