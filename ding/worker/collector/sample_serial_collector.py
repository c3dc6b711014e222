"""The sample collector: steps the vectorised collector envs with the policy and writes into the replay buffer."""

from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np
from easydict import EasyDict

from ding.config.config import ConfigError
from ding.envs.normalize import EnvNormalizer
from ding.utils import budget
from ding.utils.arguments import check_int
from ding.utils.dist import get_rank, get_world_size, mark_progress
from ding.utils.log_helper import component_logger
from ding.utils.seed import derive_seeds
from ding.worker.collector.collector_log import CollectorLog
from ding.worker.collector.row_assembler import RowAssembler
from ding.worker.transitions import RowSink, TransitionList


def random_actions(action_space: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random actions of a gymnasium Discrete or Box space, batched."""
    if hasattr(action_space, "n"):
        return rng.integers(0, int(action_space.n), size=n) + int(getattr(action_space, "start", 0))
    if hasattr(action_space, "low"):
        return rng.uniform(action_space.low, action_space.high, size=(n, *action_space.shape)).astype(
            action_space.dtype
        )
    raise TypeError(f"random collection does not support action space {action_space}")


class SampleSerialCollector:
    """Collects transitions: ``collect(n_sample)`` writes ``ceil(n_sample / env_num)`` rows of all envs.

    With a synchronous env manager, each row is one ``step`` of all envs, with the policy's actions on all their
    obs. With an asynchronous one (the ``atari`` manager with ``manager.batch_size < env_num``: ``async_reset``,
    ``recv``, ``send``) the collector overlaps inference with stepping: while the policy acts on the batch of envs
    just received, the envs it sent actions to before are stepping on ale-py's C++ threads. Transitions then reach
    the buffer through a :class:`RowAssembler`: whole rows, each env's transitions in its own time order, so the
    buffer's per-env streams, the counters and the episode statistics are those of a synchronous run with the same
    actions. The rows a collect writes are the oldest complete ones; transitions beyond them (envs that ran ahead)
    wait for the next collect, and the envs keep stepping their last actions in between. ``env.manager.batch_size``
    chooses (the Atari DQN configs set half the envs; 0: synchronous).

    Two call forms. The pipelines': ``SampleSerialCollector(cfg, env, policy, logger, buffer=..., seeds=...,
    seed=...)`` with ding's :class:`Logger`: ``collect`` writes into ``buffer`` and returns the count. DI-engine's
    hand-written loops': ``SampleSerialCollector(cfg, env, policy.collect_mode, tb_logger, exp_name=...)``, no
    buffer: ``collect`` returns DI-engine's list of transition dicts (a :class:`~ding.worker.transitions.
    TransitionList` whose rows ``AdvancedReplayBuffer.push`` stores as the pipeline's buffer would). Its seeds come
    from ``env.seed(seed)`` as the pipelines derive them from the run seed (env seeds, exploration, random actions:
    ``seed + rank``). For an on-policy policy (PPO) it collects as ``serial_pipeline_onpolicy``'s
    :class:`RolloutCollector` does, exactly ``n_sample`` transitions, and the list carries the rollout the learner
    trains on.

    :param cfg: ``policy.collect.collector`` of the compiled config.
    :param env: a vectorised env manager (already built; reset with ``seeds`` on the first collect).
    :param policy: the policy or its ``collect_mode``.
    :param tb_logger: ding's :class:`Logger`, or DI-engine's ``tb_logger`` (a SummaryWriter or None).
    :param exp_name: the experiment folder of DI-engine's call form (its text log goes to ``<exp_name>/log/``).
    :param instance_name: the name of that text log.
    :param buffer: where transitions go (``add`` one vectorised step at a time); None: DI-engine's form.
    :param seeds: one seed per env, used at the first reset.
    :param seed: seed of the random-action generator.
    :param normalizer: ``env.norm_obs`` / ``env.norm_reward`` (ding.envs.normalize): the buffer gets normalised
        observations and scaled rewards, the statistics fixed during a collect and updated at its end; None: raw.
    """

    config = dict(
        collect_print_freq=100,  # train iterations between collector log lines / TensorBoard points
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        env: Any = None,
        policy: Any = None,
        tb_logger: Any = None,
        exp_name: Optional[str] = "default_experiment",
        instance_name: str = "collector",
        *,
        buffer: Any = None,
        seeds: Optional[list[int]] = None,
        seed: int = 0,
        normalizer: Optional[EnvNormalizer] = None,
    ) -> None:
        if env is None or policy is None:
            raise TypeError("SampleSerialCollector needs the env manager and the policy (or policy.collect_mode)")
        self._cfg = cfg
        self._env = env
        self._policy = getattr(policy, "collect_mode", policy)
        self._buffer = buffer
        self._component = buffer is None  # DI-engine's form: collect returns the transitions
        self._seeds = seeds
        self._rng = np.random.default_rng(seed)
        self._policy_kwargs: dict[str, Any] = {}  # DI-engine's policy_kwargs of the collect in progress
        self._rollout: Any = None  # an on-policy policy in DI-engine's form: the RolloutCollector collecting for it
        self._layout_seed: Optional[int] = None  # DI-engine's form: the run seed of this rank, for the replay buffer
        self._obs: Optional[np.ndarray] = None
        # an asynchronous manager (send/recv of env batches): inference on one batch overlaps the others' stepping
        self.overlapped = env.asynchronous
        self._rows: Optional[RowAssembler] = None  # overlapped: per-env transitions until a whole row is complete
        if normalizer is not None and self.overlapped:
            raise ConfigError(
                "env.norm_obs / env.norm_reward are not supported with an asynchronous env manager "
                "(env.manager.batch_size < collector_env_num); set manager.batch_size=0 or turn them off"
            )
        self._norm = normalizer
        self._world_size = get_world_size()
        self.envstep = 0  # env steps collected by all ranks together (they step in lockstep)
        self.episode_count = 0  # episodes finished on this rank
        self._logger = component_logger(tb_logger, exp_name, instance_name)
        self._log = CollectorLog(self._logger, cfg.collect_print_freq)

    def state_dict(self) -> dict[str, Any]:
        """Counters and the random-action generator, for checkpoints."""
        return {
            "envstep": self.envstep,
            "episode_count": self.episode_count,
            "rng": self._rng.bit_generator.state,
            "policy_rng": self._policy.rng_state(),
        }

    def reseed(self, seed: int) -> None:
        """New random-action and exploration generators (a resumed rank other than 0)."""
        self._rng = np.random.default_rng(seed)
        self._policy.seed(seed)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.envstep = int(state["envstep"])
        self.episode_count = int(state["episode_count"])
        self._rng.bit_generator.state = state["rng"]
        if state.get("policy_rng") is not None:
            self._policy.set_rng_state(state["policy_rng"])
        self._log.restart(self.envstep)

    def collect(
        self,
        n_sample: Optional[int] = None,
        train_iter: int = 0,
        random: bool = False,
        *,
        drop_extra: bool = True,
        random_collect: bool = False,
        record_random_collect: bool = True,
        policy_kwargs: Optional[dict[str, Any]] = None,
        level_seeds: Any = None,
    ) -> Any:
        """Step the envs until at least ``n_sample`` transitions went into the buffer; returns how many did.

        With ``random=True`` actions are uniform over the action space (``policy.random_collect_size``).

        DI-engine's call form (no buffer): returns the list of ``ceil(n_sample / env_num) * env_num`` transition
        dicts (``obs, action, reward, next_obs, terminated, truncated, done``; for PPO also ``logp``, ``value`` ...;
        exactly ``n_sample`` for an on-policy policy); ``n_sample`` None: the policy's ``collect.n_sample``;
        ``random_collect`` is ``random``; ``policy_kwargs`` go to the policy's collect forward (DQN: ``eps``).
        ``drop_extra`` and ``record_random_collect`` change nothing here; ``level_seeds`` is not supported.
        """
        if not self._component:
            return self._collect(n_sample, train_iter, random)
        if level_seeds is not None:
            raise ValueError("SampleSerialCollector.collect(level_seeds=...) is not supported by ding")
        if n_sample is None:
            n_sample = self._policy.get_attribute("n_sample")
        check_int(n_sample, "SampleSerialCollector.collect(n_sample", 1, "transitions to collect, or None")
        check_int(train_iter, "SampleSerialCollector.collect(train_iter", 0, "learner.train_iter")
        self._first_collect_setup()
        if self._policy.value is not None:
            data = self._collect_rollout(n_sample, train_iter, policy_kwargs)
        else:
            sink = self._buffer = RowSink()
            self._policy_kwargs = dict(policy_kwargs or {})
            try:
                self._collect(n_sample, train_iter, random or random_collect)
            finally:
                self._buffer, self._policy_kwargs = None, {}
            data = sink.rows(self._row_layout()).transitions()
        budget.record_envstep(self.envstep)
        return data

    def _first_collect_setup(self) -> None:
        """DI-engine's form: seeds from ``env.seed(seed)`` (if called) as the pipelines derive them from the run
        seed: this rank's ``seed + rank`` for the env seeds (stream 0), random actions and exploration."""
        if self._seeds is not None or self._obs is not None or self._rollout is not None:
            return
        setting = getattr(self._env, "seed_setting", None)
        if setting is None:
            return
        seed, dynamic = setting
        if not dynamic:
            raise ValueError(
                "collector envs seeded with dynamic_seed=False would restart every episode from the same seeds; "
                "ding's collector envs continue their generators: call env.seed(seed) (dynamic_seed=True)"
            )
        rank_seed = seed + get_rank()
        self._seeds = derive_seeds(rank_seed, self._env.env_num, stream=0)
        self._rng = np.random.default_rng(rank_seed)
        self._policy.seed(rank_seed)
        self._layout_seed = rank_seed

    def _row_layout(self) -> dict[str, Any]:
        """What the replay buffer needs to store these rows as the pipeline's buffer would (its build arguments)."""
        space, action_space = self._env.observation_space, self._env.action_space
        get = self._policy.get_attribute
        from ding.envs.spaces import is_stacked_frames

        return dict(
            stacked_frames=is_stacked_frames(space),
            n_envs=self._env.env_num,
            obs_shape=space.shape,
            obs_dtype=space.dtype,
            action_shape=action_space.shape,
            action_dtype=np.int64 if hasattr(action_space, "n") else action_space.dtype,
            nstep=get("nstep"),
            discount_factor=get("discount_factor"),
            ignore_done=get("ignore_done"),
            priority=get("priority"),
            seed=self._layout_seed,
        )

    def _collect_rollout(self, n_sample: int, train_iter: int, policy_kwargs: Optional[dict]) -> TransitionList:
        """An on-policy policy in DI-engine's form: one rollout of the :class:`RolloutCollector`, as a list."""
        from ding.worker.collector.rollout_collector import RolloutCollector

        if policy_kwargs:
            raise ValueError(f"policy_kwargs {sorted(policy_kwargs)} are not taken by an on-policy policy's collect")
        if self._rollout is None:
            self._rollout = RolloutCollector(self._cfg, self._env, self._policy, self._logger, self._seeds, n_sample)
        elif n_sample != self._rollout.steps_per_collect * self._env.env_num:
            raise ValueError(
                f"collect(n_sample={n_sample}): an on-policy collector collects the same n_sample every time "
                f"({self._rollout.steps_per_collect * self._env.env_num} at the first collect)"
            )
        rollout = self._rollout.collect(train_iter)
        self.envstep, self.episode_count = self._rollout.envstep, self._rollout.episode_count
        steps, env_num = rollout["reward"].shape
        flat = {
            key: value.reshape(steps * env_num, *value.shape[2:])
            for key, value in rollout.items()
            if value.shape[:2] == (steps, env_num)
        }
        flat["done"] = flat["terminated"] | flat["truncated"]
        return TransitionList(flat, source=rollout)

    def _collect(self, n_sample: int, train_iter: int = 0, random: bool = False) -> int:
        env_num = self._env.env_num
        rows = -(-n_sample // env_num)
        if self.overlapped:
            self._collect_overlapped(rows, random)
        else:
            self._collect_sync(rows, random)
        if self._norm is not None:
            self._norm.end_collect()  # this collect's observations and returns (all ranks') -> the next statistics
        self._log.maybe_log(train_iter, self.envstep, extra=lambda: self._policy.info(self.envstep))
        return rows * env_num

    def close(self) -> None:
        """DI-engine's ``collector.close()``: close the env manager and, in DI-engine's form, the text log."""
        self._env.close()
        if self._component:
            self._logger.close()

    def _act(self, obs: np.ndarray, random: bool) -> np.ndarray:
        if random:
            return random_actions(self._env.action_space, len(obs), self._rng)
        return self._policy.forward(obs, self.envstep, **self._policy_kwargs)["action"]

    def _collect_sync(self, rows: int, random: bool) -> None:
        """``rows`` steps of all envs, acting on all their obs in turn."""
        if self._obs is None:
            self._obs = self._env.reset(self._seeds)
        norm = self._norm
        for _ in range(rows):
            obs = self._obs if norm is None else norm.normalize_obs(self._obs)
            action = self._act(obs, random)
            out = self._env.step(action)
            mark_progress()
            done = out.terminated | out.truncated
            next_obs, reward = final_or_next_obs(out, done), out.reward
            if norm is not None:  # obs and next obs with this collect's statistics
                norm.observe_obs(self._obs)
                next_obs, reward = norm.normalize_obs(next_obs), norm.scale_reward(reward, done)
            self._add_row(obs, action, reward, next_obs, out.terminated, out.truncated, done, out)
            self._obs = out.obs

    def _collect_overlapped(self, rows: int, random: bool) -> None:
        """Receive a batch of envs, send their actions, then file the batch's transitions while those envs step;
        until ``rows`` whole rows went into the buffer."""
        env = self._env
        if self._rows is None:
            env.async_reset(self._seeds)
            self._rows = RowAssembler(env.env_num)
        assembler = self._rows
        added = 0
        while True:
            while added < rows and assembler.ready() > 0:
                row = assembler.take()
                done = row.terminated | row.truncated
                self._add_row(row.obs, row.action, row.reward, row.next_obs, row.terminated, row.truncated, done, row)
                added += 1
            if added >= rows:
                return
            out, env_ids = env.recv()
            action = self._act(out.obs, random)
            env.send(action, env_ids)  # these envs step from here on, while the rest of this loop runs
            mark_progress()
            stepped = assembler.open[env_ids]  # the other rows are envs' reset results: no transition
            if stepped.any():
                result, ids = (
                    (out, env_ids) if stepped.all() else (type(out)(*(f[stepped] for f in out)), env_ids[stepped])
                )
                done = result.terminated | result.truncated
                assembler.complete(
                    ids,
                    result.reward,
                    final_or_next_obs(result, done),
                    result.terminated,
                    result.truncated,
                    result.episode_return,
                    result.episode_length,
                )
            assembler.begin(env_ids, out.obs, action)

    def _add_row(self, obs, action, reward, next_obs, terminated, truncated, done, ends) -> None:
        """One row of all envs into the buffer; counters and the returns of the episodes that ended in it."""
        self._buffer.add(obs, action, reward, next_obs, terminated, truncated)
        self.envstep += len(obs) * self._world_size
        if done.any():
            ended = done & ~np.isnan(ends.episode_return)  # NaN: no episode ended (a worker restart, a lost life)
            self.episode_count += int(ended.sum())
            self._log.add_episodes(ends.episode_return[ended], ends.episode_length[ended])


def final_or_next_obs(out: Any, done: np.ndarray) -> np.ndarray:
    """The obs each env's step led to: its episode's final obs where the episode ended (not the reset obs)."""
    if not done.any():
        return out.obs
    return np.where(done.reshape(-1, *([1] * (out.obs.ndim - 1))), out.final_obs, out.obs)
