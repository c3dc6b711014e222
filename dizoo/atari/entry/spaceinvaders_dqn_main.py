"""Train DQN on SpaceInvaders (one process; the GPU when there is one).

Run: python dizoo/atari/entry/spaceinvaders_dqn_main.py
"""

from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config, main_config


def main(seed: int = 0) -> None:
    from ding.entry import serial_pipeline

    serial_pipeline((main_config, create_config), seed=seed)


if __name__ == "__main__":
    main()
