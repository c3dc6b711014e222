"""IQN on Pong (Atari), with the settings the DQN family shares on every game
(dizoo/atari/config/serial/atari_dqn.py).

Run: python dizoo/atari/config/serial/pong/pong_iqn_config.py
 or: ding -m serial -c dizoo/atari/config/serial/pong/pong_iqn_config.py -s 0

Memory: the default 1M-transition replay buffer takes about 7.6 GB of RAM (sized for a GPU machine). On a laptop,
shrink it, e.g. policy.other.replay_buffer.replay_buffer_size=100000 (about 0.8 GB).
"""

from dizoo.atari.config.serial.atari_dqn import atari_dqn_config

main_config, create_config = atari_dqn_config("Pong", action_shape=6, stop_value=20, policy_type="iqn")
pong_iqn_config, pong_iqn_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial -c pong_iqn_config.py -s 0
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0)
