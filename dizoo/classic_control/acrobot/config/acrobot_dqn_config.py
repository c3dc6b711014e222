"""DQN on Acrobot-v1 (500-step episodes, reward -1 per step): solved when the evaluation mean over 10 episodes
reaches -100 (gymnasium's reward threshold for Acrobot-v1; DI-engine's file asks for -60).

Run: python dizoo/classic_control/acrobot/config/acrobot_dqn_config.py
 or: ding -m serial -c dizoo/classic_control/acrobot/config/acrobot_dqn_config.py -s 0
Results per seed: docs/benchmarks/classic.md.

DI-engine's Acrobot settings (dueling double DQN, 3-step returns, 8 envs) with a faster learning rate and an epsilon
that falls linearly from 1 to 0.05 over the first 20k env steps.
"""

from easydict import EasyDict

acrobot_dqn_config = dict(
    exp_name="acrobot_dqn_seed0",
    env=dict(
        env_id="Acrobot-v1",
        collector_env_num=8,
        evaluator_env_num=10,
        n_evaluator_episode=10,
        stop_value=-100,
    ),
    policy=dict(
        cuda=False,
        model=dict(
            obs_shape=6,
            action_shape=3,
            encoder_hidden_size_list=[128, 128],
            dueling=True,
        ),
        nstep=3,
        discount_factor=0.99,
        learn=dict(
            update_per_collect=16,  # one gradient step per 4 env steps
            batch_size=128,
            learning_rate=6.3e-4,
            target_update_freq=250,
        ),
        collect=dict(n_sample=64),
        # every 500 train iterations = 2,000 env steps
        eval=dict(evaluator=dict(eval_freq=500)),
        other=dict(
            eps=dict(type="linear", start=1.0, end=0.05, decay=20000),
            replay_buffer=dict(replay_buffer_size=50000),
        ),
    ),
)
acrobot_dqn_config = EasyDict(acrobot_dqn_config)
main_config = acrobot_dqn_config

acrobot_dqn_create_config = dict(
    env=dict(type="gym"),
    env_manager=dict(type="base"),
    policy=dict(type="dqn"),
)
acrobot_dqn_create_config = EasyDict(acrobot_dqn_create_config)
create_config = acrobot_dqn_create_config

if __name__ == "__main__":
    # or: ding -m serial -c acrobot_dqn_config.py -s 0
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0)
