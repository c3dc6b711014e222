"""PPO on Hopper-v5 with data-parallel training over several processes (DDP; gloo on the CPU, NCCL on GPUs).

Every rank collects its own 2048-transition rollout with its own envs and seed (seed + rank); gradients, the
value-normalisation statistics and the observation-normalisation statistics (merged after every collect) are
shared over the ranks, so every rank normalises identically; rank 0 evaluates and writes hopper_onppo_ddp_seed0/.
Counts are per rank: 2 ranks collect 4096 transitions per round. Launch it with any of:
  torchrun --standalone --nproc_per_node=2 dizoo/mujoco/config/hopper_onppo_ddp_config.py
  mpirun -np 2 python dizoo/mujoco/config/hopper_onppo_ddp_config.py
  srun -n2 python -u dizoo/mujoco/config/hopper_onppo_ddp_config.py
  python dizoo/mujoco/config/hopper_onppo_ddp_config.py --spawn 2

It is hopper_onppo_config.py through ding.config.ddp_config (policy.learn.multi_gpu=True, its own exp_name).
"""

from ding.config import ddp_config
from dizoo.mujoco.config.hopper_onppo_config import create_config
from dizoo.mujoco.config.hopper_onppo_config import main_config as single_process_config

main_config = ddp_config(single_process_config, exp_name="hopper_onppo_ddp_seed0")
hopper_onppo_config, hopper_onppo_create_config = main_config, create_config  # DI-engine's names


def main() -> None:
    from ding.entry import serial_pipeline_onpolicy
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline_onpolicy((main_config, create_config), seed=0, max_env_step=1_000_000)


if __name__ == "__main__":
    import sys

    from ding.entry import run_main

    if len(sys.argv) == 3 and sys.argv[1] == "--spawn":  # torch.multiprocessing.spawn through ding's helper
        from ding.utils import spawn

        spawn(run_main, int(sys.argv[2]), main)
    else:
        run_main(main)
