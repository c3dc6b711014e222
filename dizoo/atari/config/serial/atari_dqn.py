"""The Atari config every game shares for the DQN family (DQN, C51, QR-DQN, IQN, Rainbow): double Q-learning, 3-step
returns, Nature CNN on 4x84x84 grey stacks, DeepMind preprocessing. A game's config file (e.g.
pong/pong_dqn_config.py, pong/pong_rainbow_config.py) names the game and the policy type and calls
:func:`atari_dqn_config`.

Runs on ale-py's native vector env (env_manager 'atari': C++ threads, no Python worker processes) and a
frame-sharing replay buffer (one uint8 frame per transition, about 8 KB each).

Memory: the 1M-transition replay buffer takes about 7.6 GB of RAM (sized for a GPU machine). On a laptop, shrink it,
e.g. policy.other.replay_buffer.replay_buffer_size=100000 (about 0.8 GB).
"""

from easydict import EasyDict

# what each policy type sets on top of the shared settings (DI-engine's keys)
POLICY_KEYS = {
    "dqn": dict(),
    "c51": dict(model=dict(v_min=-10, v_max=10, n_atom=51)),
    "qrdqn": dict(model=dict(num_quantiles=64), learn=dict(kappa=1.0)),
    # IQN's paper draws N = N' = 64 fractions in learning and K = 32 to act; DI-engine draws 32 for each
    "iqn": dict(model=dict(num_quantiles=32, quantile_embedding_size=64), learn=dict(kappa=1.0)),
    # Rainbow explores by its noisy layers alone (epsilon 0), learns from prioritised replay with IS weights
    "rainbow": dict(
        model=dict(v_min=-10, v_max=10, n_atom=51, dueling=True, noise=True),
        priority=True,
        priority_IS_weight=True,
        other=dict(eps=dict(type="exp", start=0.0, end=0.0, decay=1)),
    ),
}


def atari_dqn_config(
    game: str, action_shape: int, stop_value: float, policy_type: str = "dqn"
) -> tuple[EasyDict, EasyDict]:
    """Build DI-engine's two config dicts for a DQN-family policy on one Atari game (a new pair on every call).

    :param game: the game as in its env id, e.g. "SpaceInvaders" for "SpaceInvadersNoFrameskip-v4".
    :param action_shape: size of the game's minimal action set (Pong 6, Breakout 4).
    :param stop_value: stop when the evaluation's mean episode return (raw game score) reaches this.
    :param policy_type: 'dqn', 'c51', 'qrdqn', 'iqn' or 'rainbow' (:data:`POLICY_KEYS` holds what each adds).
    :return: (main_config, create_config); ``exp_name`` is "<game in lower case>_<policy_type>_seed0".
    """
    main_config = dict(
        exp_name=f"{game.lower()}_{policy_type}_seed0",
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
            priority=False,
            model=dict(
                obs_shape=[4, 84, 84],
                action_shape=action_shape,
                encoder_hidden_size_list=[32, 64, 64, 512],  # the Nature CNN
            ),
            nstep=3,
            discount_factor=0.99,
            learn=dict(
                update_per_collect=10,
                batch_size=32,
                learning_rate=0.0001,
                target_update_freq=500,
            ),
            collect=dict(n_sample=100),
            eval=dict(evaluator=dict(eval_freq=4000)),
            other=dict(
                eps=dict(type="exp", start=1.0, end=0.05, decay=1000000),
                replay_buffer=dict(replay_buffer_size=1000000),
            ),
        ),
    )
    create_config = dict(
        env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
        # ale-py's vector env; the collector steps 4 envs while the policy acts on the other 4 (batch_size 0: in turn).
        # batch_size is a key of this manager only, so it stays with its type: a script that picks another manager
        # (DI-engine's atari_dqn_main.py passes SyncSubprocessEnvManager to compile_config) runs this main_config too
        env_manager=dict(type="atari", batch_size=4),
        policy=dict(type=policy_type),
    )
    _merge(main_config["policy"], POLICY_KEYS[policy_type])
    return EasyDict(main_config), EasyDict(create_config)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
