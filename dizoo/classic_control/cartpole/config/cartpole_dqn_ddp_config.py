"""DQN on CartPole-v0 with data-parallel training over several processes (DDP; gloo on the CPU, NCCL on GPUs).

Every rank collects with its own envs and seed (seed + rank); gradients are averaged over the ranks; rank 0
evaluates and writes cartpole_dqn_ddp_seed0/. Batch and sample counts are per rank (policy.global_batch=False).
Launch it with any of:
  torchrun --standalone --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  python -m torch.distributed.launch --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  mpirun -np 2 python dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  srun -n2 python -u dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  python dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py --spawn 2

It is cartpole_dqn_config.py through ding.config.ddp_config: its values, its own exp_name, policy.learn.multi_gpu=True
(policy.cuda=True puts each rank on its local GPU).
"""

from ding.config import ddp_config
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config as single_process_config

main_config = ddp_config(single_process_config, exp_name="cartpole_dqn_ddp_seed0")
cartpole_dqn_config, cartpole_dqn_create_config = main_config, create_config  # DI-engine's names


def main() -> None:
    from ding.entry import serial_pipeline
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline((main_config, create_config), seed=0)


if __name__ == "__main__":
    from ding.entry import run_main
    from ding.entry.script import ddp_script_call

    run_main(*ddp_script_call(main, __doc__.splitlines()[0]))  # --spawn N: N ranks here; else this launcher's rank
