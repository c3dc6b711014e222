"""DQN on Pong (Atari) on DI-engine's EnvPool manager ('env_pool', which ding runs on ale-py's C++ vector env, the
'atari' manager), the settings of pong_dqn_config.py; ``collector_batch_size`` / ``evaluator_batch_size`` are EnvPool's
keys (envs per step; fewer than the envs step them asynchronously). DI-engine's
dizoo/atari/entry/pong_dqn_envpool_main.py imports it (``from dizoo.atari.config.serial import
pong_dqn_envpool_config``).

Run: ding -m serial -c dizoo/atari/config/serial/pong/pong_dqn_envpool_config.py -s 0
"""

from dizoo.atari.config.serial.atari_dqn import atari_dqn_config

main_config, create_config = atari_dqn_config("Pong", action_shape=6, stop_value=20)
main_config.exp_name = "pong_dqn_envpool_seed0"
main_config.env.update(collector_batch_size=8, evaluator_batch_size=8)
create_config.env_manager = dict(type="env_pool")  # its batch: env.collector_batch_size
pong_dqn_envpool_config, pong_dqn_envpool_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial -c pong_dqn_envpool_config.py -s 0
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0)
