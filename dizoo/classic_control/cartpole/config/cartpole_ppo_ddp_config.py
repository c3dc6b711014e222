"""PPO on CartPole-v0 with data-parallel training over several processes (DDP; gloo on the CPU, NCCL on GPUs).

Every rank collects its own rollout of n_sample transitions with its own envs and seed (seed + rank), so every rank
runs the same number of minibatches; gradients are averaged over the ranks, and the advantage and value
normalisation statistics are computed over all ranks' data; rank 0 evaluates and writes cartpole_ppo_ddp_seed0/.
Batch and sample counts are per rank (policy.global_batch=False). Launch it with any of:
  torchrun --standalone --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_ppo_ddp_config.py
  python -m torch.distributed.launch --nproc_per_node=2 dizoo/classic_control/cartpole/config/cartpole_ppo_ddp_config.py
  mpirun -np 2 python dizoo/classic_control/cartpole/config/cartpole_ppo_ddp_config.py
  srun -n2 python -u dizoo/classic_control/cartpole/config/cartpole_ppo_ddp_config.py
  python dizoo/classic_control/cartpole/config/cartpole_ppo_ddp_config.py --spawn 2
"""

from easydict import EasyDict

cartpole_ppo_config = dict(
    exp_name="cartpole_ppo_ddp_seed0",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=5,
        n_evaluator_episode=5,
        stop_value=195,
    ),
    policy=dict(
        cuda=False,  # each rank uses its local GPU when True (NCCL); gloo on the CPU otherwise
        multi_gpu=True,  # gradients averaged over the ranks of the DistContext (also: learn.multi_gpu)
        action_space="discrete",
        model=dict(
            obs_shape=4,
            action_shape=2,
            action_space="discrete",
            encoder_hidden_size_list=[64, 64],
            actor_head_hidden_size=64,
            critic_head_hidden_size=64,
        ),
        learn=dict(
            epoch_per_collect=4,
            batch_size=64,
            learning_rate=0.001,
            value_weight=0.5,
            entropy_weight=0.01,
            clip_ratio=0.2,
        ),
        collect=dict(
            n_sample=256,
            unroll_len=1,
            discount_factor=0.99,
            gae_lambda=0.95,
        ),
        eval=dict(evaluator=dict(eval_freq=40)),
    ),
)
cartpole_ppo_config = EasyDict(cartpole_ppo_config)
main_config = cartpole_ppo_config

cartpole_ppo_create_config = dict(
    env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="ppo"),
)
cartpole_ppo_create_config = EasyDict(cartpole_ppo_create_config)
create_config = cartpole_ppo_create_config


def main() -> None:
    from ding.entry import serial_pipeline_onpolicy
    from ding.utils import DistContext

    with DistContext():
        serial_pipeline_onpolicy((main_config, create_config), seed=0)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--spawn":  # torch.multiprocessing.spawn through ding's helper
        from ding.utils import spawn

        spawn(main, int(sys.argv[2]))
    else:
        main()
