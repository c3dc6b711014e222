"""SAC on Pendulum-v1 (continuous torque, 200-step episodes cut by a time limit), DI-engine's settings: solved here
at a mean evaluation return of -200 over 10 episodes.

Run: python dizoo/classic_control/pendulum/config/pendulum_sac_config.py
 or: ding -m serial -c dizoo/classic_control/pendulum/config/pendulum_sac_config.py -s 0 --max-env-step 100000
"""

from easydict import EasyDict

pendulum_sac_config = dict(
    exp_name="pendulum_sac_seed0",
    env=dict(
        collector_env_num=10,
        evaluator_env_num=5,
        n_evaluator_episode=10,
        act_scale=True,
        stop_value=-200,
    ),
    policy=dict(
        cuda=False,
        random_collect_size=1000,
        model=dict(
            obs_shape=3,
            action_shape=1,
            action_space="reparameterization",
            twin_critic=True,
            actor_head_hidden_size=128,
            critic_head_hidden_size=128,
        ),
        learn=dict(
            update_per_collect=10,  # one gradient step per env step (DI-engine's file: 1 per 10, ~10x more steps)
            batch_size=128,
            learning_rate_q=0.001,
            learning_rate_policy=0.001,
            learning_rate_alpha=0.0003,
            ignore_done=True,  # DI-engine's pendulum reported the time limit as done; ding keeps cuts apart anyway
            target_theta=0.005,
            discount_factor=0.99,
            auto_alpha=True,
        ),
        collect=dict(n_sample=10),
        eval=dict(evaluator=dict(eval_freq=1000)),
        other=dict(replay_buffer=dict(replay_buffer_size=100000)),
    ),
)
pendulum_sac_config = EasyDict(pendulum_sac_config)
main_config = pendulum_sac_config

pendulum_sac_create_config = dict(
    env=dict(type="pendulum", import_names=["dizoo.classic_control.pendulum.envs.pendulum_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="sac"),
    replay_buffer=dict(type="naive"),
)
pendulum_sac_create_config = EasyDict(pendulum_sac_create_config)
create_config = pendulum_sac_create_config

if __name__ == "__main__":
    # or: ding -m serial -c pendulum_sac_config.py -s 0 --max-env-step 100000
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0, max_env_step=100_000)
