"""SAC learner step: ding's SAC update vs the same update written directly in torch, and the arithmetic floor.

Hopper-v5 sizes (obs 11, action 3), actor and twin critics of 256x256, batch 256, Adam (torch's fused kernel on both
sides: torch.optim.Adam on the bare side, ding's FlatAdam with one flat buffer per optimizer), automatic
temperature. The bare side is a CleanRL-style update with two separate critic MLPs; ding's is ``BaseLearner.train``
on a replay batch of numpy arrays (conversion, stats, hooks included). Both run with denormals flushed (the learner
sets it for the process). Sides alternate in rounds so machine noise hits both alike. The floor is the update's matrix-product FLOPs (counted by torch's
FlopCounterMode on the bare step) over the rate of a 256-cube matmul on this machine at the same thread count.

With ``--sizes pendulum``: the shipped Pendulum SAC config's sizes (obs 3, action 1, 128x128, batch 128).

With ``--algo td3`` or ``--algo ddpg``: that update instead (the shipped Pendulum config's, QAC's default 64x64 and
batch 128 unless ``--sizes`` says otherwise), against CleanRL's td3_continuous_action written the same way: TD3 with
twin critics, target noise 0.1 clipped at 0.5 and the actor and targets every 2nd update; DDPG one critic, no target
noise, every update. TD3 is timed in pairs of updates (a critic-only one and one with the actor step), the median
pair over 2; the warm-up and every block are even, so both sides do their delayed steps on the same updates.

With ``--device cuda``: both sides on the GPU (each round times ``--iters`` updates between two synchronisations;
no floor). ``--nonfinite-check step|deferred|auto`` sets ding's ``policy.learn.nonfinite_check``; ``--ab-guard``
times ding against itself, 'step' (a host sync per optimizer step) against 'deferred' (none), instead of bare.

Run: python benchmarks/bench_sac_learner.py [--threads 1] [--iters 300] [--rounds 5] [--sizes hopper|pendulum|qac]
     python benchmarks/bench_sac_learner.py --algo td3|ddpg [--sizes qac]
     python benchmarks/bench_sac_learner.py --device cuda [--ab-guard]
Target (issue 16): SAC's ding / bare <= 1.0; print the distance to the floor.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (obs, action, hidden, batch): Hopper-v5 with issue 16's sizes, and the shipped pendulum_sac_config's
# qac: the shipped pendulum_{td3,ddpg}_config's (QAC's default 64x64)
SIZES = {"hopper": (11, 3, 256, 256), "pendulum": (3, 1, 128, 128), "qac": (3, 1, 64, 128)}
DEFAULT_SIZES = {"sac": "hopper", "td3": "qac", "ddpg": "qac"}
OBS, ACT, HIDDEN, BATCH = SIZES["hopper"]
DEVICE = torch.device("cpu")


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def bare_sac_step(lr: float = 3e-4, gamma: float = 0.99, tau: float = 0.005):
    """SAC as a hand-written script does it (CleanRL's sac_continuous_action, twin critics as two MLPs)."""

    def build_adam(params, lr):  # torch's fused Adam, as a script would use it (ding's keeps one flat buffer)
        return torch.optim.Adam(list(params), lr=lr, fused=True)

    actor = mlp([OBS, HIDDEN, HIDDEN, 2 * ACT]).to(DEVICE)
    q1, q2 = mlp([OBS + ACT, HIDDEN, HIDDEN, 1]).to(DEVICE), mlp([OBS + ACT, HIDDEN, HIDDEN, 1]).to(DEVICE)
    q1_target, q2_target = copy.deepcopy(q1), copy.deepcopy(q2)
    q_optimizer = build_adam(list(q1.parameters()) + list(q2.parameters()), lr=lr)
    actor_optimizer = build_adam(actor.parameters(), lr=lr)
    log_alpha = torch.zeros(1, device=DEVICE, requires_grad=True)
    alpha_optimizer = build_adam([log_alpha], lr=lr)
    target_entropy = -float(ACT)

    def sample(obs):
        mu, log_std = actor(obs).chunk(2, -1)
        log_std = log_std.clamp(-20, 2)
        u = mu + log_std.exp() * torch.randn_like(mu)
        action = torch.tanh(u)
        log_prob = (-0.5 * ((u - mu) / log_std.exp()).pow(2) - log_std - 0.9189385).sum(-1)
        log_prob = log_prob - torch.log(1 - action.pow(2) + 1e-6).sum(-1)
        return action, log_prob

    def step(batch):
        batch = {key: torch.from_numpy(value).to(DEVICE) for key, value in batch.items()}
        obs, action, next_obs = batch["obs"], batch["action"], batch["next_obs"]
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_log_prob = sample(next_obs)
            next_in = torch.cat([next_obs, next_action], -1)
            next_q = torch.min(q1_target(next_in), q2_target(next_in)).squeeze(-1) - alpha * next_log_prob
            target = batch["reward"] + batch["discount"] * next_q
        q_in = torch.cat([obs, action], -1)
        q_loss = (q1(q_in).squeeze(-1) - target).pow(2).mean() + (q2(q_in).squeeze(-1) - target).pow(2).mean()
        q_optimizer.zero_grad()
        q_loss.backward()
        q_optimizer.step()
        new_action, log_prob = sample(obs)
        new_in = torch.cat([obs, new_action], -1)
        actor_loss = (alpha * log_prob - torch.min(q1(new_in), q2(new_in)).squeeze(-1)).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_optimizer.step()
        alpha_loss = -(log_alpha * (log_prob.detach() + target_entropy)).mean()
        alpha_optimizer.zero_grad()
        alpha_loss.backward()
        alpha_optimizer.step()
        with torch.no_grad():
            for target_net, net in ((q1_target, q1), (q2_target, q2)):
                torch._foreach_lerp_(list(target_net.parameters()), list(net.parameters()), tau)

    return step


def bare_td3_step(twin: bool, delay: int, noise: bool, lr: float = 1e-3, gamma: float = 0.99, tau: float = 0.005):
    """TD3 (twin, delay 2, target noise) or DDPG (one critic, delay 1, none) as a hand-written script does it
    (CleanRL's td3_continuous_action: critics as separate MLPs, one Adam over them)."""
    actor = nn.Sequential(mlp([OBS, HIDDEN, HIDDEN, ACT]), nn.Tanh()).to(DEVICE)
    critics = [mlp([OBS + ACT, HIDDEN, HIDDEN, 1]).to(DEVICE) for _ in range(2 if twin else 1)]
    actor_target, critic_targets = copy.deepcopy(actor), [copy.deepcopy(q) for q in critics]
    q_optimizer = torch.optim.Adam([p for q in critics for p in q.parameters()], lr=lr, fused=True)
    actor_optimizer = torch.optim.Adam(list(actor.parameters()), lr=lr, fused=True)
    pairs = [(actor_target, actor), *zip(critic_targets, critics, strict=True)]
    iteration = [0]

    def step(batch):
        batch = {key: torch.from_numpy(value).to(DEVICE) for key, value in batch.items()}
        obs, action, next_obs = batch["obs"], batch["action"], batch["next_obs"]
        with torch.no_grad():
            next_action = actor_target(next_obs)
            if noise:
                smoothing = (torch.randn_like(next_action) * 0.1).clamp(-0.5, 0.5)
                next_action = (next_action + smoothing).clamp(-1.0, 1.0)
            next_in = torch.cat([next_obs, next_action], -1)
            next_q = critic_targets[0](next_in)
            for q_target in critic_targets[1:]:
                next_q = torch.min(next_q, q_target(next_in))
            target = batch["reward"] + batch["discount"] * next_q.squeeze(-1)
        q_in = torch.cat([obs, action], -1)
        q_loss = sum((q(q_in).squeeze(-1) - target).pow(2).mean() for q in critics)
        q_optimizer.zero_grad()
        q_loss.backward()
        q_optimizer.step()
        iteration[0] += 1
        if iteration[0] % delay == 0:
            actor_loss = -critics[0](torch.cat([obs, actor(obs)], -1)).mean()
            actor_optimizer.zero_grad()
            actor_loss.backward()
            actor_optimizer.step()
            with torch.no_grad():
                for target_net, net in pairs:
                    torch._foreach_lerp_(list(target_net.parameters()), list(net.parameters()), tau)

    return step


BARE = {
    "sac": bare_sac_step,
    "td3": lambda: bare_td3_step(twin=True, delay=2, noise=True),
    "ddpg": lambda: bare_td3_step(twin=False, delay=1, noise=False),
}


def ding_learner(nonfinite_check: str = "auto", algo: str = "sac"):
    from ding.config import compile_config
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import BaseLearner

    config = importlib.import_module(f"dizoo.classic_control.pendulum.config.pendulum_{algo}_config")

    main = copy.deepcopy(config.main_config)
    create_config = config.create_config
    main.policy.model.update(obs_shape=OBS, action_shape=ACT, actor_head_hidden_size=HIDDEN)
    main.policy.model.critic_head_hidden_size = HIDDEN
    main.policy.learn.batch_size = BATCH
    if algo == "sac":
        main.policy.learn.update(learning_rate_q=3e-4, learning_rate_policy=3e-4, learning_rate_alpha=3e-4)
    else:  # the bare side's TD3/DDPG: target noise 0.1 clipped at 0.5, both learning rates 1e-3
        main.policy.learn.update(learning_rate_actor=1e-3, learning_rate_critic=1e-3, noise_sigma=0.1)
        main.policy.learn.noise_range = dict(min=-0.5, max=0.5)
    main.policy.learn.learner = dict(hook=dict(log_show_after_iter=1000, save_ckpt_after_iter=0))
    main.policy.learn.nonfinite_check = nonfinite_check
    main.policy.cuda = DEVICE.type == "cuda"
    cfg = compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)
    policy = POLICY_REGISTRY.build(algo, cfg.policy)
    return BaseLearner(cfg.policy.learn.learner, policy, Logger(None, enabled=False), tempfile.mkdtemp()).train


def batches(n: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        {
            "obs": rng.standard_normal((BATCH, OBS), dtype=np.float32),
            "action": rng.uniform(-1, 1, (BATCH, ACT)).astype(np.float32),
            "reward": rng.standard_normal(BATCH, dtype=np.float32),
            "next_obs": rng.standard_normal((BATCH, OBS), dtype=np.float32),
            "discount": np.full(BATCH, 0.99, np.float32),
            "weight": np.ones(BATCH, np.float32),
            "index": np.arange(BATCH),
        }
        for _ in range(n)
    ]


def median_step(fn, data, iters: int, group: int = 1) -> float:
    """Seconds per update: the median over blocks of ``group`` updates (TD3: 2, a critic-only update and one with
    the delayed actor step), each block's time over ``group``; CUDA: the mean over all ``iters``."""
    if DEVICE.type == "cuda":  # the GPU runs behind the host: time the whole block, synchronised at both ends
        torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(iters):
            fn(data[i % len(data)])
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / iters
    times = []
    for i in range(0, iters, group):
        start = time.perf_counter()
        for j in range(i, i + group):
            fn(data[j % len(data)])
        times.append((time.perf_counter() - start) / group)
    return statistics.median(times)


def floor_seconds(step, data, group: int = 1) -> tuple[float, float, float]:
    """(matrix-product GFLOP of one update, averaged over ``group`` updates, GFLOP/s of a 256-cube matmul, floor
    seconds)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        for i in range(group):
            step(data[i])
    gflop = counter.get_total_flops() / 1e9 / group
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    for _ in range(20):
        a @ b
    start, n = time.perf_counter(), 2000
    for _ in range(n):
        a @ b
    rate = n * 2 * 256**3 / (time.perf_counter() - start) / 1e9
    return gflop, rate, gflop / rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--algo", choices=sorted(BARE), default="sac")
    parser.add_argument("--sizes", choices=sorted(SIZES), default=None, help="default: hopper (SAC), qac (TD3, DDPG)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--nonfinite-check", choices=["auto", "step", "deferred"], default="auto")
    parser.add_argument("--ab-guard", action="store_true", help="ding 'step' against ding 'deferred' (no bare side)")
    args = parser.parse_args()
    global OBS, ACT, HIDDEN, BATCH, DEVICE
    args.sizes = args.sizes or DEFAULT_SIZES[args.algo]
    OBS, ACT, HIDDEN, BATCH = SIZES[args.sizes]
    group = 2 if args.algo == "td3" else 1  # TD3: the delayed actor step comes every 2nd update
    if args.iters % 2:
        parser.error("--iters must be even (TD3's delayed steps fall alike in every timed block)")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device is visible")
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = batches(16)
    if args.ab_guard:
        names = ("ding, step guard", "ding, deferred guard")
        fns = (ding_learner("step", args.algo), ding_learner("deferred", args.algo))
    else:
        names, fns = ("bare", "ding"), (BARE[args.algo](), ding_learner(args.nonfinite_check, args.algo))
    for _ in range(20):  # warm-up: allocator, first-call imports
        for fn in fns:
            fn(data[0])
    sides = {name: [] for name in names}
    for round_ in range(args.rounds):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for i in order:
            sides[names[i]].append(median_step(fns[i], data, args.iters, group))
    a_t, b_t = (statistics.median(sides[name]) for name in names)
    stat = "mean of each round's block, median over rounds" if DEVICE.type == "cuda" else "median"
    print(
        f"{args.algo.upper()} update, {args.sizes} sizes (obs {OBS}, act {ACT}), {HIDDEN}x{HIDDEN}, "
        f"{'one critic' if args.algo == 'ddpg' else 'twin critics'}, batch {BATCH}, "
        f"{args.device}, {args.threads} thread(s)"
    )
    print(f"  {names[0]:<22}: {a_t * 1e3:7.3f} ms ({stat})")
    print(f"  {names[1]:<22}: {b_t * 1e3:7.3f} ms")
    if args.ab_guard:
        print(f"  ratio deferred/step   : {b_t / a_t:7.3f}")
        return
    print(f"  ratio ding/bare       : {b_t / a_t:7.3f}" + ("   (target <= 1.0)" if args.algo == "sac" else ""))
    if DEVICE.type == "cuda":
        return
    gflop, rate, floor = floor_seconds(BARE[args.algo](), data, group)
    print(
        f"  floor                 : {floor * 1e3:7.2f} ms ({gflop:.3f} GFLOP of matrix products at {rate:.0f} GFLOP/s)"
    )
    print(f"  ding / floor          : {b_t / floor:7.2f}")


if __name__ == "__main__":
    main()
