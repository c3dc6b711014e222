"""DQN on CartPole-v0 with data-parallel training over several processes (DDP; gloo on the CPU, NCCL on GPUs).

Every rank collects with its own envs and seed (seed + rank); gradients are averaged over the ranks; rank 0
evaluates and writes cartpole_dqn_ddp_seed0/. Batch and sample counts are per rank (policy.global_batch=False).
Launch it with any of:
  torchrun --standalone --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  python -m torch.distributed.launch --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  mpirun -np 2 python dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  srun -n2 python -u dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py
  python dizoo/classic_control/cartpole/config/cartpole_dqn_ddp_config.py --spawn 2
"""

from easydict import EasyDict

cartpole_dqn_config = dict(
    exp_name="cartpole_dqn_ddp_seed0",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=5,
        n_evaluator_episode=5,
        stop_value=195,
    ),
    policy=dict(
        cuda=False,  # each rank uses its local GPU when True (NCCL); gloo on the CPU otherwise
        multi_gpu=True,  # gradients averaged over the ranks of the DistContext (also: learn.multi_gpu)
        model=dict(
            obs_shape=4,
            action_shape=2,
            encoder_hidden_size_list=[128, 128, 64],
            dueling=True,
        ),
        nstep=1,
        discount_factor=0.97,
        learn=dict(
            update_per_collect=5,
            batch_size=64,
            learning_rate=0.001,
            target_update_freq=100,
        ),
        collect=dict(n_sample=8),
        eval=dict(evaluator=dict(eval_freq=40)),
        other=dict(
            eps=dict(type="exp", start=0.95, end=0.1, decay=10000),
            replay_buffer=dict(replay_buffer_size=20000),
        ),
    ),
)
cartpole_dqn_config = EasyDict(cartpole_dqn_config)
main_config = cartpole_dqn_config

cartpole_dqn_create_config = dict(
    env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="dqn"),
    replay_buffer=dict(type="deque", import_names=["ding.data.buffer.deque_buffer_wrapper"]),
)
cartpole_dqn_create_config = EasyDict(cartpole_dqn_create_config)
create_config = cartpole_dqn_create_config


def main() -> None:
    from ding.entry import serial_pipeline
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline((main_config, create_config), seed=0)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--spawn":  # torch.multiprocessing.spawn through ding's helper
        from ding.utils import spawn

        spawn(main, int(sys.argv[2]))
    else:
        main()
