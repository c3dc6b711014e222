"""DQN on LunarLander-v3 (discrete actions): solved when the evaluation mean over 10 episodes reaches 200.

Run: python dizoo/box2d/lunarlander/config/lunarlander_dqn_config.py
 or: ding -m serial -c dizoo/box2d/lunarlander/config/lunarlander_dqn_config.py -s 0
Needs Box2D: pip install -e '.[box2d]'. Results per seed: docs/benchmarks/classic.md.

Double DQN with a dueling head and 3-step returns (DI-engine's LunarLander settings) with RL Zoo's learning rate,
batch and target period; epsilon falls linearly from 1 to 0.05 over the first 50k env steps.
"""

from easydict import EasyDict

lunarlander_dqn_config = dict(
    exp_name="lunarlander_dqn_seed0",
    env=dict(
        env_id="LunarLander-v3",
        collector_env_num=8,
        evaluator_env_num=10,
        n_evaluator_episode=10,
        stop_value=200,
    ),
    policy=dict(
        cuda=False,
        load_path="lunarlander_dqn_seed0/ckpt/ckpt_best.pth.tar",  # what `ding -m eval` (and DI-engine's eval script) loads
        model=dict(
            obs_shape=8,
            action_shape=4,
            encoder_hidden_size_list=[256, 256],
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
        # every 1250 train iterations = 5,000 env steps
        eval=dict(evaluator=dict(eval_freq=1250)),
        other=dict(
            eps=dict(type="linear", start=1.0, end=0.05, decay=50000),
            replay_buffer=dict(replay_buffer_size=100000),
        ),
    ),
)
lunarlander_dqn_config = EasyDict(lunarlander_dqn_config)
main_config = lunarlander_dqn_config

lunarlander_dqn_create_config = dict(
    env=dict(type="gym"),
    env_manager=dict(type="base"),
    policy=dict(type="dqn"),
)
lunarlander_dqn_create_config = EasyDict(lunarlander_dqn_create_config)
create_config = lunarlander_dqn_create_config

if __name__ == "__main__":
    # or: ding -m serial -c lunarlander_dqn_config.py -s 0
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0)
