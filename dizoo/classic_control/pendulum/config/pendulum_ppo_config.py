"""PPO on Pendulum-v1 (continuous torque, 200-step episodes cut by a time limit): solved at a mean evaluation
return of -250 (DI-engine's stop value).

Run: python dizoo/classic_control/pendulum/config/pendulum_ppo_config.py
 or: ding -m serial_onpolicy -c dizoo/classic_control/pendulum/config/pendulum_ppo_config.py -s 0 --max-env-step 500000
"""

from easydict import EasyDict

pendulum_ppo_config = dict(
    exp_name="pendulum_ppo_seed0",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=10,
        n_evaluator_episode=20,  # two episodes on each of 10 envs: 5 let a lucky evaluation stop training
        act_scale=True,
        stop_value=-250,
    ),
    policy=dict(
        cuda=False,
        action_space="continuous",
        recompute_adv=True,
        model=dict(
            obs_shape=3,
            action_shape=1,
            action_space="continuous",
            share_encoder=False,
            encoder_hidden_size_list=[64, 64],
            actor_head_layer_num=0,
            critic_head_layer_num=0,
            sigma_type="independent",
            bound_type="tanh",
        ),
        learn=dict(
            epoch_per_collect=10,
            batch_size=64,
            learning_rate=0.001,
            value_weight=0.5,
            entropy_weight=0.0,
            clip_ratio=0.2,
            adv_norm=True,
            value_norm=True,
        ),
        collect=dict(
            n_sample=2048,
            unroll_len=1,
            discount_factor=0.9,
            gae_lambda=0.95,
        ),
        eval=dict(evaluator=dict(eval_freq=1600)),
    ),
)
pendulum_ppo_config = EasyDict(pendulum_ppo_config)
main_config = pendulum_ppo_config

pendulum_ppo_create_config = dict(
    env=dict(type="pendulum", import_names=["dizoo.classic_control.pendulum.envs.pendulum_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="ppo"),
)
pendulum_ppo_create_config = EasyDict(pendulum_ppo_create_config)
create_config = pendulum_ppo_create_config

if __name__ == "__main__":
    # or: ding -m serial_onpolicy -c pendulum_ppo_config.py -s 0 --max-env-step 500000
    from ding.entry import run_main, serial_pipeline_onpolicy

    run_main(serial_pipeline_onpolicy, (main_config, create_config), seed=0, max_env_step=500_000)
