"""PPO on Pong (Atari), with the settings every Atari game shares (dizoo/atari/config/serial/atari_ppo.py):
the PPO paper's Atari hyperparameters on ale-py's native vector env.

Run: python dizoo/atari/config/serial/pong/pong_ppo_config.py
 or: ding -m serial_onpolicy -c dizoo/atari/config/serial/pong/pong_ppo_config.py -s 0
"""

from dizoo.atari.config.serial.atari_ppo import atari_ppo_config

main_config, create_config = atari_ppo_config("Pong", action_shape=6, stop_value=20)
pong_ppo_config, pong_ppo_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial_onpolicy -c pong_ppo_config.py -s 0
    from ding.entry import run_main, serial_pipeline_onpolicy

    run_main(serial_pipeline_onpolicy, (main_config, create_config), seed=0)
