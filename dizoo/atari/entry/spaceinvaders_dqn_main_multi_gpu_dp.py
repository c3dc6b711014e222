"""Train DQN on SpaceInvaders with DataParallel over all visible GPUs (one process).

Run: python dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_dp.py
"""

from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_dp import create_config, main_config


def main(seed: int = 0) -> None:
    from ding.entry import serial_pipeline
    from ding.model import DQN
    from ding.torch_utils import DataParallel

    model = DataParallel(DQN(obs_shape=[4, 84, 84], action_shape=6))
    serial_pipeline((main_config, create_config), seed=seed, model=model)


if __name__ == "__main__":
    main()
