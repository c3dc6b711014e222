"""The DrQ(eps) learner step of the Atari 100k config against a bare torch update of the same network and loss.

ding: ``BaseLearner.train`` on the DQN policy compiled from dizoo/atari/config/atari100k/pong_drq_eps_config.py
(Nature CNN, dueling head with Dopamine's layout, double DQN, 10-step returns, Huber loss, Adam eps 1.5e-4, target
copy every update, random shifts of pad 4 then random intensity on obs and next obs), fed by the frame-sharing
buffer's ``sample(32)``.
bare: the same update written directly in torch as a hand-written DrQ(eps) would be: replication pad 4 and a
per-sample 84x84 crop (F.pad + advanced indexing) of obs and next obs, each image times 1 + scale clip(N(0,1), -2, 2),
online forward on obs, online and target forwards on
next obs, double-DQN n-step target, Huber loss, backward, Adam step, target copy; same model weights, same batches.
The buffer holds Pong frames from the native Atari manager with random actions.

Timed in interleaved rounds (bare, ding; the order reversed every other round); the ratio of the medians is the
framework's cost over the bare step (issue 17's target: <= 1.1). Do not read figures from a busy machine.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_atari100k_learner.py [--iters 60] [--rounds 5]
     (a check that it runs: --iters 2 --rounds 1 --fill-rows 200)
     Dopamine's network: ... --set "policy.model.encoder_padding='same'" --set "policy.model.init_type='xavier'"
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import atari_buffer  # noqa: E402

from benchmarks.run_helpers import apply_overrides, describe, parse_overrides  # noqa: E402


def build(batch_size: int, fill_rows: int, overrides: list[tuple[str, object]] = ()):
    from ding.config import compile_config
    from ding.envs.env_manager.atari_env_manager import AtariEnvManager
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import BaseLearner
    from dizoo.atari.config.atari100k.pong_drq_eps_config import create_config, main_config

    main = copy.deepcopy(main_config)
    apply_overrides(main, overrides)
    main.policy.cuda = False
    main.policy.learn.batch_size = batch_size
    main.policy.learn.learner = dict(hook=dict(log_show_after_iter=10**9, save_ckpt_after_iter=0))
    cfg = compile_config(main, seed=0, create_cfg=copy.deepcopy(create_config), save_cfg=False)
    learn = cfg.policy.learn
    assert learn.random_shift_pad == 4 and learn.target_update_freq == 1 and cfg.policy.nstep == 10
    torch.manual_seed(0)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    learner = BaseLearner(cfg.policy.learn.learner, policy, Logger(None, enabled=False), tempfile.mkdtemp())
    env = AtariEnvManager.build(cfg.env, cfg.env.collector_env_num, is_train=True)
    buffer = atari_buffer(cfg, env, priority=False)
    rng = np.random.default_rng(0)
    obs = env.reset(0)
    for _ in range(fill_rows):  # random play: episode ends inside the buffer
        action = rng.integers(0, env.action_space.n, env.env_num)
        out = env.step(action)
        done = out.terminated | out.truncated
        next_obs = np.where(done[:, None, None, None], out.final_obs, out.obs)
        buffer.add(obs, action, out.reward, next_obs, out.terminated, out.truncated)
        obs = out.obs
    env.close()
    return cfg, policy, learner, buffer


def bare_drq_step(model: torch.nn.Module, lr: float, adam_eps: float, pad: int, intensity: float, kappa: float):
    """DrQ(eps)'s update in plain torch: random shifts and intensity, double DQN n-step target, Huber loss, Adam,
    target copy."""
    target = copy.deepcopy(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=adam_eps)
    generator = torch.Generator().manual_seed(0)

    def shift(obs: torch.Tensor) -> torch.Tensor:
        x = F.pad(obs.float(), (pad, pad, pad, pad), mode="replicate")
        batch, channels, size = obs.shape[0], obs.shape[1], obs.shape[-1]
        offset = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
        rows = (offset[:, :1] + torch.arange(size))[:, None, :, None]
        cols = (offset[:, 1:] + torch.arange(size))[:, None, None, :]
        index = torch.arange(batch)[:, None, None, None], torch.arange(channels)[None, :, None, None]
        x = x[index[0], index[1], rows, cols] / 255.0
        noise = torch.randn((batch, 1, 1, 1), generator=generator).clamp(-2.0, 2.0)
        return x * (1.0 + intensity * noise)

    def step(batch):
        batch = {key: torch.from_numpy(value) for key, value in batch.items()}
        obs, next_obs = shift(batch["obs"]), shift(batch["next_obs"])
        q = model(obs)["logit"].gather(1, batch["action"].view(-1, 1)).squeeze(1)
        with torch.no_grad():
            next_action = model(next_obs)["logit"].argmax(1, keepdim=True)
            next_q = target(next_obs)["logit"].gather(1, next_action).squeeze(1)
            y = batch["reward"] + batch["discount"] * next_q
        loss = F.huber_loss(q, y, delta=kappa)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        target.load_state_dict(model.state_dict())

    return step


def timed(fn, iters: int) -> list[float]:
    times = []
    for i in range(iters):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iters", type=int, default=60, help="train iterations per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fill-rows", type=int, default=3000, help="env steps of random play put in the buffer")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a variant of the config (as run_atari100k)"
    )
    args = parser.parse_args()
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    threads = torch.get_num_threads()
    cfg, policy, learner, buffer = build(args.batch, args.fill_rows, overrides)
    learn = cfg.policy.learn
    bare = bare_drq_step(
        copy.deepcopy(policy.model),
        learn.learning_rate,
        learn.adam_eps,
        learn.random_shift_pad,
        learn.random_intensity_scale,
        learn.huber_kappa,
    )
    batches = [buffer.sample(args.batch) for _ in range(32)]
    for _ in range(2):  # warm-up: allocator, oneDNN primitives
        bare(batches[0])
        learner.train(batches[0])
    sides = {"bare": lambda i: bare(batches[i % len(batches)]), "ding": lambda i: learner.train(batches[i % 32])}
    medians = {name: [] for name in sides}
    augment_before = policy.augment_seconds
    for round_ in range(args.rounds):
        for name in list(sides)[:: 1 if round_ % 2 == 0 else -1]:
            medians[name].append(statistics.median(timed(sides[name], args.iters)))
    bare_t, ding_t = (statistics.median(medians[k]) for k in ("bare", "ding"))
    ratio = statistics.median(np.divide(medians["ding"], medians["bare"]))
    augment_t = (policy.augment_seconds - augment_before) / (args.rounds * args.iters)
    features = policy.model.encoder.fc[0].in_features
    print(
        f"DrQ(eps) train iteration on {policy.device}: Nature CNN ({features} features, dueling), batch {args.batch} "
        f"x 4x84x84 uint8, {'variant: ' + describe(overrides) + ', ' if overrides else ''}"
        f"nstep {cfg.policy.nstep}, random shifts pad {learn.random_shift_pad} and intensity "
        f"{learn.random_intensity_scale}, {threads} torch thread(s); "
        f"{args.rounds} rounds x {args.iters} iterations a side"
    )
    print(f"  bare torch step       {bare_t * 1e3:7.2f} ms median  {1 / bare_t:6.1f} iter/s")
    print(f"  ding learner.train    {ding_t * 1e3:7.2f} ms median  {1 / ding_t:6.1f} iter/s")
    print(f"  of which augmentation {augment_t * 1e3:7.2f} ms mean")
    print(f"  ratio ding / bare: {ratio:.3f} (target <= 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")


if __name__ == "__main__":
    main()
