"""Train DQN on SpaceInvaders with DDP, one process per GPU (any launcher: torchrun, srun, mpirun, ...).

Run: torchrun --standalone --nproc_per_node=2 dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_ddp.py
  srun -p PARTITION --gres=gpu:2 -n2 --ntasks-per-node=2 python -u dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_ddp.py
"""

from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_ddp import create_config, main_config


def main(seed: int = 0) -> None:
    from ding.entry import serial_pipeline
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline((main_config, create_config), seed=seed)


if __name__ == "__main__":
    main()
