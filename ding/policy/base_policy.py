"""The policy base class: one model, three modes (learn, collect, eval)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch
from easydict import EasyDict

from ding.config.config import ConfigError
from ding.config.rules import at_least, positive
from ding.policy.contract import BatchField, CollectMode, DataSpec, EvalMode, LearnMode
from ding.torch_utils.data import to_numpy
from ding.torch_utils.grad_clip import clip_grad
from ding.torch_utils.optimizer import finite_gradients
from ding.utils.registry import MODEL_REGISTRY, POLICY_REGISTRY


class NonFiniteError(FloatingPointError):
    """A training step produced a NaN/inf loss or gradient (and skipping such steps is off)."""


NONFINITE_CHECKS = ("auto", "step", "deferred")


def skips_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step()`` can skip itself on the device: torch's fused Adam/AdamW kernels (and ding's
    FlatAdam, which calls them) read ``optimizer.found_inf`` and leave parameters, moments and step counts alone
    when it is 1 (what torch.amp.GradScaler uses)."""
    return isinstance(optimizer, torch.optim.Adam) and all(group.get("fused") for group in optimizer.param_groups)


class Policy:
    """An algorithm: its defaults, how it trains (learn), explores (collect) and acts greedily (eval).

    The contract (ding/policy/contract.py; docs/adding_a_policy.md): a subclass declares ``config`` (its own keys and
    the shared keys whose default differs, a comment per key; :meth:`default_config` merges it over
    :attr:`Policy.config`), ``default_model`` (a MODEL_REGISTRY name), ``_init_<mode>`` / ``_forward_<mode>`` for
    learn, collect and eval, ``_state_dict_learn`` / ``_load_state_dict_learn``, :meth:`_data_spec` when it reads
    more than the shared keys, and :meth:`_trained_modules` when it trains more than ``self._model`` (target nets,
    a temperature). Every gradient step goes through :meth:`_optimize`, which owns multi-GPU sync and the NaN guard.
    """

    # keys every policy has (DI-engine's names); a subclass's ``config`` adds its own and may change these defaults
    config: dict = dict(
        type=None,  # registered policy type (usually set in create_config.policy.type)
        cuda=False,  # train and act on the GPU (falls back to the CPU, with a warning, when there is none)
        on_policy=False,  # True: learns only from the rollout just collected (serial_pipeline_onpolicy)
        multi_gpu=False,  # where newer DI-engine configs put the flag; same meaning as learn.multi_gpu
        global_batch=False,  # with multi_gpu: True divides learn.batch_size, collect.n_sample over the ranks
        priority=False,  # prioritised replay: sample by |td error|^alpha
        priority_IS_weight=False,  # weight the loss by PER importance-sampling weights (used with priority=True)
        load_path="",  # checkpoint evaluated by `ding -m eval` when --load-path is not given
        learn=dict(
            multi_gpu=False,  # data-parallel training: run under DistContext, gradients averaged over the ranks
            grad_bucket_mb=25.0,  # multi_gpu: size of the flat gradient buckets (one all-reduce per bucket), MB
            grad_sync_overlap=False,  # multi_gpu: start each bucket's all-reduce during backward (autograd hooks)
            skip_nonfinite_step=False,  # True: skip (and count) steps with a NaN/inf loss or gradient; False: stop
            # 'step': a host sync per optimizer step, stops at the bad step naming its parameters; 'deferred': the
            # fused Adam kernel skips a bad step on the device, counted (or raised) every 256 steps and at checkpoints
            nonfinite_check="auto",  # when the NaN/inf guard reads its verdict: 'auto' (deferred on CUDA), 'step', 'deferred'
            resume_training=False,  # DI-engine key: continue exp_name from its ckpt/latest.pth.tar (CLI: --resume)
            batch_size=64,  # transitions per gradient step
        ),
        collect=dict(
            n_sample=8,  # transitions per collect (off-policy: rounded up to a multiple of env.collector_env_num)
            unroll_len=1,  # DI-engine key: transitions are collected one at a time (must stay 1)
            collector_env_num=None,  # DI-engine key some files repeat here; no effect: env.collector_env_num counts
        ),
        eval=dict(),
        other=dict(),
        command=dict(),  # DI-engine key: its commander's settings; ding has no commander (must stay empty)
    )
    # what the values may be besides the implicit rule of their defaults (ding/config/rules.py); merged along the MRO
    config_rules: dict = {
        "learn.learning_rate": positive(),
        "learn.batch_size": at_least(1),
        "learn.grad_bucket_mb": positive(),
        "collect.n_sample": at_least(1),
    }
    default_model: str = ""
    default_buffer: Optional[str] = "replay"  # None: on-policy, no replay buffer
    # the gymnasium action spaces the policy acts in ('Discrete', 'Box'), each with the setting that selects it
    # ('': none needed); checked against the env's by check_model. Empty: the policy does not say.
    action_space_types: dict[str, str] = {}
    # True: the policy's Box actions are a tanh's [-1, 1] mapped to the env's bounds (SAC, TD3, DDPG): they must be finite
    bounded_actions = False
    # (section, key) counts that policy.global_batch divides over the ranks (totals in the config, per rank in runs)
    per_rank_keys: tuple[tuple[str, str], ...] = (("learn", "batch_size"), ("collect", "n_sample"))

    @classmethod
    def default_config(cls) -> EasyDict:
        """The defaults of this policy: each class's ``config`` along the MRO merged over its base's."""
        merged: dict = {}
        for klass in reversed(cls.__mro__):
            if "config" in vars(klass):
                merged = _merge(merged, klass.__dict__["config"])
        return EasyDict(merged)

    @classmethod
    def check_config(cls, cfg: EasyDict) -> None:
        """Raise ``ConfigError`` for values this policy cannot run; called by compile_config (a subclass checks
        its own keys and calls this)."""
        check = cfg.learn.get("nonfinite_check", "auto")
        if check not in NONFINITE_CHECKS:
            raise ConfigError(
                f"Config key 'policy.learn.nonfinite_check'={check!r} is not supported; use one of "
                f"{list(NONFINITE_CHECKS)}"
            )
        if cfg.collect.unroll_len != 1:
            raise ConfigError(
                f"Config key 'policy.collect.unroll_len'={cfg.collect.unroll_len!r} is not supported by "
                f"{cls.__name__} here; use 1"
            )
        for section, key in cls.per_rank_keys:
            if cfg[section][key] < 1:
                raise ConfigError(f"Config key 'policy.{section}.{key}' must be >= 1, got {cfg[section][key]}")
        if cfg.priority_IS_weight and not cfg.priority and not cfg.on_policy:  # DI-engine's files carry it so
            warnings.warn(
                "policy.priority_IS_weight=True has no effect without policy.priority=True (the importance-sampling "
                "weights correct prioritised replay's sampling; uniform sampling needs none)",
                stacklevel=3,
            )

    @classmethod
    def split_over_ranks(cls, cfg: EasyDict, world_size: int) -> None:
        """With ``policy.global_batch``, divide the counts of :attr:`per_rank_keys` over the ranks, in place (the
        config holds single-process totals; each rank then runs its share)."""
        if world_size == 1 or not cfg.global_batch:
            return
        for section, key in cls.per_rank_keys:
            total = cfg[section][key]
            if total % world_size:
                raise ConfigError(
                    f"policy.global_batch=True: policy.{section}.{key}={total} does not divide over {world_size} "
                    f"ranks; make it a multiple of the world size"
                )
            cfg[section][key] = total // world_size
        if "random_collect_size" in cfg:  # off-policy: the random phase's env steps, shared out rounding up
            cfg.random_collect_size = -(-cfg.random_collect_size // world_size)

    def __init__(
        self, cfg: EasyDict, model: Optional[torch.nn.Module] = None, enable_field: Optional[Sequence[str]] = None
    ) -> None:
        self._cfg = cfg
        self._device = self._pick_device(cfg.cuda)
        if model is None:
            try:
                model = MODEL_REGISTRY.build(self.default_model, **cfg.model)
            except ConfigError:
                raise
            except ValueError as err:  # the model refused a value of policy.model: the user's to fix, no traceback
                raise ConfigError(f"policy.model ({cfg.model.get('type', self.default_model)}): {err}") from err
        self._enable_field = tuple(enable_field or ("learn", "collect", "eval"))
        _check_model_tensors(model, learn="learn" in self._enable_field)
        self._model = model.to(self._device)
        self._grad_syncs: dict[int, Any] = {}  # multi_gpu: one GradientSynchronizer per optimizer (by id)
        self.nonfinite_steps = 0  # training steps skipped because the loss or a gradient was NaN/inf
        # the deferred guard (policy.learn.nonfinite_check): skipped steps counted on the device since the last check
        self._pending_nonfinite: Optional[torch.Tensor] = None
        self._pending_steps = 0
        learn = "learn" in self._enable_field
        if learn and self.multi_gpu:
            self._check_backend()
            self._broadcast({"model": self._model})  # before _init_learn: target nets copy rank 0's weights
        for field in self._enable_field:
            if field == "collect":  # exploration's own generator (the pipeline reseeds it with the run's seed)
                self._collect_rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
            getattr(self, f"_init_{field}")()
        if learn and self.multi_gpu:
            # what _init_learn made (target nets, a temperature, ...) starts equal on every rank too
            self._broadcast({k: v for k, v in self._trained_modules().items() if v is not self._model})

    @property
    def multi_gpu(self) -> bool:
        """Data-parallel training: gradients are averaged over the ranks of the process group (compile_config makes
        ``policy.multi_gpu`` and ``policy.learn.multi_gpu`` agree)."""
        return bool(self._cfg.learn.get("multi_gpu", False) or self._cfg.get("multi_gpu", False))

    def _check_backend(self) -> None:
        from ding.utils.dist import get_world_size

        if get_world_size() > 1 and self._device.type == "cpu":
            import torch.distributed as dist

            if dist.get_backend() == "nccl":
                raise RuntimeError(
                    "multi_gpu with the NCCL backend needs the model on the GPU: set policy.cuda=True, or use "
                    "DistContext(backend='gloo') to train on CPUs"
                )

    def _trained_modules(self) -> dict[str, torch.nn.Module | torch.Tensor]:
        """Everything the learn mode trains or derives from trained weights (target nets), by name: broadcast from
        rank 0 when the policy is built with multi_gpu, so every rank starts from the same state. A subclass that
        trains more than ``self._model`` adds its modules and tensors (a log-temperature, ...)."""
        return {"model": self._model}

    @staticmethod
    def _broadcast(modules: dict[str, torch.nn.Module | torch.Tensor]) -> None:
        from ding.torch_utils.grad_sync import broadcast_module, broadcast_tensors

        for item in modules.values():
            if isinstance(item, torch.nn.Module):
                broadcast_module(item)
            else:
                broadcast_tensors([item])

    def _data_spec(self) -> DataSpec:
        """What the pipeline must do to feed this policy (see :class:`~ding.policy.contract.DataSpec`), read from
        the shared keys; a policy with keys of its own (n-step, random collection, ...) extends it."""
        return DataSpec(
            n_sample=self._cfg.collect.n_sample, batch_size=self._cfg.learn.batch_size, priority=self._cfg.priority
        )

    def _optimize(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        grad_clip_type: Optional[str] = None,
        grad_clip_value: Optional[float] = None,
    ) -> bool:
        """zero grad -> backward -> (multi_gpu: average gradients over ranks, in buckets) -> finite check -> clip ->
        step, for the parameters of ``optimizer``.

        Every policy updates through this, so the gradient sync and the NaN/inf guard are the same for all
        algorithms. A policy with several optimizers (actor, critic, temperature) calls it once per optimizer and
        loss: each optimizer's parameters get their own gradient buckets, synced after that loss's backward.
        A step whose loss or gradients are not finite is skipped and counted
        (``policy.learn.skip_nonfinite_step=True``) or stops training with :class:`NonFiniteError`; either way the
        parameters are not touched. Under DDP the decision uses the averaged gradients, so all ranks agree. Reading
        the verdict is a host sync per step; ``policy.learn.nonfinite_check`` ('auto': on CUDA with fused Adam)
        defers it: the kernel skips a bad step on the device and :meth:`check_nonfinite` counts (or raises for)
        the skipped steps every :attr:`NONFINITE_CHECK_EVERY` steps and before a checkpoint.
        Returns whether the optimizer stepped (deferred: True, the step was queued). ``grad_clip_type``
        ('clip_norm' or 'clip_value', with ``grad_clip_value``; see ding.torch_utils.grad_clip) clips the averaged
        gradients, so every rank clips alike.
        """
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grad_sync = self._grad_syncs.get(id(optimizer))
        if self.multi_gpu and grad_sync is None:
            from ding.torch_utils.grad_sync import GradientSynchronizer

            learn = self._cfg.learn
            grad_sync = self._grad_syncs[id(optimizer)] = GradientSynchronizer(
                params, bucket_cap_mb=learn.get("grad_bucket_mb", 25.0), overlap=learn.get("grad_sync_overlap", False)
            )
        # with multi_gpu, grads stay views of the sync buckets: zero them in place instead of freeing them
        optimizer.zero_grad(set_to_none=grad_sync is None)
        if grad_sync is not None:
            grad_sync.prepare()
        loss.backward()
        if grad_sync is not None:
            grad_sync.sync()
        # under DDP the verdict is the averaged gradients' alone (a rank's own loss would let the ranks disagree)
        finite = finite_gradients(optimizer, params, loss if grad_sync is None else None)
        if self._defers_finite_check(optimizer, finite.device):
            return self._step_unless_flagged(optimizer, params, finite, grad_clip_type, grad_clip_value)
        if not bool(finite):
            self.nonfinite_steps += 1
            if not self._cfg.learn.get("skip_nonfinite_step", False):
                names = {id(p): name for name, p in self._named_trained_parameters()}
                bad = [  # read before the gradients are zeroed
                    names.get(id(p), f"parameter {i} of the optimizer")
                    for i, p in enumerate(params)
                    if p.grad is not None and not bool(torch.isfinite(p.grad).all())
                ]
                optimizer.zero_grad(set_to_none=grad_sync is None)
                named = f"{bad[:4]}{f' and {len(bad) - 4} more' if len(bad) > 4 else ''}" if bad else ""
                raise NonFiniteError(
                    f"non-finite training step: loss={float(loss.detach())}, non-finite gradients in "
                    f"{named or 'no parameter (the loss itself)'}. The parameters were not updated and no checkpoint "
                    f"holds this step. Set policy.learn.skip_nonfinite_step=True to skip such steps and count them."
                )
            optimizer.zero_grad(set_to_none=grad_sync is None)
            return False
        clip_grad(params, grad_clip_type, grad_clip_value)
        optimizer.step()
        return True

    # the deferred guard reads its count (one host sync) after this many optimizer steps, and before checkpoints
    NONFINITE_CHECK_EVERY = 256

    def _defers_finite_check(self, optimizer: torch.optim.Optimizer, device: torch.device) -> bool:
        mode = self._cfg.learn.get("nonfinite_check", "auto")
        if mode == "step":
            return False
        if mode == "auto":
            return device.type == "cuda" and skips_on_device(optimizer)
        if not skips_on_device(optimizer):
            raise ConfigError(
                f"policy.learn.nonfinite_check='deferred' needs an optimizer that can skip a step on the device "
                f"(fused Adam or AdamW); this one is {type(optimizer).__name__} with fused="
                f"{[group.get('fused') for group in optimizer.param_groups]}: use 'step' or 'auto'"
            )
        return True

    def _step_unless_flagged(
        self,
        optimizer: torch.optim.Optimizer,
        params: list[torch.Tensor],
        finite: torch.Tensor,
        grad_clip_type: Optional[str],
        grad_clip_value: Optional[float],
    ) -> bool:
        """The deferred guard: the fused kernel skips a non-finite step on the device (``found_inf``), and the
        count of skipped steps is read every :attr:`NONFINITE_CHECK_EVERY` steps by :meth:`check_nonfinite`
        (the same step on every rank: the verdict comes from the averaged gradients)."""
        found_inf = (~finite).to(torch.float32)  # 0-dim, like the step counts the kernel corrects with it
        if self._pending_nonfinite is None or self._pending_nonfinite.device != found_inf.device:
            self.check_nonfinite()
            self._pending_nonfinite = torch.zeros((), dtype=torch.float32, device=found_inf.device)
        self._pending_nonfinite.add_(found_inf)
        self._pending_steps += 1
        clip_grad(params, grad_clip_type, grad_clip_value)  # a NaN norm makes every gradient NaN: skipped all the same
        optimizer.found_inf = found_inf
        try:
            optimizer.step()
        finally:
            del optimizer.found_inf
        if self._pending_steps >= self.NONFINITE_CHECK_EVERY:
            self.check_nonfinite()
        return True

    def check_nonfinite(self) -> None:
        """Read the deferred guard's count (one host sync): add the steps it skipped to :attr:`nonfinite_steps`,
        and, unless ``policy.learn.skip_nonfinite_step``, raise :class:`NonFiniteError` for them. Called every
        :attr:`NONFINITE_CHECK_EVERY` optimizer steps and, on every rank, before a checkpoint every rank saves (the
        learn mode's ``settle_nonfinite``); a no-op for the per-step guard."""
        if not self._pending_steps:
            return
        bad, steps = int(self._pending_nonfinite.item()), self._pending_steps
        self._pending_nonfinite.zero_()
        self._pending_steps = 0
        if not bad:
            return
        self.nonfinite_steps += bad
        if not self._cfg.learn.get("skip_nonfinite_step", False):
            raise NonFiniteError(
                f"non-finite training steps: {bad} of the last {steps} optimizer steps had a NaN/inf loss or "
                f"gradient. The device skipped them (policy.learn.nonfinite_check deferred the check), so the "
                f"parameters hold no NaN/inf; the gradients are gone by now. policy.learn.nonfinite_check='step' "
                f"stops at the first such step and names its parameters. Set policy.learn.skip_nonfinite_step=True "
                f"to skip such steps and count them."
            )

    def _learn_state_dict(self) -> dict[str, Any]:
        state = self._state_dict_learn()
        # the count with the deferred guard's pending steps, read without settling them: a state dict may be taken
        # on rank 0 alone (the best checkpoint), and settling (which may raise) must happen on every rank alike
        # (settle_nonfinite, on the same steps everywhere)
        pending = int(self._pending_nonfinite.item()) if self._pending_steps else 0
        state["nonfinite_steps"] = self.nonfinite_steps + pending
        return state

    def _learn_load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a checkpoint into the learn mode, keeping this config's optimizer settings (learning rate, betas,
        eps, weight decay): a torch optimizer's state dict carries its settings, so without this a run resumed
        with a new ``learning_rate`` would go on with the checkpoint's, silently. Moments and step counts come
        from the checkpoint."""
        optimizers = [getattr(self, attribute, None) for attribute in self.optimizer_attributes.values()]
        optimizers = [optimizer for optimizer in optimizers if optimizer is not None]
        settings = [
            [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]
            for optimizer in optimizers
        ]
        self._load_state_dict_learn(state)
        for optimizer, groups in zip(optimizers, settings, strict=True):
            for group, setting in zip(optimizer.param_groups, groups, strict=True):
                group.update(setting)

    def _off_policy_stats(self, stats: dict[str, Any], td_error: torch.Tensor) -> dict[str, Any]:
        """A replay learner's step stats, completed: the skipped-step count once there is one, and with prioritised
        replay the new priorities ``|td_error|`` (B,) as numpy for the buffer."""
        if self.nonfinite_steps:
            stats["nonfinite_steps"] = float(self.nonfinite_steps)
        if self._cfg.priority:
            stats["priority"] = to_numpy(td_error.abs())
        return stats

    def _named_trained_parameters(self):
        for prefix, item in self._trained_modules().items():
            if isinstance(item, torch.nn.Module):
                for name, param in item.named_parameters():
                    yield f"{prefix}.{name}" if prefix != "model" else name, param
            else:
                yield prefix, item

    @staticmethod
    def _pick_device(cuda: bool) -> torch.device:
        if cuda and not torch.cuda.is_available():
            warnings.warn("policy.cuda=True but no CUDA device is visible; running on the CPU", stacklevel=3)
            return torch.device("cpu")
        return torch.device("cuda") if cuda else torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def model(self) -> torch.nn.Module:
        return self._model

    def _check_enabled(self, field: str) -> None:
        if field not in self._enable_field:
            raise RuntimeError(f"policy built without its '{field}' mode (enable_field={list(self._enable_field)})")

    @property
    def learn_mode(self) -> LearnMode:
        self._check_enabled("learn")
        return LearnMode(
            forward=self._forward_learn,
            state_dict=self._learn_state_dict,
            load_state_dict=self._learn_load_state_dict,
            data_spec=self._data_spec,
            minibatches=getattr(self, "_minibatches", None),
            get_attribute=self.get_attribute,
            settle_nonfinite=self.check_nonfinite,
        )

    @property
    def collect_mode(self) -> CollectMode:
        self._check_enabled("collect")
        return CollectMode(
            forward=self._forward_collect,
            seed=self._seed_collect,
            info=self._collect_info,
            rng_state=self._collect_rng_state,
            set_rng_state=self._set_collect_rng_state,
            state_dict=self._state_dict_eval,
            load_state_dict=self._load_state_dict_eval,
            value=getattr(self, "_forward_value", None),
            get_attribute=self.get_attribute,
        )

    @property
    def eval_mode(self) -> EvalMode:
        self._check_enabled("eval")
        return EvalMode(
            forward=self._forward_eval,
            state_dict=self._state_dict_eval,
            load_state_dict=self._load_state_dict_eval,
            get_attribute=self.get_attribute,
            rng_state=self._eval_rng_state,
            set_rng_state=self._set_eval_rng_state,
        )

    _CONFIG_ATTRIBUTES = ("cuda", "on_policy", "priority", "priority_IS_weight", "multi_gpu")
    # DI-engine's get_attribute names of the learn mode's optimizers -> the attribute holding each (a torch optimizer,
    # for a user's torch.optim.lr_scheduler)
    optimizer_attributes: dict[str, str] = {}

    def get_attribute(self, name: str) -> Any:
        """DI-engine's ``policy.<mode>.get_attribute(name)``: a field of :meth:`_data_spec` (``batch_size``,
        ``n_sample``, ``nstep``, ``discount_factor``, ``priority``, ...), one of the config flags
        :attr:`_CONFIG_ATTRIBUTES`, ``device``, ``model`` or, with the learn mode built, an optimizer by DI-engine's
        name (:attr:`optimizer_attributes`: ``optimizer``, ``optimizer_actor`` ...)."""
        spec = self._data_spec()
        if hasattr(spec, name):
            return getattr(spec, name)
        if name in self._CONFIG_ATTRIBUTES:
            return self._cfg.get(name)
        if name == "device":
            return str(self._device)
        if name == "model":
            return self._model
        if name in self.optimizer_attributes:
            self._check_enabled("learn")
            return getattr(self, self.optimizer_attributes[name])
        known = sorted({*vars(spec), *self._CONFIG_ATTRIBUTES, "device", "model", *self.optimizer_attributes})
        raise AttributeError(f"{type(self).__name__}.get_attribute('{name}'): not an attribute here; known: {known}")

    def _init_collect(self) -> None:
        """Collect mode state beyond ``self._collect_rng`` (an epsilon schedule, a numpy mirror ...), if any."""

    def _init_eval(self) -> None:
        """Eval mode acts with the model as is; a policy that needs eval-only state sets it up here."""

    def check_model(self, obs: np.ndarray, action_space: Any) -> None:
        """Raise ``ConfigError`` when the model does not fit the env: one greedy forward pass on ``obs`` (B,
        *obs_shape), observations the env can produce, with the actions checked against ``action_space`` (a
        gymnasium space) and, for discrete actions, the number of actions the model scores (:meth:`_action_width`).

        The pipelines run it before anything is written, so a model passed in (``serial_pipeline(..., model=...)``)
        or a config whose shapes do not match the env fails here with the shapes named, not at the first evaluation.
        The evaluation's random draws (``eval.eps``) are put back: the run's evaluations draw as if it had not run.
        """
        self._check_action_space_type(action_space)
        output_problem = self._check_model_output(obs)
        if output_problem:
            raise ConfigError(f"the model does not fit policy '{self._policy_name()}': {output_problem}")
        rng_state = self._eval_rng_state()
        try:
            with torch.no_grad():
                action = np.asarray(self._forward_eval(obs))
                width = self._action_width(obs)
        except Exception as err:  # whatever the model raises: the message names both sides
            raise ConfigError(
                f"the model does not fit the env: the env's observations are {_describe_obs(obs)}, "
                f"{_describe_model_input(self._model)}; one forward pass on a batch of {len(obs)} failed with "
                f"{type(err).__name__}: {err}. Build the model for the env's observation shape"
            ) from None
        finally:
            self._set_eval_rng_state(rng_state)
        discrete = hasattr(action_space, "n")
        expected = (len(obs),) if discrete else (len(obs), *action_space.shape)
        if action.shape != expected:
            raise ConfigError(
                f"the model does not fit the env: its greedy actions for a batch of {len(obs)} observations have "
                f"shape {action.shape}, where the env's action space {action_space} needs shape {expected} (batch"
                f"{', *action_shape' if not discrete else ''}). Build the model for the env's action shape"
            )
        if discrete and width is not None and width != int(action_space.n):
            raise ConfigError(
                f"the model does not fit the env: it scores {width} actions, the env has {int(action_space.n)} "
                f"({action_space}). Build the model with action_shape={int(action_space.n)}"
            )

    # what the model must return, checked by check_model: the keyword arguments of the forward that acts
    # (``{"mode": "compute_actor"}``) and key -> shape of the dict it returns ("(batch,)": one value per
    # observation; any other: at least two dimensions, the batch first); {}: the policy does not say
    model_call: dict[str, Any] = {}
    model_output: dict[str, str] = {}

    def _policy_name(self) -> str:
        return self._cfg.get("type") or type(self).__name__

    def _check_model_output(self, obs: np.ndarray) -> Optional[str]:
        """What is wrong with the model's output for ``obs`` against :attr:`model_output` (None: nothing found, or
        the forward itself fails, which check_model reports with the shapes)."""
        if not self.model_output:
            return None
        from ding.torch_utils.data import to_tensor

        try:
            with torch.no_grad():
                out = self._model(to_tensor(obs, self._device), **self.model_call)
        except Exception:
            return None
        call = f"model(obs{''.join(f', {k}={v!r}' for k, v in self.model_call.items())})"
        wanted = " and ".join(f"'{key}' of shape {shape}" for key, shape in self.model_output.items())
        expects = f"{call} must return a dict with {wanted}"
        if not isinstance(out, dict):
            return f"{call} returned a {type(out).__name__}; {expects}"
        missing = [key for key in self.model_output if key not in out]
        if missing:
            return f"{call} returned a dict with keys {sorted(out)}, without {missing}; {expects}"
        for key, spec in self.model_output.items():
            value = out[key]
            rank_ok = isinstance(value, torch.Tensor) and (value.dim() == 1 if spec == "(batch,)" else value.dim() >= 2)
            if not rank_ok or value.shape[0] != len(obs):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                return f"{call}['{key}'] for a batch of {len(obs)} observations is {shape}; {expects}"
            if not value.is_floating_point():
                return (
                    f"{call}['{key}'] is {value.dtype}; it must be a floating-point tensor (the loss is "
                    f"differentiated through it): {expects}"
                )
        return None

    def _action_space_type(self) -> Optional[str]:
        """The action space this policy, as configured, acts in ('Discrete' or 'Box'); None: it does not say. A
        policy that takes either (PPO) picks by its config."""
        types = list(self.action_space_types)
        return types[0] if len(types) == 1 else None

    def _check_action_space_type(self, action_space: Any) -> None:
        """A ConfigError when the env's action space is of another kind than the policy acts in (no model shape can
        fix that): it names the policy types that take the env's actions."""
        needed, env_type = self._action_space_type(), _space_type(action_space)
        if needed == env_type == "Box" and self.bounded_actions:
            bounds = np.concatenate([np.ravel(action_space.low), np.ravel(action_space.high)])
            if not np.isfinite(bounds).all():
                raise ConfigError(
                    f"policy type '{self._cfg.get('type') or type(self).__name__}' acts in [-1, 1], mapped linearly "
                    f"to the env's action bounds, and draws its random collection uniformly between them; the env's "
                    f"action space {action_space} has infinite bounds: give its Box the finite low/high its actions "
                    f"take"
                )
        if needed is None or needed == env_type:
            return
        fits = []
        for name in POLICY_REGISTRY.names():
            setting = getattr(POLICY_REGISTRY.get(name), "action_space_types", {}).get(env_type)
            if setting is not None:
                fits.append(f"{name} (with {setting})" if setting else name)
        name = self._cfg.get("type") or type(self).__name__
        chosen = self.action_space_types.get(needed)
        how = f" with {chosen}" if chosen else ""
        other = (
            f"Policy types for {env_type} actions: {', '.join(fits)} (create_config.policy.type)"
            if fits
            else f"No policy type here takes {env_type} actions"
        )
        raise ConfigError(
            f"policy type '{name}'{how} acts in {needed} action spaces, but the env's action space is "
            f"{action_space}. {other}"
        )

    def _action_width(self, obs: np.ndarray) -> Optional[int]:
        """Discrete actions: how many actions the model scores for ``obs`` (the width of its logits or Q-values);
        None where the policy cannot tell. Used by :meth:`check_model`."""
        return None

    @classmethod
    def learn_batch_fields(cls, cfg: EasyDict) -> dict[str, BatchField]:
        """The keys of a learn batch (what ``learn_mode.forward`` takes), per sample, for ``cfg`` (the compiled
        ``policy`` section). Tests build valid batches for any policy from it."""
        raise NotImplementedError(f"{cls.__name__} does not declare its learn batch")

    # the collect mode's randomness (exploration, sampled actions) comes from ``self._collect_rng``, a numpy
    # generator every policy has; its state goes into checkpoints with the collector's
    def _seed_collect(self, seed: int) -> None:
        """Seed the collect mode's own generator; the pipeline calls it with the run's (rank's) seed."""
        self._collect_rng = np.random.default_rng(seed)

    def _collect_rng_state(self) -> Any:
        return self._collect_rng.bit_generator.state

    def _set_collect_rng_state(self, state: Any) -> None:
        if not isinstance(state, dict):  # an older ding's PPO checkpoint: a torch generator's state
            warnings.warn(
                "the checkpoint's collect sampling state is a torch generator's (written by an older ding); "
                "sampling continues from this run's seed instead",
                stacklevel=2,
            )
            return
        self._collect_rng.bit_generator.state = state

    # the eval mode draws nothing by default (greedy actions); a policy whose evaluation draws (DQN's eval.eps) keeps
    # its generator's state here, for the evaluator's checkpoints
    def _eval_rng_state(self) -> Any:
        return None

    def _set_eval_rng_state(self, state: Any) -> None:
        pass

    def _collect_info(self, envstep: int) -> dict[str, float]:
        """Scalars worth logging about exploration at ``envstep`` (e.g. epsilon)."""
        return {}

    # the model alone is what collect and eval need; checkpoints of the learn mode hold more
    def _state_dict_eval(self) -> dict[str, Any]:
        return {"model": self._model.state_dict()}

    def _load_state_dict_eval(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])

    def _set_train(self, mode: bool) -> None:
        """Switch dropout / batch norm between training and inference, only when the model has such layers."""
        if self._model.training != mode:
            self._model.train(mode)


def _space_type(space: Any) -> str:
    """'Discrete' or 'Box' for gymnasium's spaces of those kinds (subclasses too), else the space's class name."""
    import gymnasium

    for kind in (gymnasium.spaces.Discrete, gymnasium.spaces.Box):
        if isinstance(space, kind):
            return kind.__name__
    return type(space).__name__


def _check_model_tensors(model: torch.nn.Module, learn: bool) -> None:
    """A ConfigError for a model that cannot be moved to a device or trained: tensors on the meta device (built
    under ``torch.device('meta')``, no values), or, for the learn mode, no parameter that takes gradients."""
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"model= must be a torch.nn.Module, got a {type(model).__name__}")
    tensors = [*model.parameters(), *model.buffers()]
    if any(tensor.is_meta for tensor in tensors):
        raise ConfigError(
            f"the model ({type(model).__name__}) has tensors on the meta device (no values): build it on the CPU, "
            f"or call model.to_empty(device='cpu') and initialise its weights, before passing it"
        )
    if learn and not any(param.requires_grad for param in model.parameters()):
        raise ConfigError(
            f"the model ({type(model).__name__}) has no trainable parameters (model.parameters() yields none with "
            f"requires_grad=True): the learner's optimizer has nothing to train. Register its layers as submodules "
            f"(self.layer = nn.Linear(...)) or nn.Parameter attributes"
        )


def _describe_obs(obs: np.ndarray) -> str:
    return f"{obs.dtype} arrays of shape {tuple(obs.shape[1:])}"


def _describe_model_input(model: torch.nn.Module) -> str:
    """What the model's first weight layer takes, for the message of :meth:`Policy.check_model`."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            dims = {torch.nn.Conv1d: "L", torch.nn.Conv2d: "H, W", torch.nn.Conv3d: "D, H, W"}[type(module)]
            return f"the model's first layer ({type(module).__name__}) takes ({module.in_channels}, {dims}) inputs"
        if isinstance(module, torch.nn.Linear):
            return f"the model's first layer (Linear) takes {module.in_features} features"
    return f"the model is a {type(model).__name__}"


def _merge(base: dict, override: dict) -> dict:
    """A deep copy of ``base`` with ``override``'s keys merged in (nested dicts merged key by key)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
