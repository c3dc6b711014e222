"""PPO on the MuJoCo v5 tasks, tuned to the standard of the best published implementations (Tianshou's MuJoCo
PPO, CleanRL's ppo_continuous_action). A file per task (e.g. hopper_onppo_config.py) calls
:func:`mujoco_onppo_config`; docs/ppo.md says why each setting is what it is.

Per collect: 2048 transitions (256 steps of 8 envs); 10 epochs of minibatches of 64 (320 gradient steps); 1M env
steps are 489 collects, over which the learning rate anneals linearly to 0. Observations are normalised (running
statistics, ding/envs/normalize.py); value targets too (value_norm); the Gaussian's mean is not squashed: actions
are clipped to [-1, 1] on their way to the env, as in Tianshou ("clip") and CleanRL. A task may replace some of
these (TASK_ENV, TASK_POLICY: HalfCheetah runs RL Zoo's tuned settings); every task evaluates every 20,480 env steps.
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
    # rewards scaled by the running std of the return (discount 0.98, as the PPO's below): RL Zoo's VecNormalize
    "halfcheetah": dict(norm_reward=dict(use_norm=True, reward_discount=0.98)),
    # without the 78 contact-force inputs (v5 adds them by default; in v3, Tianshou's table, they were all zero):
    # 27-wide observations, best 2,586 on seed 0 against 1,515 with them (3,420 over seeds 0-4)
    "ant": dict(kwargs=dict(include_cfrc_ext_in_observation=False)),
}
# per task: PPO settings that replace the common (Tianshou's) ones, each measured over 1M env steps
TASK_POLICY = {
    # RL Zoo's tuned HalfCheetah PPO (rl-baselines3-zoo, hyperparams/ppo.yml): best mean 5,895 over 5 seeds,
    # against 4,936 over 3 with Tianshou's settings and reward scaling. 512 transitions per collect (8 envs x 64 steps;
    # the Zoo: 1 env x 512), 20 epochs of 64, a constant small learning rate, 256x256 ReLU nets, log sigma from -2
    "halfcheetah": dict(
        recompute_adv=False,
        model=dict(
            encoder_hidden_size_list=[256, 256],
            actor_head_hidden_size=256,
            critic_head_hidden_size=256,
            activation="relu",
            log_sigma_init=-2.0,
        ),
        learn=dict(
            ppo_param_init=False,  # the Zoo's ortho_init=False: torch's default init, the log sigma at -2
            epoch_per_collect=20,
            learning_rate=2.0633e-5,
            lr_scheduler=None,
            value_weight=0.58096,
            entropy_weight=0.000401762,
            clip_ratio=0.1,
            adv_norm=True,
            value_norm=False,
            grad_clip_value=0.8,
        ),
        collect=dict(n_sample=512, discount_factor=0.98, gae_lambda=0.92),
    ),
}
EVAL_EVERY_ENV_STEPS = 20_480  # Tianshou's protocol: an evaluation at least every 20k env steps
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
                lr_scheduler=dict(epoch_num=None, min_lr_lambda=0.0),  # epoch_num: collects in ENV_STEPS, below
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
        ),
    )
    policy = main_config["policy"]
    for key, value in TASK_POLICY.get(task, {}).items():
        policy[key] = {**policy.get(key, {}), **value} if isinstance(value, dict) else value
    learn, n_sample = policy["learn"], policy["collect"]["n_sample"]
    if learn["lr_scheduler"] is not None:  # one anneal step per collect, to 0 at ENV_STEPS (488 for 2048 a collect)
        learn["lr_scheduler"] = {**learn["lr_scheduler"], "epoch_num": ENV_STEPS // n_sample}
    # the evaluation period in train iterations: 20,480 env steps' worth of collects (3,200 for the common settings)
    iters_per_collect = learn["epoch_per_collect"] * (n_sample // learn["batch_size"])
    collects = max(1, EVAL_EVERY_ENV_STEPS // n_sample)
    policy["eval"] = dict(evaluator=dict(eval_freq=collects * iters_per_collect))
    create_config = dict(
        env=dict(type="mujoco", import_names=["dizoo.mujoco.envs.mujoco_env"]),
        env_manager=dict(type="base"),
        policy=dict(type="ppo"),
    )
    return EasyDict(main_config), EasyDict(create_config)
