"""The contract between a policy and the pipelines, declared once and the same for every policy.

A policy offers three modes (DI-engine's names). Each is a frozen dataclass of functions, so what a mode takes and
returns is written here, not discovered per policy:

- :class:`LearnMode` ``forward(batch) -> stats``: one gradient step on a batch of numpy arrays or tensors (the policy
  moves it to its device through :func:`ding.torch_utils.to_tensors`, the one numpy -> torch boundary). Stats are
  numbers or detached 0-dim tensors, plus ``priority`` (B,) numpy when :attr:`DataSpec.priority` is on. On-policy
  policies also cut a collected rollout into minibatches (``minibatches``).
- :class:`CollectMode` ``forward(obs, envstep) -> dict``: numpy in, numpy out; the dict holds ``action`` and whatever
  else the policy's collector stores (PPO: ``logp``, ``value``).
- :class:`EvalMode` ``forward(obs) -> action``: greedy actions, numpy in and out.

:class:`DataSpec` is what the pipelines need to know to feed a policy (how much to collect, batch sizes, n-step,
priority, random collection); they ask the policy for it instead of reading the policy's config.
:class:`BatchField` declares the learn batch, so tests can build valid batches for any policy (the DDP harness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch


@dataclass(frozen=True)
class DataSpec:
    """What a policy needs from the pipeline, on this rank (after ``global_batch`` split the totals over the ranks).

    :param n_sample: transitions per collect.
    :param batch_size: transitions per train iteration (off-policy: sampled from the buffer; on-policy: a minibatch).
    :param update_per_collect: off-policy: train iterations after each collect.
    :param random_collect_size: off-policy: env steps with uniformly random actions before training starts.
    :param nstep: steps of the returns the replay buffer computes at sample time.
    :param discount_factor: gamma of those returns, per env step.
    :param priority: prioritised replay: the learn step returns ``priority`` (B,) for the sampled transitions.
    :param ignore_done: the buffer's returns bootstrap through terminations as through time-limit cuts
        (``policy.learn.ignore_done``).
    """

    n_sample: int
    batch_size: int
    update_per_collect: int = 1
    random_collect_size: int = 0
    nstep: int = 1
    discount_factor: float = 0.99
    priority: bool = False
    ignore_done: bool = False


@dataclass(frozen=True)
class BatchField:
    """One key of a learn batch: per-sample ``shape``, ``dtype`` ('float' is the model's float dtype) and the range
    ``[low, high)`` valid values come from (ints: ``high`` exclusive)."""

    shape: tuple[int, ...]
    dtype: str = "float"
    low: float = -1.0
    high: float = 1.0


def random_batch(fields: Mapping[str, BatchField], batch_size: int, generator: torch.Generator) -> dict:
    """A batch of ``batch_size`` valid random samples for ``fields`` (tensors on the CPU; floats in torch's
    default dtype)."""
    batch = {}
    for key, field in fields.items():
        shape = (batch_size, *field.shape)
        if field.dtype == "float":
            batch[key] = field.low + (field.high - field.low) * torch.rand(shape, generator=generator)
        elif field.dtype == "bool":
            batch[key] = torch.rand(shape, generator=generator) < 0.5
        else:
            batch[key] = torch.randint(int(field.low), int(field.high), shape, generator=generator, dtype=torch.int64)
    return batch


@dataclass(frozen=True)
class LearnMode:
    forward: Callable[[Mapping[str, Any]], dict[str, Any]]  # one gradient step on a batch; returns stats
    state_dict: Callable[[], dict[str, Any]]  # everything a checkpoint holds of the learner's side
    load_state_dict: Callable[[dict[str, Any]], None]
    data_spec: Callable[[], DataSpec]
    # on-policy: rollout (numpy arrays of the RolloutCollector) -> minibatches, one per train iteration; else None
    minibatches: Optional[Callable[[dict[str, np.ndarray]], Iterator[dict[str, torch.Tensor]]]] = None
    get_attribute: Optional[Callable[[str], Any]] = None  # DI-engine's: 'batch_size', 'n_sample', 'nstep', 'cuda' ...
    # the deferred NaN/inf guard's settling (count the skipped steps, raise unless skipping): called by the learner on
    # every rank at the same point (before a checkpoint every rank saves), so the ranks settle alike; None: no guard
    settle_nonfinite: Optional[Callable[[], None]] = None


@dataclass(frozen=True)
class CollectMode:
    forward: Callable[..., dict[str, np.ndarray]]  # (obs (E, *obs_shape), envstep) -> {'action': (E, ...), ...}
    seed: Callable[[int], None]  # seed the exploration's own generator
    info: Callable[[int], dict[str, float]]  # scalars worth logging about exploration at an env step (e.g. eps)
    rng_state: Callable[[], Any]
    set_rng_state: Callable[[Any], None]
    state_dict: Callable[[], dict[str, Any]]
    load_state_dict: Callable[[dict[str, Any]], None]
    value: Optional[Callable[[np.ndarray], np.ndarray]] = None  # on-policy: critic values (N,) of obs, to bootstrap
    get_attribute: Optional[Callable[[str], Any]] = None


@dataclass(frozen=True)
class EvalMode:
    forward: Callable[[np.ndarray], np.ndarray]  # obs (E, *obs_shape) -> greedy actions (E, ...)
    state_dict: Callable[[], dict[str, Any]]
    load_state_dict: Callable[[dict[str, Any]], None]
    get_attribute: Optional[Callable[[str], Any]] = None
    # the state of the evaluation's own draws (e.g. epsilon-greedy evaluation), None when it draws nothing; the
    # evaluator keeps it in checkpoints, so a resumed run evaluates as the uninterrupted one would
    rng_state: Optional[Callable[[], Any]] = None
    set_rng_state: Optional[Callable[[Any], None]] = None
