"""Train DQN on SpaceInvaders with DataParallel over all visible GPUs (one process).

Run: python dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_dp.py [-s SEED] [--max-env-step N] [--max-train-iter N]
(DI-engine's --env-step / --train-iter work too, and counts such as 1e6)
"""

from typing import Optional

from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_dp import create_config, main_config


def main(seed: int = 0, max_env_step: Optional[int] = None, max_train_iter: Optional[int] = None) -> None:
    from ding.entry import serial_pipeline
    from ding.model import DQN
    from ding.torch_utils import DataParallel

    model = DataParallel(DQN(obs_shape=[4, 84, 84], action_shape=6))
    serial_pipeline(
        (main_config, create_config), seed=seed, model=model, max_env_step=max_env_step, max_train_iter=max_train_iter
    )


if __name__ == "__main__":
    from ding.entry.script import parse_training_args, run_main

    run_main(main, **vars(parse_training_args(__doc__)))
