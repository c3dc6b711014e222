"""DQN on Breakout (Atari): double DQN, 3-step returns, Nature CNN on 4x84x84 grey stacks, DeepMind preprocessing.

Runs on ale-py's native vector env (env_manager 'atari': C++ threads, no Python worker processes) and a
frame-sharing replay buffer (one uint8 frame per transition, about 8 KB each).

Run: python dizoo/atari/config/serial/breakout/breakout_dqn_config.py
 or: ding -m serial -c dizoo/atari/config/serial/breakout/breakout_dqn_config.py -s 0

Memory: the default 1M-transition replay buffer takes about 7.6 GB of RAM (sized for a GPU machine). On a laptop,
shrink it, e.g. policy.other.replay_buffer.replay_buffer_size=100000 (about 0.8 GB).
"""

from easydict import EasyDict

breakout_dqn_config = dict(
    exp_name="breakout_dqn_seed0",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=8,
        n_evaluator_episode=8,
        stop_value=10000000000,
        env_id="BreakoutNoFrameskip-v4",
        frame_stack=4,
        manager=dict(batch_size=4),  # the collector steps 4 envs while the policy acts on the other 4 (0: in turn)
    ),
    policy=dict(
        cuda=True,  # falls back to the CPU (with a warning) when there is no GPU
        priority=False,
        model=dict(
            obs_shape=[4, 84, 84],
            action_shape=4,
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
breakout_dqn_config = EasyDict(breakout_dqn_config)
main_config = breakout_dqn_config

breakout_dqn_create_config = dict(
    env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
    env_manager=dict(type="atari"),
    policy=dict(type="dqn"),
)
breakout_dqn_create_config = EasyDict(breakout_dqn_create_config)
create_config = breakout_dqn_create_config

if __name__ == "__main__":
    # or: ding -m serial -c breakout_dqn_config.py -s 0
    from ding.entry import serial_pipeline

    serial_pipeline((main_config, create_config), seed=0)
