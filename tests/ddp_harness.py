"""The DDP equivalence harness: for any registered policy and config, 2 ranks training with ``multi_gpu`` on their own
batches end equal to each other and to one process training on the union of their batches.

Batches come from the policy's declared learn batch (``Policy.learn_batch_fields``), so a new policy needs no code
here: it adds one line to :data:`CASES`. Everything the policy trains or derives from trained weights
(``Policy._trained_modules``: model, target nets, a temperature) is compared. Runs are in float64 (see
``tests.dist_helpers.float64_default``). Worker functions live here so spawned ranks can import them.
"""

from __future__ import annotations

import copy
import importlib
import os
from typing import NamedTuple, Optional

import torch

from ding.policy.dqn import DQNPolicy
from ding.policy.iqn import IQNPolicy
from ding.torch_utils import build_adam
from ding.torch_utils.shared_noise import rank_rand, rank_randint
from ding.utils.registry import POLICY_REGISTRY
from tests.dist_helpers import EQUIVALENCE_RTOL, float64_default, relative_error

ITERS = 8  # train iterations per rank
BATCH = 16  # samples per rank and iteration (the union batch is world * BATCH)


class Case(NamedTuple):
    config: str  # module defining main_config and create_config
    overrides: dict  # policy keys set on top (dotted within policy), e.g. {"learn.target_update_freq": 3}
    policy_type: Optional[str] = None  # a registered policy type other than the config's


DRQ_SMALL = {
    "model.encoder_hidden_size_list": [32, 64, 256],
    "model.encoder_kernel_size": [5, 5],
    "model.encoder_stride": [5, 5],
    "learn.target_update_freq": 3,
}

# One line per policy (and per variant worth proving): every new policy adds its own.
CASES = {
    "dqn": Case(
        "dizoo.classic_control.cartpole.config.cartpole_dqn_config",
        # target copies inside the run; PER weights in the loss
        {"learn.target_update_freq": 3, "priority": True, "priority_IS_weight": True},
    ),
    # a target copied after every update: the learn step reuses the online forward on s' (DrQ(eps)'s period)
    "dqn_target_every_update": Case(
        "dizoo.classic_control.cartpole.config.cartpole_dqn_config", {"learn.target_update_freq": 1}
    ),
    "dqn_overlap_soft_target": Case(
        "dizoo.classic_control.cartpole.config.cartpole_dqn_config",
        {"learn.grad_sync_overlap": True, "learn.target_update_freq": 0},
    ),
    # several optimizers over one graph (the shape of SAC's critic, actor and temperature updates), with overlap
    "two_optimizers": Case(
        "dizoo.classic_control.cartpole.config.cartpole_dqn_config",
        {"learn.grad_sync_overlap": True, "learn.target_update_freq": 0},
        "dqn_two_optimizers",
    ),
    "two_optimizers_no_overlap": Case(
        "dizoo.classic_control.cartpole.config.cartpole_dqn_config", {}, "dqn_two_optimizers"
    ),
    "sac": Case("dizoo.classic_control.pendulum.config.pendulum_sac_config", {}),
    "sac_fixed_alpha_per": Case(
        "dizoo.classic_control.pendulum.config.pendulum_sac_config",
        {"learn.auto_alpha": False, "priority": True, "priority_IS_weight": True},
    ),
    # the NaN/inf verdict handed to the fused kernel (found_inf) instead of read on the host: what CUDA runs do
    "sac_deferred_guard": Case(
        "dizoo.classic_control.pendulum.config.pendulum_sac_config", {"learn.nonfinite_check": "deferred"}
    ),
    "td3": Case("dizoo.classic_control.pendulum.config.pendulum_td3_config", {"learn.grad_sync_overlap": True}),
    "ddpg": Case("dizoo.classic_control.pendulum.config.pendulum_ddpg_config", {}),
    # a step proportional to the gradient: a sum taken for the mean shows in the weights by its full factor
    "sgd": Case("dizoo.classic_control.cartpole.config.cartpole_dqn_config", {}, "dqn_sgd"),
    "ppo_discrete": Case("dizoo.classic_control.cartpole.config.cartpole_ppo_config", {}),
    "ppo_deferred_guard_clipped": Case(
        "dizoo.classic_control.cartpole.config.cartpole_ppo_config",
        {"learn.nonfinite_check": "deferred", "learn.grad_clip_type": "clip_norm", "learn.grad_clip_value": 0.5},
    ),
    "ppo_continuous": Case("dizoo.classic_control.pendulum.config.pendulum_ppo_config", {"learn.entropy_weight": 0.01}),
    # noisy layers draw the same noise on every rank (one draw per forward): C51 with Rainbow's head, PER weights
    "c51_noisy_dueling": Case(
        "dizoo.classic_control.cartpole.config.cartpole_c51_config",
        {"model.noise": True, "model.dueling": True, "priority_IS_weight": True, "learn.target_update_freq": 3},
    ),
    "qrdqn": Case("dizoo.classic_control.cartpole.config.cartpole_qrdqn_config", {"learn.target_update_freq": 3}),
    "rainbow": Case("dizoo.classic_control.cartpole.config.cartpole_rainbow_config", {"learn.target_update_freq": 0}),
    # IQN's fractions: drawn per sample on every rank for the union batch; with Rainbow's noisy dueling head
    "iqn_noisy_dueling": Case(
        "dizoo.classic_control.cartpole.config.cartpole_iqn_config",
        {"model.noise": True, "model.dueling": True, "learn.target_update_freq": 3},
    ),
    # the same fractions drawn by each rank for its own rows: must differ from one process on the union
    "iqn_unshared_tau": Case(
        "dizoo.classic_control.cartpole.config.cartpole_iqn_config", {"learn.target_update_freq": 3}, "iqn_unshared_tau"
    ),
    # DrQ(eps)'s augmentation: one crop and one intensity factor per image, drawn on every rank for the union batch
    # (DER's small encoder: cheap)
    "drq_eps_random_shift": Case("dizoo.atari.config.atari100k.pong_drq_eps_config", DRQ_SMALL),
    # DER as shipped: the flat conv maps into each stream's noisy layer, 20-step C51, PER weights
    "der": Case("dizoo.atari.config.atari100k.pong_der_config", {"learn.target_update_freq": 3}),
    # Dopamine's network options: 'SAME' pads (DER's 5x5/5 kernels: an explicit pad layer, 84 -> 17 -> 4) and Xavier init
    "drq_eps_same_padding_xavier": Case(
        "dizoo.atari.config.atari100k.pong_drq_eps_config",
        {**DRQ_SMALL, "model.encoder_padding": "same", "model.init_type": "xavier"},
    ),
    # the same with each rank drawing its own crops: must differ from one process on the union (the check can fail)
    "drq_eps_random_shift_unshared": Case(
        "dizoo.atari.config.atari100k.pong_drq_eps_config", DRQ_SMALL, "dqn_unshared_crops"
    ),
    # intensity alone (no shifts), each rank drawing its own factors: must differ too
    "drq_eps_intensity_unshared": Case(
        "dizoo.atari.config.atari100k.pong_drq_eps_config",
        {**DRQ_SMALL, "learn.random_shift_pad": 0},
        "dqn_unshared_intensity",
    ),
}
# cases whose sharing is broken on purpose
MUST_DIFFER = {"drq_eps_random_shift_unshared", "drq_eps_intensity_unshared", "iqn_unshared_tau"}


@POLICY_REGISTRY.register("dqn_two_optimizers")
class TwoOptimizerDQN(DQNPolicy):
    """DQN whose head and encoder step with optimizers and losses of their own, one after the other, as SAC's
    critic, actor and temperature do: the TD loss steps the head (its backward also reaches the encoder, whose
    gradients are then zeroed, not used), a small penalty on Q steps the encoder. Each optimizer's parameters must
    be averaged over the ranks by their own buckets."""

    def _init_learn(self) -> None:
        super()._init_learn()
        lr = self._cfg.learn.learning_rate
        self._optimizer = build_adam(self._model.head.parameters(), lr=lr)
        self._encoder_optimizer = build_adam(self._model.encoder.parameters(), lr=lr)

    def _forward_learn(self, batch):
        stats = super()._forward_learn(batch)  # the TD step of the head
        q = self._model(torch.as_tensor(batch["obs"]))["logit"]
        self._optimize(0.01 * q.pow(2).mean(), self._encoder_optimizer)
        return stats


@POLICY_REGISTRY.register("dqn_unshared_crops")
class UnsharedCropsDQN(DQNPolicy):
    """DQN whose random-shift crops come from a generator of each rank's own (seeded per rank), as if the crops
    were drawn without the sharing of ding.torch_utils.shared_noise: the harness must tell it from one process."""

    def _init_learn(self) -> None:
        super()._init_learn()
        self._augment_rng = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))

    def _crop_offsets(self, rows: int) -> torch.Tensor:
        return rank_randint(self._augment_rng, rows, 2 * self._shift_pad + 1, (2, 2), all_ranks=False)


@POLICY_REGISTRY.register("dqn_unshared_intensity")
class UnsharedIntensityDQN(DQNPolicy):
    """DQN whose intensity factors come from a generator of each rank's own (seeded per rank), drawn for its rows
    only: the harness must tell it from one process."""

    def _init_learn(self) -> None:
        super()._init_learn()
        self._own_rng = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))

    def _intensity_normal(self, rows: int) -> torch.Tensor:
        return torch.randn((rows, 2), generator=self._own_rng)


@POLICY_REGISTRY.register("iqn_unshared_tau")
class UnsharedTauIQN(IQNPolicy):
    """IQN whose fractions come from a generator of each rank's own (seeded per rank), drawn for its rows only, as
    if they were drawn without the sharing of ding.torch_utils.shared_noise: the harness must tell it from one
    process."""

    def _init_learn(self) -> None:
        super()._init_learn()
        self._tau_rng = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))

    def _draw_tau(self, rows: int) -> torch.Tensor:
        return rank_rand(self._tau_rng, rows, (self._n_tau,), all_ranks=False)


@POLICY_REGISTRY.register("dqn_sgd")
class SGDDQN(DQNPolicy):
    """DQN stepping with plain SGD. Adam's step hardly depends on the gradient's scale (only through its epsilon),
    so with Adam a gradient sum over the ranks taken for their mean moves the weights almost as the mean would;
    SGD's step is proportional to the gradient."""

    def _init_learn(self) -> None:
        super()._init_learn()
        self._optimizer = torch.optim.SGD(self._model.parameters(), lr=0.2)


def compiled_config(case: str, multi_gpu: bool, cuda: bool = False):
    from ding.config import compile_config

    module = importlib.import_module(CASES[case].config)
    main, create = copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)
    main.policy.cuda = cuda
    main.policy.setdefault("learn", {})["multi_gpu"] = multi_gpu
    main.policy.pop("multi_gpu", None)
    if CASES[case].policy_type is not None:
        create.policy = dict(type=CASES[case].policy_type, import_names=["tests.ddp_harness"])
    for key, value in CASES[case].overrides.items():
        *sections, name = key.split(".")
        node = main.policy
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return compile_config(main, create_cfg=create, save_cfg=False)


def policy_class(cfg):
    from ding.utils.registry import POLICY_REGISTRY

    return POLICY_REGISTRY.get(cfg.policy.type)


def rank_batches(cfg, rank: int, iters: int = ITERS) -> list[dict[str, torch.Tensor]]:
    """Rank ``rank``'s batches: valid random samples of the policy's declared learn batch."""
    from ding.policy.contract import random_batch

    fields = policy_class(cfg).learn_batch_fields(cfg.policy)
    generator = torch.Generator().manual_seed(1000 + rank)
    return [random_batch(fields, BATCH, generator) for _ in range(iters)]


def trained_state(policy) -> dict[str, torch.Tensor]:
    """Every tensor the policy trains or derives from trained weights, by dotted name, on the CPU."""
    state = {}
    for prefix, item in policy._trained_modules().items():
        if isinstance(item, torch.nn.Module):
            state.update({f"{prefix}.{k}": v.detach().cpu().clone() for k, v in item.state_dict().items()})
        else:
            state[prefix] = item.detach().cpu().clone()
    return state


def train_rank(out_dir: str, cases: list[str], cuda: bool = False) -> None:
    """One rank: each case's policy from a rank-specific init (rank 0's must win), trained on this rank's batches."""
    from ding.utils import DistContext

    with DistContext(timeout_s=120):
        train_cases(out_dir, cases, cuda)


def train_cases(out_dir: str, cases: list[str], cuda: bool = False) -> None:
    """:func:`train_rank` inside a process group the caller started (a multi-node job that also does other work)."""
    from ding.utils import get_rank

    with float64_default():
        rank = get_rank()
        for case in cases:
            cfg = compiled_config(case, multi_gpu=True, cuda=cuda)
            torch.manual_seed(rank)  # a different init on every rank: the broadcast at init must make them equal
            policy = policy_class(cfg)(cfg.policy)
            for batch in rank_batches(cfg, rank):
                policy.learn_mode.forward(batch)
            torch.save(trained_state(policy), os.path.join(out_dir, f"{case}_r{rank}.pt"))


def union_reference(case: str, world: int) -> dict[str, torch.Tensor]:
    """One process, rank 0's initial weights, trained on the union of the ranks' batches (rank 0's samples first)."""
    with float64_default():
        cfg = compiled_config(case, multi_gpu=False)
        torch.manual_seed(0)
        policy = policy_class(cfg)(cfg.policy)
        per_rank = [rank_batches(cfg, rank) for rank in range(world)]
        for step in range(ITERS):
            union = {key: torch.cat([batches[step][key] for batches in per_rank]) for key in per_rank[0][step]}
            policy.learn_mode.forward(union)
        return trained_state(policy)


def check_equivalence(out_dir: str, case: str, world: int = 2) -> None:
    """Ranks bit-identical; rank 0 within EQUIVALENCE_RTOL of the union reference, every trained tensor."""
    saved = [torch.load(os.path.join(out_dir, f"{case}_r{rank}.pt")) for rank in range(world)]
    for rank in range(1, world):
        for key, value in saved[0].items():
            assert torch.equal(value, saved[rank][key]), f"{case} {key} differs between rank 0 and rank {rank}"
    reference = union_reference(case, world)
    assert reference.keys() == saved[0].keys()
    for key, value in reference.items():
        if not value.is_floating_point():
            assert torch.equal(saved[0][key], value), f"{case} {key}"
            continue
        err = relative_error(saved[0][key], value)
        assert err <= EQUIVALENCE_RTOL, f"{case} {key}: relative error {err:.2e} against one process on the union"
