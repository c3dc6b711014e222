"""DDPG on Pendulum-v1 (continuous torque, 200-step episodes cut by a time limit), DI-engine's settings: solved
here at a mean evaluation return of -200 over 10 episodes.

Run: python dizoo/classic_control/pendulum/config/pendulum_ddpg_config.py
 or: ding -m serial -c dizoo/classic_control/pendulum/config/pendulum_ddpg_config.py -s 0 --max-env-step 100000
"""

from easydict import EasyDict

pendulum_ddpg_config = dict(
    exp_name="pendulum_ddpg_seed0",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=5,
        n_evaluator_episode=10,
        act_scale=True,
        stop_value=-200,
    ),
    policy=dict(
        cuda=False,
        priority=False,
        random_collect_size=800,
        model=dict(
            obs_shape=3,
            action_shape=1,
            twin_critic=False,
            action_space="regression",
        ),
        learn=dict(
            update_per_collect=8,  # one gradient step per env step (DI-engine's file: 2 per 48 env steps)
            batch_size=128,
            learning_rate_actor=0.001,
            learning_rate_critic=0.001,
            ignore_done=True,  # DI-engine's pendulum reported the time limit as done; ding keeps cuts apart anyway
            actor_update_freq=1,
            noise=False,
            noise_sigma=0.1,
            noise_range=dict(min=-0.5, max=0.5),
        ),
        collect=dict(n_sample=8, noise_sigma=0.1, collector=dict(collect_print_freq=1000)),
        eval=dict(evaluator=dict(eval_freq=1000)),
        other=dict(replay_buffer=dict(replay_buffer_size=20000)),
    ),
)
pendulum_ddpg_config = EasyDict(pendulum_ddpg_config)
main_config = pendulum_ddpg_config

pendulum_ddpg_create_config = dict(
    env=dict(type="pendulum", import_names=["dizoo.classic_control.pendulum.envs.pendulum_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="ddpg"),
    replay_buffer=dict(type="naive"),
)
pendulum_ddpg_create_config = EasyDict(pendulum_ddpg_create_config)
create_config = pendulum_ddpg_create_config

if __name__ == "__main__":
    # or: ding -m serial -c pendulum_ddpg_config.py -s 0 --max-env-step 100000
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0, max_env_step=100_000)
