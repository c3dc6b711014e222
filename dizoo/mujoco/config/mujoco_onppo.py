"""PPO on the MuJoCo v5 tasks, tuned to the standard of the best published implementations (Tianshou's MuJoCo
PPO, CleanRL's ppo_continuous_action). A file per task (e.g. hopper_onppo_config.py) calls
:func:`mujoco_onppo_config`; docs/ppo.md says why each setting is what it is.

Per collect: 2048 transitions (256 steps of 8 envs); 10 epochs of minibatches of 64 (320 gradient steps); 1M env
steps are 489 collects, over which the learning rate anneals linearly to 0. Observations are normalised (running
statistics, ding/envs/normalize.py); value targets too (value_norm); the Gaussian's mean is not squashed: actions
are clipped to [-1, 1] on their way to the env, as in Tianshou ("clip") and CleanRL.
"""

from easydict import EasyDict

# per task: (gymnasium id, obs size, action size, DI-engine's stop value)
TASKS = {
    "hopper": ("Hopper-v5", 11, 3, 4000),
    "halfcheetah": ("HalfCheetah-v5", 17, 6, 12000),
    "walker2d": ("Walker2d-v5", 17, 6, 6000),
    "ant": ("Ant-v5", 27, 8, 6000),
    "humanoid": ("Humanoid-v5", 348, 17, 6000),
}
# per task: env keys beside the common ones, each measured over 1M env steps (docs/benchmarks/mujoco.md)
TASK_ENV = {
    # rewards scaled by the running std of the return: best mean 4,936 over 3 seeds, against 4,339 without
    "halfcheetah": dict(norm_reward=dict(use_norm=True)),
    # without the 78 contact-force inputs (v5 adds them by default; in v3, Tianshou's table, they were all zero):
    # 27-wide observations, best 2,586 on seed 0 against 1,515 with them (seed 1: 3,503)
    "ant": dict(kwargs=dict(include_cfrc_ext_in_observation=False)),
}
ENV_STEPS = 1_000_000  # the published tables' budget; the learning-rate anneal is sized for it
N_SAMPLE = 2048


def mujoco_onppo_config(task: str) -> tuple[EasyDict, EasyDict]:
    """The two config dicts of PPO on ``task`` (a key of TASKS); a new pair on every call."""
    env_id, obs_size, action_size, stop_value = TASKS[task]
    main_config = dict(
        exp_name=f"{task}_onppo_seed0",
        env=dict(
            env_id=env_id,
            collector_env_num=8,
            evaluator_env_num=10,
            n_evaluator_episode=10,  # Tianshou's protocol: 10 episodes per evaluation
            stop_value=stop_value,
            norm_obs=dict(use_norm=True),
            **TASK_ENV.get(task, {}),
        ),
        policy=dict(
            cuda=False,
            action_space="continuous",
            recompute_adv=True,
            model=dict(
                obs_shape=obs_size,
                action_shape=action_size,
                action_space="continuous",
                share_encoder=False,
                encoder_hidden_size_list=[64, 64],
                actor_head_layer_num=0,
                critic_head_layer_num=0,
                activation="tanh",
                sigma_type="independent",
                bound_type=None,
            ),
            learn=dict(
                epoch_per_collect=10,
                batch_size=64,
                learning_rate=3e-4,
                lr_scheduler=dict(epoch_num=ENV_STEPS // N_SAMPLE, min_lr_lambda=0.0),
                value_weight=0.25,
                entropy_weight=0.0,
                clip_ratio=0.2,
                value_clip=False,
                adv_norm=False,  # as Tianshou's MuJoCo PPO (norm_adv=0); value targets are normalised instead
                value_norm=True,
                grad_clip_type="clip_norm",
                grad_clip_value=0.5,
            ),
            collect=dict(n_sample=N_SAMPLE, discount_factor=0.99, gae_lambda=0.95),
            # every 3200 train iterations = 10 collects = 20,480 env steps
            eval=dict(evaluator=dict(eval_freq=3200)),
        ),
    )
    create_config = dict(
        env=dict(type="mujoco", import_names=["dizoo.mujoco.envs.mujoco_env"]),
        env_manager=dict(type="base"),
        policy=dict(type="ppo"),
    )
    return EasyDict(main_config), EasyDict(create_config)
