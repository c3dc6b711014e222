"""The learner: runs the policy's train step and its hooks (logging, checkpoints)."""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import torch
from easydict import EasyDict

from ding.config.rules import at_least
from ding.policy.base_policy import NonFiniteError
from ding.torch_utils.denormals import flush_denormals
from ding.utils.arguments import check_int
from ding.utils.checkpoint import (
    SNAPSHOT_META,
    CheckpointError,
    buffer_snapshot_name,
    link_latest,
    load_arrays,
    load_checkpoint,
    save_arrays,
    save_checkpoint,
    tensors_finite,
)
from ding.utils.checkpoint_writer import BackgroundWriter
from ding.utils.dist import allreduce, get_rank, get_world_size, is_main_process, mark_progress
from ding.utils.log_helper import component_logger, format_stats
from ding.utils.malloc import tune_malloc
from ding.worker.transitions import TransitionList, stack_transitions

SAMPLE_KEYS = ("obs", "action", "reward", "next_obs", "discount", "weight")  # what an off-policy train step reads
# what a list's dicts must hold (a hand-made list, as DI-engine's, may leave out the importance weight, and give a
# single-step policy DI-engine's 'done' instead of 'discount': see BaseLearner._hand_made_keys)
REQUIRED_SAMPLE_KEYS = ("obs", "action", "reward", "next_obs")


class BaseLearner:
    """Counts train iterations, averages the policy's stats for the log, and saves checkpoints.

    Two call forms. The pipelines': ``BaseLearner(cfg, policy, logger, exp_name, run_config=cfg)`` with ding's
    :class:`Logger`, then ``train(batch)`` once per gradient step. DI-engine's hand-written loops':
    ``BaseLearner(cfg, policy.learn_mode, tb_logger, exp_name=...)`` with a SummaryWriter (or None): log lines go
    to stdout and ``<exp_name>/log/<instance_name>.log``, scalars to ``tb_logger`` (rank 0 only), and
    ``train(data)`` takes DI-engine's lists: a replay sample (one gradient step) or, for an on-policy policy, a
    whole collect (its minibatches, one train iteration each, as ``serial_pipeline_onpolicy`` runs them).

    :param cfg: ``policy.learn.learner`` of the compiled config.
    :param policy: the policy or its ``learn_mode``.
    :param tb_logger: ding's :class:`Logger`, or DI-engine's ``tb_logger`` (a SummaryWriter or None).
    :param exp_name: experiment folder; checkpoints go to ``<exp_name>/ckpt/``.
    :param run_config: the compiled config, stored in every checkpoint (None: checkpoints hold no config).
    :param dist_info: DI-engine's (rank, world size); ding reads them from the process group: must be None.
    :param instance_name: the name of the text log (DI-engine's call form).
    """

    FOLD_EVERY = 256  # steps' stats kept before they are summed: bounds memory under a long log interval
    # stats that are running totals, logged as their latest value rather than a mean over the window
    TOTAL_STATS = ("nonfinite_steps",)
    config = dict(
        hook=dict(
            load_ckpt_before_run="",  # checkpoint loaded into the learner before training ('' = none)
            log_show_after_iter=100,  # train iterations between log lines / TensorBoard points of train stats
            save_ckpt_after_iter=10000,  # train iterations between iteration_<N>.pth.tar checkpoints
            save_ckpt_after_run=True,  # save a final checkpoint when training ends
            save_replay_buffer=False,  # with each iteration/final/preemption checkpoint, snapshot the replay buffer
        ),
    )
    config_rules = {"hook.log_show_after_iter": at_least(1)}  # save_ckpt_after_iter may be 0: no iteration files

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        policy: Any = None,
        tb_logger: Any = None,
        exp_name: str = "default_experiment",
        run_config: Optional[dict] = None,
        *,
        dist_info: Any = None,
        instance_name: str = "learner",
    ) -> None:
        if policy is None:
            raise TypeError("BaseLearner needs the policy (or policy.learn_mode)")
        if dist_info is not None:
            raise ValueError(
                "BaseLearner(dist_info=...) is not supported: ding reads rank and world size from the process group "
                "(run inside `with DistContext():`)"
            )
        tune_malloc()  # a step's large buffers stay in the heap between steps (ding/utils/malloc.py)
        flush_denormals()  # Adam's decaying moments slow every op ~100x in the denormal range (torch_utils/denormals.py)
        self._cfg = cfg
        self._policy = getattr(policy, "learn_mode", policy)
        self._logger = component_logger(tb_logger, exp_name, instance_name)
        self._owns_logger = self._logger is not tb_logger  # DI-engine's form: this learner's own text log
        if self._owns_logger and self._policy.get_attribute is not None:  # as the pipelines do for their run
            from ding.torch_utils.threads import limit_cpu_threads

            get = self._policy.get_attribute
            limit_cpu_threads(get("model"), torch.device(get("device")), self._logger, get("batch_size"))
        self.priority_info: dict[str, np.ndarray] = {}  # DI-engine's: the last step's new priorities (PER)
        self.ckpt_dir = os.path.join(exp_name, "ckpt")
        self.train_iter = 0
        self.envstep = 0  # latest collector env step, stored in checkpoints
        self._pending: list[dict[str, Any]] = []  # stats of the steps since the last fold
        self._stat_sums: dict[str, float] = {}  # sums over the log window (a key may be missing in some steps)
        self._key_counts: dict[str, int] = {}  # steps of the window that reported each key (TD3's delayed actor)
        self._stat_count = 0
        self._window_start = time.perf_counter()
        self._window_iter = 0
        self.last_stats: dict[str, float] = {}
        self._extras: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._buffer: Any = None
        self.config = run_config  # the compiled config, stored in every checkpoint
        self._config_copy: Optional[tuple[dict, dict]] = None  # (config, its deep copy) for state_dict
        self._writer = BackgroundWriter()  # the best checkpoint's writes, off the loop

    def register_state(self, name: str, get_state: Callable[[], Any], set_state: Callable[[Any], None]) -> None:
        """Add another component's state (collector counters, RNGs, ...) to every checkpoint under ``name``."""
        self._extras[name] = (get_state, set_state)

    def attach_buffer(self, buffer: Any) -> None:
        """The replay buffer to snapshot beside checkpoints when ``hook.save_replay_buffer`` is on."""
        self._buffer = buffer

    @property
    def policy(self) -> Any:
        """The policy's learn mode (DI-engine's ``learner.policy``, e.g. ``learner.policy.get_attribute('batch_size')``)."""
        return self._policy

    @property
    def last_iter(self) -> Any:
        """DI-engine's counter object: ``learner.last_iter.val`` is :attr:`train_iter`."""
        return EasyDict(val=self.train_iter)

    def train(
        self, batch: Any, envstep: Optional[int] = None, policy_kwargs: Optional[dict[str, Any]] = None
    ) -> dict[str, Any]:
        """One train iteration on ``batch``; returns the policy's stats for this step (numbers or detached
        tensors: they are kept until the next log line).

        DI-engine's lists are taken too: a replay sample (``AdvancedReplayBuffer.sample``) is one iteration; an
        on-policy collect (``SampleSerialCollector.collect``) is as many iterations as it has minibatches, and the
        last one's stats are returned. DI-engine's ``policy_kwargs`` must be empty (ding's learn forward takes none).
        """
        if policy_kwargs:
            raise ValueError(
                f"BaseLearner.train(policy_kwargs={policy_kwargs!r}): ding's learn forward takes no keyword arguments"
            )
        if envstep is not None:
            check_int(envstep, "BaseLearner.train(envstep", 0, "collector.envstep, or None")
        if batch is None:
            raise TypeError(
                "learner.train got None (replay_buffer.sample returns None while it holds fewer than batch_size "
                "transitions): skip the train step then, `if train_data is None: break`"
            )
        if isinstance(batch, list):
            return self._train_list(batch, envstep)
        if not isinstance(batch, dict):
            raise TypeError(
                f"learner.train takes replay_buffer.sample's list (or collector.collect's, on-policy) or a dict of "
                f"arrays; got a {type(batch).__name__}"
            )
        return self._train_step(batch, envstep)

    def _train_list(self, data: list, envstep: Optional[int]) -> dict[str, Any]:
        minibatches = self._policy.minibatches
        if minibatches is None:
            try:
                batch = self._hand_made_keys(data, stack_transitions(data, required=REQUIRED_SAMPLE_KEYS))
            except (TypeError, ValueError) as err:
                raise TypeError(
                    f"learner.train takes replay_buffer.sample's list, whose dicts hold {list(SAMPLE_KEYS)} (reward: "
                    f"the n-step return, discount: the bootstrap factor; weight may be left out; a single-step "
                    f"policy also takes DI-engine's 'done' for 'discount'); {err}. Shape rewards by editing the "
                    f"sampled dicts' values (x['reward'] = ...), keeping their keys"
                ) from None
            stats = self._train_step(batch, envstep)
            if "priority" in stats and "index" in batch:
                self.priority_info = {"priority": stats["priority"], "replay_buffer_idx": batch["index"]}
            return stats
        rollout = data.source if isinstance(data, TransitionList) and not data.edited() else None
        if not isinstance(rollout, dict):
            raise TypeError(
                "an on-policy learner trains on what SampleSerialCollector.collect returned, unchanged (its rollout "
                "arrays: advantages are computed from them); a list of transitions changed or built by hand, or "
                "whose dicts were edited, has no rollout to cut into minibatches"
            )
        stats: dict[str, Any] = {}
        for minibatch in minibatches(rollout):
            stats = self._train_step(minibatch, envstep)
        return stats

    def _hand_made_keys(self, data: list, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``batch`` (``data`` stacked) with the keys a hand-made list may leave out, as DI-engine's policies read
        such lists: no ``weight``: ones (no importance correction); no ``discount`` but ``done`` (single-step
        returns only): gamma * (1 - done), or gamma with ``learn.ignore_done``. Raises ValueError for a list that
        has neither, and for one whose dicts hold ``weight`` or ``discount`` in some dicts only (stacking keeps the
        shared keys: they would be lost)."""
        size = len(batch["reward"])
        for key in ("weight", "discount"):
            if key not in batch:
                have = sum(key in item for item in data)
                if have:
                    raise ValueError(f"{have} of its {len(data)} dicts hold '{key}': give it in every dict or in none")
        if "discount" not in batch:
            spec = self._policy.data_spec()
            if "done" not in batch:
                raise ValueError("its dicts lack ['discount'] (or DI-engine's 'done', for a single-step policy)")
            if spec.nstep != 1:
                raise ValueError(
                    f"its dicts hold 'done' but no 'discount': 'done' stands for the discount of single-step returns "
                    f"only, and this policy learns from {spec.nstep}-step ones (nstep={spec.nstep}); give each dict "
                    f"'discount' = gamma**k if the k-step return bootstraps, 0 if it ends in a termination"
                )
            # with ignore_done a termination bootstraps too: every discount is gamma
            done = (
                np.zeros(size, np.float32) if spec.ignore_done else np.asarray(batch["done"], np.float32).reshape(size)
            )
            batch = {**batch, "discount": (spec.discount_factor * (1.0 - done)).astype(np.float32)}
        if "weight" not in batch:
            batch = {**batch, "weight": np.ones(size, np.float32)}
        return batch

    def _train_step(self, batch: Any, envstep: Optional[int]) -> dict[str, Any]:
        if envstep is not None:
            self.envstep = envstep
        try:
            stats = self._policy.forward(batch)
        except NonFiniteError as err:  # where it happened, which only the learner knows
            raise self._where(err, self.train_iter + 1) from None
        self.train_iter += 1
        mark_progress()
        self._pending.append(stats)  # summed at the next log line (or every FOLD_EVERY steps), see _fold
        if len(self._pending) >= self.FOLD_EVERY:
            self._fold()
        hook = self._cfg.hook
        if self.train_iter % hook.log_show_after_iter == 0:
            self._log()
        if hook.save_ckpt_after_iter and self.train_iter % hook.save_ckpt_after_iter == 0:
            self.save_checkpoint(f"iteration_{self.train_iter}.pth.tar")
        return stats

    def _where(self, err: NonFiniteError, train_iter: int) -> NonFiniteError:
        return NonFiniteError(f"train iteration {train_iter} (env step {self.envstep}): {err}")

    def _fold(self) -> None:
        """Add the buffered steps' stats to the log window's sums, one stack and sum per key: a step's tensor
        stats cost no torch op and, on a GPU, no host sync of their own."""
        pending, self._pending = self._pending, []
        self._stat_count += len(pending)
        keys = dict.fromkeys(key for stats in pending for key in stats)
        keys.pop("priority", None)  # per-sample values go back to the buffer, not to the log
        for key in keys:
            values = [stats[key] for stats in pending if key in stats]
            tensors = [value for value in values if isinstance(value, torch.Tensor)]
            if len(tensors) == len(values):
                total = float(torch.stack(tensors).double().sum())
            elif not tensors:
                total = math.fsum(values)
            else:  # a key reported as a tensor in some steps and as a number in others
                total = math.fsum(float(value) for value in values)
            if key in self.TOTAL_STATS:  # a running total: its latest value
                self._stat_sums[key], self._key_counts[key] = float(values[-1]), 1
                continue
            self._stat_sums[key] = self._stat_sums.get(key, 0.0) + total
            self._key_counts[key] = self._key_counts.get(key, 0) + len(values)

    def _log(self) -> None:
        self._fold()
        elapsed = time.perf_counter() - self._window_start
        # each key's mean over the steps that reported it (TD3's policy_loss: the actor's steps only)
        means = {key: value / self._key_counts[key] for key, value in self._stat_sums.items()}
        means["train_iter_per_sec"] = (self.train_iter - self._window_iter) / max(elapsed, 1e-9)
        if get_world_size() > 1:  # the mean over ranks (every rank logs at the same iteration)
            values = allreduce(torch.tensor(list(means.values()), dtype=torch.float64), op="mean")
            means = dict(zip(means, values.tolist(), strict=True))
        self.last_stats = means
        self._logger.scalars("learner_iter", means, self.train_iter)
        self._logger.scalars("learner_step", means, self.envstep)
        self._logger.info(f"[learner] iter={self.train_iter} envstep={self.envstep} {format_stats(means)}")
        self._stat_sums, self._key_counts, self._stat_count = {}, {}, 0
        self._window_start, self._window_iter = time.perf_counter(), self.train_iter

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds: the policy's learn state, the counters, registered extras, the config."""
        state = self._policy.state_dict()
        state["last_iter"] = self.train_iter
        state["envstep"] = self.envstep
        for name, (get_state, _) in self._extras.items():
            state[name] = get_state()
        if self.config is not None:
            # as plain dicts and lists (loadable without easydict), copied once per config object: a deep copy
            # of the compiled EasyDict at every save cost 0.1-0.4 ms; callers must not mutate the returned copy
            if self._config_copy is None or self._config_copy[0] is not self.config:
                self._config_copy = (self.config, _plain_copy(self.config))
            state["config"] = self._config_copy[1]
        return state

    def save_checkpoint(
        self, name: Optional[str] = None, latest: Optional[bool] = None, background: bool = False
    ) -> Optional[str]:
        """Write ``<exp_name>/ckpt/<name>`` atomically (rank 0); returns its path. ``name`` None:
        ``iteration_<train_iter>.pth.tar`` (DI-engine's default).

        ``latest`` (None: True, but for ``ckpt_best*``, which the evaluator saves on rank 0 alone): also point ``ckpt/latest.pth.tar`` at it (what resume loads) and, with
        ``hook.save_replay_buffer``, snapshot this rank's replay buffer. Call it on every rank at the same point
        for such saves (the buffer snapshot is per rank); ``ckpt_best`` is saved by rank 0 alone with latest=False.
        ``background`` (with latest=False): the state is copied now and written by a thread (the evaluator's best
        checkpoint, inside the loop; see ding.utils.checkpoint_writer); the file is complete after
        :meth:`flush_writes`, which every other save, :meth:`after_run` and the pipeline's end call first.
        A model holding NaN/inf is not written: the error is logged and the earlier checkpoints stay.
        """
        if name is None:
            name = f"iteration_{self.train_iter}.pth.tar"
        if latest is None:
            latest = not name.startswith("ckpt_best")
        path = os.path.join(self.ckpt_dir, name)
        settle = getattr(self._policy, "settle_nonfinite", None)
        if latest and settle is not None:  # every rank saves these at the same point: the guard settles alike
            try:
                settle()
            except NonFiniteError as err:
                raise self._where(err, self.train_iter) from None
        if latest and self._cfg.hook.save_replay_buffer and self._buffer is not None:
            state = self._buffer.state_dict(copy_arrays=False)
            # which checkpoint and rank it goes with: resume checks it against the checkpoint it loads
            state[SNAPSHOT_META] = {"train_iter": self.train_iter, "rank": get_rank(), "world_size": get_world_size()}
            save_arrays(state, self.buffer_snapshot_dir())
        if not is_main_process():
            return None
        state = self.state_dict()
        if background and not latest:
            if not tensors_finite(state.get("model", {})):
                self._logger.info(f"[learner] not writing checkpoint '{path}': the model's parameters hold NaN or inf")
                return None
            return self._writer.submit(state, path)
        self.flush_writes()
        try:
            save_checkpoint(state, path)
        except ValueError as err:
            self._logger.info(f"[learner] {err}")
            return None
        if latest:
            link_latest(path)
        return path

    def flush_writes(self) -> None:
        """Wait for a checkpoint being written in the background (raises its error if the write failed)."""
        self._writer.flush()

    def close(self) -> None:
        """Wait for a background checkpoint write at the end of a run, and log (not raise) a failure of it: the
        run may be ending on another error."""
        error = self._writer.close()
        if error is not None:
            self._logger.info(f"[learner] writing a checkpoint failed: {type(error).__name__}: {error}")
        if self._owns_logger:
            self._logger.close()

    def call_hook(self, name: str) -> Any:
        """DI-engine's ``learner.call_hook('before_run' | 'after_run')``: :meth:`before_run` (load
        ``hook.load_ckpt_before_run``) or :meth:`after_run` (last log line, ``final.pth.tar``)."""
        hooks = {"before_run": self.before_run, "after_run": self.after_run}
        if name not in hooks:
            raise ValueError(
                f"learner.call_hook('{name}'): ding's learner runs its per-iteration hooks (log, checkpoints) inside "
                f"train(); call_hook takes {sorted(hooks)}"
            )
        return hooks[name]()

    def load_checkpoint(
        self, path: str, restore_extras: bool = True, state: Optional[dict[str, Any]] = None
    ) -> dict[str, Any]:
        """Load the policy state, the counters and (``restore_extras``) the registered extras from a checkpoint
        (``state``: the file at ``path`` already read, not read again)."""
        if state is None:
            state = load_checkpoint(path)
        self._policy.load_state_dict(state)
        self.train_iter = int(state.get("last_iter", 0))
        self.envstep = int(state.get("envstep", 0))
        self._window_iter = self.train_iter
        if restore_extras:
            for name, (_, set_state) in self._extras.items():
                if name in state:
                    set_state(state[name])
        return state

    def buffer_snapshot_dir(self) -> str:
        """This rank's replay buffer snapshot: ``ckpt/replay_buffer`` in a single process; under DDP every rank,
        rank 0 included, has its own ``ckpt/replay_buffer_rank<R>`` (the ranks' buffers hold different data)."""
        return os.path.join(self.ckpt_dir, buffer_snapshot_name(get_rank(), get_world_size()))

    def read_buffer_snapshot(self) -> Optional[dict[str, Any]]:
        """This rank's replay buffer snapshot, checked against the buffer (fields and shapes) but not loaded yet
        (its arrays are memory-mapped), or None when there is none. ``state[SNAPSHOT_META]``: the checkpoint's
        ``train_iter``, the ``rank`` and ``world_size`` it was written with (absent in an older ding's snapshot).

        :raises CheckpointError: a file of the snapshot is truncated or corrupt, or it does not fit the buffer.
        """
        path = self.buffer_snapshot_dir()
        if self._buffer is None or not os.path.isdir(path):
            return None
        state = load_arrays(path, mmap=True)
        for key, value in self._buffer.state_dict(copy_arrays=False).items():
            if key not in state:
                raise CheckpointError(path, f"lacks the buffer's '{key}'", what="replay buffer snapshot")
            if isinstance(value, np.ndarray) and state[key].shape != value.shape:
                raise CheckpointError(
                    path,
                    f"does not fit this run's replay buffer ('{key}' has shape {state[key].shape}, the buffer "
                    f"{value.shape}): it was written with another replay_buffer_size or env count",
                    what="replay buffer snapshot",
                )
        return state

    def load_buffer_snapshot(self, state: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
        """Copy this rank's replay buffer snapshot (``state`` from :meth:`read_buffer_snapshot`, read here when not
        given) into the buffer; returns its ``SNAPSHOT_META`` facts ({} for an older ding's), None when there is
        none."""
        if state is None:
            state = self.read_buffer_snapshot()
            if state is None:
                return None
        state = dict(state)
        meta = dict(state.pop(SNAPSHOT_META, None) or {})
        self._buffer.load_state_dict(state)
        return meta

    def before_run(self) -> None:
        if self._cfg.hook.load_ckpt_before_run:
            self.load_checkpoint(self._cfg.hook.load_ckpt_before_run, restore_extras=False)
            self._logger.info(f"[learner] loaded {self._cfg.hook.load_ckpt_before_run} at iter={self.train_iter}")

    def after_run(self) -> Optional[str]:
        self.flush_writes()
        if self._stat_count or self._pending:
            self._log()
        if self._cfg.hook.save_ckpt_after_run:
            return self.save_checkpoint("final.pth.tar")
        return None


def _plain_copy(value: Any) -> Any:
    """A deep copy of a config with every dict (EasyDict included) as a plain dict; lists and tuples stay such.

    Any other object (an ``nn.Module`` given as a model's activation, a class) is stored as its ``repr``: the
    checkpoint must load with ``torch.load(weights_only=True)``, which refuses arbitrary objects.
    """
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain_copy(item) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):  # a numpy number: its Python value
        return value.item()
    return repr(value)
