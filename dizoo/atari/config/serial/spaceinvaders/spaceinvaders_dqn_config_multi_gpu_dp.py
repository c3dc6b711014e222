"""SpaceInvaders DQN with DataParallel: one process, each batch split over all visible GPUs. See docs/multi_gpu.md.

python dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_dp.py
"""

import copy

from easydict import EasyDict

from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config
from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import main_config as single_gpu_config

main_config = EasyDict(copy.deepcopy(single_gpu_config))
main_config.exp_name = "spaceinvaders_dqn_multi_gpu_dp_seed0"
spaceinvaders_dqn_config, spaceinvaders_dqn_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    from ding.entry import run_main, serial_pipeline
    from ding.model import DQN
    from ding.torch_utils import DataParallel

    model = DataParallel(DQN(obs_shape=[4, 84, 84], action_shape=6))
    run_main(serial_pipeline, (main_config, create_config), seed=0, model=model)
