"""SAC, TD3 and DDPG on the MuJoCo v5 tasks with DI-engine 0.5's settings (its dizoo/mujoco/config files), one
env per collector, one gradient step per env step, batch 256, 256x256 networks. A file per task and algorithm
(e.g. hopper_sac_config.py) calls :func:`mujoco_offpolicy_config`.
"""

from easydict import EasyDict

# per task: (gymnasium id, obs size, action size, DI-engine's stop value, ignore_done in DI-engine's files)
TASKS = {
    "hopper": ("Hopper-v5", 11, 3, 6000, False),
    "halfcheetah": ("HalfCheetah-v5", 17, 6, 12000, True),
    "walker2d": ("Walker2d-v5", 17, 6, 6000, False),
    "ant": ("Ant-v5", 105, 8, 6000, False),
}


def mujoco_offpolicy_config(task: str, algo: str) -> tuple[EasyDict, EasyDict]:
    """DI-engine's two config dicts for ``algo`` ('sac', 'td3', 'ddpg') on ``task`` (a key of TASKS); a new pair
    on every call."""
    env_id, obs_size, action_size, stop_value, ignore_done = TASKS[task]
    model = dict(
        obs_shape=obs_size,
        action_shape=action_size,
        twin_critic=algo != "ddpg",
        action_space="reparameterization" if algo == "sac" else "regression",
        actor_head_hidden_size=256,
        critic_head_hidden_size=256,
    )
    if algo == "sac":
        learn = dict(
            learning_rate_q=1e-3,
            learning_rate_policy=1e-3,
            learning_rate_alpha=3e-4,
            alpha=0.2,
            auto_alpha=False,  # DI-engine's MuJoCo SAC files keep alpha fixed at 0.2
        )
        random_collect_size = 10000
    else:
        learn = dict(
            learning_rate_actor=1e-3,
            learning_rate_critic=1e-3,
            actor_update_freq=2 if algo == "td3" else 1,
            noise=algo == "td3",
            noise_sigma=0.2,
            noise_range=dict(min=-0.5, max=0.5),
        )
        random_collect_size = 25000
    main_config = dict(
        exp_name=f"{task}_{algo}_seed0",
        env=dict(
            env_id=env_id,
            norm_obs=dict(use_norm=False),
            norm_reward=dict(use_norm=False),
            collector_env_num=1,
            evaluator_env_num=8,
            n_evaluator_episode=8,
            stop_value=stop_value,
        ),
        policy=dict(
            cuda=True,  # falls back to the CPU (with a warning) when there is no GPU
            load_path=f"{task}_{algo}_seed0/ckpt/ckpt_best.pth.tar",  # what `ding -m eval` and DI-engine's eval script load
            random_collect_size=random_collect_size,
            model=model,
            learn=dict(
                update_per_collect=1,
                batch_size=256,
                ignore_done=ignore_done,
                target_theta=0.005,
                discount_factor=0.99,
                **learn,
            ),
            collect=dict(n_sample=1, unroll_len=1),
            eval=dict(evaluator=dict(eval_freq=5000)),  # train iterations (= env steps here) between evaluations
            other=dict(replay_buffer=dict(replay_buffer_size=1000000)),
        ),
    )
    create_config = dict(
        env=dict(type="mujoco", import_names=["dizoo.mujoco.envs.mujoco_env"]),
        env_manager=dict(type="base"),  # one MuJoCo env steps in ~0.1 ms: a worker process would cost more
        policy=dict(type=algo),
        replay_buffer=dict(type="naive"),
    )
    return EasyDict(main_config), EasyDict(create_config)
