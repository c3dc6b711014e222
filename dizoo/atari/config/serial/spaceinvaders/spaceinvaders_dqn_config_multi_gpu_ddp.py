"""SpaceInvaders DQN with data-parallel training: one process per GPU (DDP), launched by torchrun, srun, mpirun, ...

Every rank collects with its own envs and seed (seed + rank) into its own replay buffer; gradients are averaged over
the ranks; rank 0 evaluates and writes spaceinvaders_dqn_multi_gpu_ddp_seed0/. Batch and sample counts are per rank
(set policy.global_batch=True to divide the single-GPU totals over the ranks). See docs/multi_gpu.md.

  torchrun --standalone --nproc_per_node=2 dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_ddp.py
"""

from ding.config import ddp_config
from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config
from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import main_config as single_gpu_config

main_config = ddp_config(single_gpu_config, exp_name="spaceinvaders_dqn_multi_gpu_ddp_seed0")
main_config.policy.other.replay_buffer.replay_buffer_size = 400000  # per rank: 8 ranks hold 3.2M transitions
spaceinvaders_dqn_config, spaceinvaders_dqn_create_config = main_config, create_config  # DI-engine's names


def main() -> None:
    from ding.entry import serial_pipeline
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline((main_config, create_config), seed=0)


if __name__ == "__main__":
    from ding.entry import run_main

    run_main(main)
