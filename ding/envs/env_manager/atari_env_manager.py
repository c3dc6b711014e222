"""Native Atari env manager: ale-py's C++ ``AtariVectorEnv`` (threads) with the DeepMind preprocessing inside.

ale-py steps the ``E`` emulators on C++ threads and returns observations already preprocessed: grey 84x84 frames
(INTER_AREA resize of the max over the last two of every 4 frames), stacked channel-first ``(frame_stack, 84, 84)``
uint8, no-op starts, FIRE at reset. This manager reads the game and those options from the env config (the keys of
the ``'atari'`` env type in ``dizoo/atari/envs/atari_env.py``: the per-env gymnasium path with the same keys and, for
the same seeds and actions, the same observations) and adds what the pipeline needs, in vectorised numpy.

What ale-py's vector env does (0.12), and how it is used here:

- ``reset(seed=array)`` seeds each env (emulator and no-op RNG, a ``std::mt19937``); a seed of -1 keeps the env's
  RNG going; seeds must lie in ``[0, 2**31)``. An episode that ends is reset with the env's running RNG, so one
  seed per env fixes all its episodes. The no-op count at each reset is ``uniform{0..noop_max-1}`` frames, FIRE
  (one frame, pressed first in games that have it) included.
- The first obs of an episode is zero-padded: ``[0, 0, 0, frame]``; each step shifts the stack by one frame.
- ``info`` holds ``env_id``, ``lives``, ``frame_number`` (emulator frames since the env was built) and
  ``episode_frame_number`` (frames since the game's reset, no-ops included); no raw reward: the env is built without
  reward clipping and this manager clips (``np.sign``) so that the reported returns stay raw.
- Auto-reset ``SameStep``: an env whose episode ends is reset in the same step; ``obs`` and ``info`` are then those
  of the new episode and ``info['final_obs']`` holds the last stack of the ended one (garbage in the other rows).
- ``episodic_life=True`` restarts the *whole game* at each life loss, so the agent never plays past its first life;
  ``life_loss_info=True`` is DeepMind's episodic life: ``terminated`` at a life loss, and the game goes on. Training
  uses the latter.
- ``batch_size < num_envs``: asynchronous; ``recv()`` returns the first ``batch_size`` envs to finish and ``send()``
  takes the actions of exactly those envs, in the order ``recv()`` returned them.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from easydict import EasyDict

from ding.config.config import ConfigError
from ding.envs.env import EnvStep
from ding.envs.env_manager.base_env_manager import BaseEnvManager, merge_manager_config, seed_list
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY, import_modules

FRAMESKIP = 4  # emulator frames per agent step (DeepMind); the observation is the max over the last two
FRAME_SIZE = 84  # observation frames are FRAME_SIZE x FRAME_SIZE grey
SEED_MODULUS = 2**31  # ale-py takes seeds in [0, 2**31); both Atari paths reduce seeds modulo this
# Keys of the 'atari' env config that set the game and its preprocessing (both paths read these, with the same meaning)
ATARI_ENV_KEYS = (
    "env_id",
    "frame_stack",
    "episode_life",
    "clip_rewards",
    "noop_max",
    "fire_reset",
    "repeat_action_probability",
    "max_episode_frames",
    "stack_reset_on_life_loss",
)
_ENV_ID_FORMS = re.compile(r"^(?:ALE/(?P<v5>[A-Za-z0-9]+)-v5|(?P<v4>[A-Za-z0-9]+)NoFrameskip-v4)$")


class AtariSettings(NamedTuple):
    """The Atari env config resolved for one side (training or evaluation); both paths build from this."""

    game: str  # ale-py ROM id, e.g. 'space_invaders'
    game_name: str  # gymnasium's name of the game, e.g. 'SpaceInvaders' ('ALE/SpaceInvaders-v5')
    frame_stack: int
    episode_life: bool  # a life loss ends the (training) episode; False in evaluation
    clip_rewards: bool  # rewards clipped to their sign; False in evaluation
    noop_max: int
    fire_reset: bool
    repeat_action_probability: float
    max_episode_frames: int
    # a life lost while the episode goes on (evaluation, or training without episode_life) restarts the frame stack
    stack_reset_on_life_loss: bool


class AleMissingError(ConfigError, ImportError):
    """ale-py cannot be imported: an ``ImportError``, and a :class:`~ding.config.ConfigError` so that ``ding`` and
    ``run_main`` report it as one line (exit code 2)."""


def _rom_ids_by_name() -> dict[str, str]:
    from ale_py import roms
    from ale_py.registration import rom_id_to_name

    return {rom_id_to_name(rom): rom for rom in roms.get_all_rom_ids()}


def ale_game(env_id: str) -> tuple[str, str]:
    """``(rom_id, game_name)`` of an Atari env id: ``'SpaceInvadersNoFrameskip-v4'`` (DI-engine's) or
    ``'ALE/SpaceInvaders-v5'`` (gymnasium's) -> ``('space_invaders', 'SpaceInvaders')``.

    The id names the game only: both Atari paths play it with frameskip 4 and max-pool, and sticky actions only as
    ``repeat_action_probability`` says (so 'ALE/<Game>-v5' does not bring v5's 0.25).

    :raises ConfigError: an id of another form, or a game ale-py does not have.
    :raises AleMissingError: ale-py cannot be imported.
    """
    match = _ENV_ID_FORMS.match(str(env_id))
    if match is None:
        raise ConfigError(
            f"env.env_id={env_id!r} is not an Atari env id; write '<Game>NoFrameskip-v4' (DI-engine, e.g. "
            f"'PongNoFrameskip-v4') or 'ALE/<Game>-v5' (gymnasium, e.g. 'ALE/Pong-v5')"
        )
    name = match.group("v5") or match.group("v4")
    try:
        rom_ids = _rom_ids_by_name()
    except ImportError as err:
        raise AleMissingError(
            f"Atari envs need ale-py, which cannot be imported ({type(err).__name__}: {err}): pip install "
            f"'ale-py>=0.10' (it ships the ROMs) in this Python environment"
        ) from err
    if name not in rom_ids:
        close = difflib.get_close_matches(name, list(rom_ids), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"env.env_id={env_id!r}: ale-py has no game '{name}'.{hint}")
    return rom_ids[name], name


def check_ale_roms(game: str) -> None:
    """The ROM of ``game`` (an ale-py ROM id, e.g. ``'pong'``) where ale-py will look for it: in ``ALE_ROMS_DIR``
    when that environment variable is set, else among the ROMs ale-py ships (always there).

    :raises ConfigError: ``ALE_ROMS_DIR`` is not a folder, or holds no ``<game>.bin``.
    """
    roms_dir = os.environ.get("ALE_ROMS_DIR")
    if not roms_dir:
        return
    fix = "unset ALE_ROMS_DIR (ale-py >= 0.9 ships every ROM)"
    if not os.path.isdir(roms_dir):
        raise ConfigError(
            f"ALE_ROMS_DIR={roms_dir!r} is not a folder (ale-py reads the Atari ROMs from it): {fix}, or set it to a "
            f"folder holding {game}.bin"
        )
    if not os.path.isfile(os.path.join(roms_dir, f"{game}.bin")):
        raise ConfigError(
            f"ALE_ROMS_DIR={roms_dir!r} holds no {game}.bin, the ROM ale-py needs for this game: {fix}, or put "
            f"{game}.bin there"
        )


def atari_settings(cfg: Mapping[str, Any], is_train: bool) -> AtariSettings:
    """Check the Atari keys of an env config (every key of :data:`ATARI_ENV_KEYS` must be present) and resolve them
    for training (``is_train=True``: ``episode_life`` and ``clip_rewards`` as configured) or evaluation (both off:
    the evaluator plays and scores the real game)."""

    def value(key: str, kind: type | tuple[type, ...], check=lambda v: True, need: str = "") -> Any:
        v = cfg[key]
        if isinstance(v, bool) and kind is not bool or not isinstance(v, kind) or not check(v):
            raise ConfigError(f"env.{key} must be {need or getattr(kind, '__name__', kind)}, got {v!r}")
        return v

    game, game_name = ale_game(cfg["env_id"])
    check_ale_roms(game)
    return AtariSettings(
        game=game,
        game_name=game_name,
        frame_stack=value("frame_stack", int, lambda v: v >= 1, "an int >= 1"),
        episode_life=value("episode_life", bool) and bool(is_train),
        clip_rewards=value("clip_rewards", bool) and bool(is_train),
        noop_max=value("noop_max", int, lambda v: v >= 0, "an int >= 0"),
        fire_reset=value("fire_reset", bool),
        repeat_action_probability=float(
            value("repeat_action_probability", (int, float), lambda v: 0 <= v <= 1, "a number in [0, 1]")
        ),
        max_episode_frames=value("max_episode_frames", int, lambda v: 1 <= v < 2**31, "an int in [1, 2**31)"),
        stack_reset_on_life_loss=value("stack_reset_on_life_loss", bool),
    )


def ale_seed(seed: int) -> int:
    """The seed ale-py gets for a ding seed: ``seed mod 2**31`` (ale-py takes ``[0, 2**31)``; ding's derived seeds
    are uint32). The gymnasium path applies the same map, so a seed means the same no-op starts on both paths."""
    return int(seed) % SEED_MODULUS


def native_atari_settings(env_cfg: Mapping[str, Any], is_train: bool) -> AtariSettings:
    """:func:`atari_settings` of an env config for the native manager: the env type must be ``'atari'`` (its
    registered class gives the defaults of missing keys), and a key the native path cannot honour is an error."""
    import_modules(env_cfg.get("import_names", None) or [], where="env.import_names")
    env_type = env_cfg.get("type")
    if env_type != "atari":
        raise ValueError(
            f"env manager 'atari' runs ale-py's AtariVectorEnv: it needs env.type='atari' (import_names="
            f"['dizoo.atari.envs']), got env.type={env_type!r}; use manager type 'base' or 'subprocess' for other envs"
        )
    env_cls = ENV_REGISTRY.get(env_type)
    defaults = env_cls.default_config() if hasattr(env_cls, "default_config") else EasyDict()
    cfg = EasyDict({**copy.deepcopy(dict(defaults)), **copy.deepcopy(dict(env_cfg))})
    from ding.config.config import ENV_COMMON_CONFIG  # keys of every env config (collector_env_num ...)

    # the run's keys (common to every env, the manager's section, is_train) need nothing from the vector env
    # (and DI-engine's EnvPool keys of an 'env_pool' config, which set the manager's batch_size)
    run_keys = {"manager", "is_train", "collector_batch_size", "evaluator_batch_size"}
    foreign = sorted(set(cfg) - set(ATARI_ENV_KEYS) - set(ENV_COMMON_CONFIG) - run_keys)
    if foreign:
        raise ValueError(
            f"env manager 'atari' (ale-py's AtariVectorEnv) cannot honour env key(s) {foreign}; it reads "
            f"{list(ATARI_ENV_KEYS)}. Remove them or use manager type 'subprocess' (the gymnasium path)"
        )
    missing = [key for key in ATARI_ENV_KEYS if key not in cfg]
    if missing:
        raise ValueError(f"env config lacks Atari key(s) {missing} and env type 'atari' declares no default for them")
    return atari_settings(cfg, is_train)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@ENV_MANAGER_REGISTRY.register("atari")  # and DI-engine's 'env_pool' (ding.envs.env_manager.envpool_env_manager)
class AtariEnvManager(BaseEnvManager):
    """``E`` Atari games stepped by ale-py's C++ vector env on threads, with same-step auto-reset.

    :param env_cfg: the env config (type ``'atari'``): game and preprocessing keys as in :data:`ATARI_ENV_KEYS`.
    :param env_num: number of envs ``E``.
    :param cfg: the ``env.manager`` config; missing keys take the defaults of :attr:`config`.
    :param is_train: training envs (collector) use ``episode_life`` and ``clip_rewards`` as configured; evaluation
        envs (``False``) play and score the real game: no life-loss ends, raw rewards.

    Outputs are those of :class:`BaseEnvManager` (see :class:`ding.envs.EnvStep`), with these conventions, shared
    with the gymnasium path (the ``'atari'`` env under the ``base``/``subprocess`` managers):

    - obs ``(E, frame_stack, 84, 84)`` uint8; the first obs of every episode is ``[0, ..., 0, frame]``.
    - Episodic life (training): a life loss ends the *training* episode (``terminated``; ``final_obs`` is the stack
      at the loss) and the game goes on; the next episode starts from a fresh stack ``[0, ..., 0, frame]``, as
      DeepMind's agent zeroed the frames before a terminal. Such an end reports ``episode_return`` NaN and
      ``episode_length`` 0: no game ended there. When the game ends (game over, or the frame cap: ``truncated``),
      ``episode_return`` is the return of the whole game (all lives, raw rewards) and ``episode_length`` its agent
      steps. Consumers that average returns skip the NaNs; evaluation has no life-loss ends, so every end there is
      a game's end.
    - ``reward`` is the clipped reward (sign) in training, raw in evaluation.

    Synchronous use: ``reset(seed)`` then ``step(action)``. Asynchronous use (``manager.batch_size < E``, to overlap
    inference with stepping; :attr:`asynchronous` is then True): the interface of
    :class:`~ding.envs.env_manager.base_env_manager.AsyncEnvManager`, ``async_reset(seed)``, then ``recv()`` ->
    ``(EnvStep, env_ids)`` for the first ``batch_size`` envs to finish and ``send(action, env_ids)`` for those envs,
    in turn.
    """

    config = dict(
        type="atari",  # manager type in ENV_MANAGER_REGISTRY: ale-py's C++ vector env, for env type 'atari' only
        num_threads=0,  # C++ threads stepping the envs; 0: the cores this process may use (async: one fewer), <= envs
        thread_affinity_offset=-1,  # pin thread i to core (offset + i) mod cores; -1: no pinning
        batch_size=0,  # envs per recv(), async: the collector overlaps inference, stepping; 0: all (sync); evaluators 0
    )

    @classmethod
    def build(
        cls, env_cfg: Mapping[str, Any], env_num: int, is_train: bool = True, render: bool = False
    ) -> BaseEnvManager:
        """A manager of ``env_num`` envs from the compiled ``env`` config (its ``manager`` sub-config).

        ``render`` (evaluation videos): ale-py's vector env gives only the preprocessed grey frames, so the envs are
        then the per-env gymnasium path (env type 'atari', the same game dynamics: tested to match step for step)
        under the in-process manager, rendering the full-colour screen.
        """
        if render:
            return BaseEnvManager.build(env_cfg, env_num, is_train=is_train, render=True)
        manager_cfg = env_cfg.get("manager")
        if not is_train and manager_cfg and manager_cfg.get("batch_size"):
            manager_cfg = {**manager_cfg, "batch_size": 0}  # evaluators step all their envs together (reset/step)
        return cls(env_cfg, env_num, manager_cfg, is_train=is_train)

    @classmethod
    def from_env_fns(cls, manager_cfg: Mapping[str, Any], env_fn: Sequence[Any]) -> AtariEnvManager:
        """DI-engine's ``create_env_manager(cfg.env.manager, [partial(env_fn, cfg=c) for c in env_cfgs])`` with
        ``env_fn, collector_cfgs, evaluator_cfgs = get_vec_env_setting(cfg.env)`` of env type ``'atari'``: the
        vector env of ``len(env_fn)`` games built from the env config those factories carry, as :meth:`build` builds
        it for the pipelines (the factories themselves are not called: ale-py steps the games). The config's
        ``is_train`` picks the side; evaluators step all their envs together (``batch_size`` 0).

        :raises ValueError: a factory that is not ``partial(make_env, cfg=...)`` (the user's own env code, which
            this manager cannot run: use 'base' or 'subprocess'), or factories with different configs.
        """
        from ding.envs.env import make_env

        configs = []
        for i, fn in enumerate(env_fn):
            cfg = None
            if isinstance(fn, functools.partial) and fn.func is make_env:
                cfg = fn.keywords.get("cfg", fn.args[0] if fn.args else None)
            if cfg is None:
                raise ValueError(
                    f"create_env_manager: the 'atari' manager runs ale-py's vector env, built from the env config; it "
                    f"takes the factories of get_vec_env_setting(cfg.env) (partial(env_fn, cfg=c)), and env factory "
                    f"{i} is {fn!r}. Use env manager type 'base' or 'subprocess' for your own env factories"
                )
            configs.append(dict(cfg))
        if not configs:
            raise ValueError("AtariEnvManager needs at least one env factory")
        if any(c != configs[0] for c in configs[1:]):
            raise ValueError(
                "create_env_manager: the 'atari' manager runs all its games with one env config, and these factories' "
                "configs differ; use env manager type 'base' or 'subprocess' to run different configs"
            )
        env_cfg, is_train = configs[0], configs[0].get("is_train", True)
        manager_cfg = dict(manager_cfg)
        if not is_train and manager_cfg.get("batch_size"):
            manager_cfg["batch_size"] = 0  # evaluators step all their envs together (reset/step), as in build()
        return cls(env_cfg, len(configs), manager_cfg, is_train=is_train)

    def __init__(
        self, env_cfg: Mapping[str, Any], env_num: int, cfg: Mapping[str, Any] | None = None, is_train: bool = True
    ) -> None:
        self._closed = True  # until the vector env exists; close() works on a half-built manager
        self._env = None
        if env_num < 1:
            raise ValueError(f"AtariEnvManager needs at least one env, got env_num={env_num}")
        self._cfg = merge_manager_config(self.config, cfg, type(self).__name__)
        self.settings = native_atari_settings(env_cfg, is_train)
        batch_size = self._cfg.batch_size or env_num
        if not 1 <= batch_size <= env_num or env_num % batch_size:
            raise ValueError(f"manager.batch_size={self._cfg.batch_size} must divide env_num={env_num} (0: env_num)")
        # asynchronous: one core is left to the caller, whose inference runs while the envs step
        num_threads = self._cfg.num_threads or max(1, _available_cores() - (batch_size < env_num))
        self.num_threads = max(1, min(num_threads, env_num))

        from ale_py.vector_env import AtariVectorEnv  # ~0.2 s: imported when used
        from gymnasium.vector import AutoresetMode

        s = self.settings
        self._env = AtariVectorEnv(
            s.game,
            env_num,
            batch_size=batch_size,
            num_threads=self.num_threads,
            thread_affinity_offset=self._cfg.thread_affinity_offset,
            max_num_frames_per_episode=s.max_episode_frames,
            repeat_action_probability=s.repeat_action_probability,
            full_action_space=False,
            autoreset_mode=AutoresetMode.SAME_STEP,
            img_height=FRAME_SIZE,
            img_width=FRAME_SIZE,
            grayscale=True,
            stack_num=s.frame_stack,
            frameskip=FRAMESKIP,
            maxpool=True,
            noop_max=s.noop_max,
            episodic_life=False,  # it would restart the whole game at each life loss
            life_loss_info=s.episode_life,  # DeepMind's episodic life: terminated at a life loss, the game goes on
            reward_clipping=False,  # clipped here, so that the reported returns are raw
            use_fire_reset=s.fire_reset,
        )
        self._closed = False
        from ding.envs.spaces import StackedFrames  # gymnasium: imported with the envs, not with the registry

        # ale-py stacks the frames: declared, so off-policy pipelines store each frame once
        self._setup_spaces(
            env_num, StackedFrames.like(self._env.single_observation_space), self._env.single_action_space
        )
        self.batch_size = batch_size
        self._n_actions = int(self._env.single_action_space.n)
        self._all_ids = np.arange(env_num)
        self._lives = np.zeros(env_num, dtype=np.int64)  # lives after each env's last step
        self._frame = np.zeros(env_num, dtype=np.int64)  # episode_frame_number after each env's last step
        self._awaiting_reset = np.zeros(env_num, dtype=bool)  # async: the env's next result is its reset's
        self._stale_frames = np.zeros(env_num, dtype=np.int64)  # leading frames to zero in the env's next stack
        self._stack_index = np.arange(s.frame_stack)
        self._last_ids: np.ndarray | None = None  # envs of the last batch received, whose actions send() takes
        self._pending_batch: tuple | None = None  # async: the first batch, returned by ale-py's reset, for recv()
        self._in_flight = 0  # async: envs working on a reset or an action, whose results recv() will return

    @property
    def asynchronous(self) -> bool:
        """Whether ``batch_size < env_num`` (``async_reset``/``send``/``recv``; ``reset``/``step`` are off)."""
        return self.batch_size < self._env_num

    # -- seeds, actions, bookkeeping -----------------------------------------------------------------------------
    def _seeds(self, seed: int | Sequence[int] | None) -> np.ndarray:
        """Per-env seeds for ale-py: ``seed_list`` (int ``s`` -> ``s + i``), reduced by :func:`ale_seed`; -1 keeps
        an env's RNG going (``None``)."""
        return np.array([-1 if s is None else ale_seed(s) for s in seed_list(seed, self._env_num)], dtype=np.int64)

    def _actions(self, action: Any, n: int) -> np.ndarray:
        action = np.asarray(action)
        if action.dtype.kind not in "iu" or action.size != n:
            raise ValueError(f"expected {n} integer actions (one per env), got shape {action.shape} {action.dtype}")
        action = action.astype(np.int64, copy=False).reshape(n)
        # ale-py raises an out-of-range action in a worker thread, which then never answers: check here
        if action.min() < 0 or action.max() >= self._n_actions:
            raise ValueError(f"actions must lie in [0, {self._n_actions}), got {action.tolist()}")
        return action

    def _start_episodes(self, ids: np.ndarray, info: Mapping[str, np.ndarray]) -> None:
        self._episode_return[ids] = 0.0
        self._episode_length[ids] = 0
        self._stale_frames[ids] = 0
        self._lives[ids] = info["lives"]
        self._frame[ids] = info["episode_frame_number"]

    def _process(
        self,
        obs: np.ndarray,
        raw_reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: Mapping[str, np.ndarray],
        ids: np.ndarray,
        first: np.ndarray | None = None,
    ) -> EnvStep:
        """One batch from ale-py -> EnvStep; ``ids`` are the envs of its rows, ``first`` (async) marks the rows that
        are reset results (reward 0, no end, not counted as a step)."""
        reward = raw_reward.astype(np.float64)
        self._episode_return[ids] += reward
        self._episode_length[ids] += 1 if first is None else ~first
        lives, frame = info["lives"], info["episode_frame_number"]
        done = terminated | truncated
        any_done = done.any()
        if any_done and self.settings.episode_life:
            # A life lost with the game going on: lives went down and the emulator ran on by exactly one step's
            # frames. After a game's reset (game over, frame cap) the lives are back up and the episode frame
            # number restarted from the no-ops, so either test alone tells the two apart but for freak cases.
            life_lost = done & (lives < self._lives[ids]) & (frame == self._frame[ids] + FRAMESKIP)
            game_end = done & ~life_lost
        else:
            life_lost, game_end = None, done
        # stack_reset_on_life_loss: a life lost within the episode (no episode_life end) restarts the stack too
        going_on = None
        if self.settings.stack_reset_on_life_loss and not self.settings.episode_life:
            going_on = ~done & (lives < self._lives[ids])
            if first is not None:
                going_on &= ~first
        self._lives[ids] = lives
        self._frame[ids] = frame
        # ale-py's stack runs on through a life loss; the frames from before it are zeroed for frame_stack - 1 steps
        stale = None
        zeros = self._stale_frames[ids]
        if zeros.any():
            stale = self._stack_index < zeros[:, None]  # (rows, frame_stack): the frames that predate the restart
            self._stale_frames[ids] = np.maximum(zeros - 1, 0)
        if self.settings.clip_rewards:
            reward = np.sign(reward)
        episode_return = np.full(len(ids), np.nan)
        episode_length = np.zeros(len(ids), dtype=np.int64)
        if not any_done:
            if stale is not None:
                obs[stale] = 0
            self._restart_stacks(obs, ids, going_on)
            return EnvStep(obs, reward.astype(np.float32), terminated, truncated, obs, episode_return, episode_length)
        final_obs = obs.copy()
        if game_end.any():
            final_obs[game_end] = info["final_obs"][game_end]
            ended = ids[game_end]
            episode_return[game_end] = self._episode_return[ended]
            episode_length[game_end] = self._episode_length[ended]
            self._episode_return[ended] = 0.0
            self._episode_length[ended] = 0
            self._stale_frames[ended] = 0
        if stale is not None:
            final_obs[stale] = 0
            obs[stale & ~game_end[:, None]] = 0  # a game's reset stack is zero-padded by ale-py already
        if life_lost is not None and life_lost.any():
            obs[life_lost, :-1] = 0  # the next training episode starts from a fresh stack, like a reset
            self._stale_frames[ids[life_lost]] = max(self.settings.frame_stack - 2, 0)
        self._restart_stacks(obs, ids, going_on, final_obs)
        return EnvStep(obs, reward.astype(np.float32), terminated, truncated, final_obs, episode_return, episode_length)

    def _restart_stacks(
        self, obs: np.ndarray, ids: np.ndarray, rows: np.ndarray | None, final_obs: np.ndarray | None = None
    ) -> None:
        """``stack_reset_on_life_loss``: the stacks of ``rows`` (a life lost, the episode going on) become
        ``[0, ..., 0, frame]``, and their older frames stay zeroed for ``frame_stack - 2`` more steps, as after a
        training life-loss end (``final_obs``, where it is another array, follows: these rows did not end)."""
        if rows is None or not rows.any():
            return
        obs[rows, :-1] = 0
        if final_obs is not None and final_obs is not obs:
            final_obs[rows, :-1] = 0
        self._stale_frames[ids[rows]] = max(self.settings.frame_stack - 2, 0)

    def _drain(self) -> None:
        """Receive and drop the results still coming (envs sent an action, or reset, and not received), so that a
        reset starts from quiet envs."""
        self._pending_batch = None
        while self._in_flight > 0:
            self._env.recv()
            self._in_flight -= self.batch_size

    # -- synchronous interface -----------------------------------------------------------------------------------
    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Reset every env; returns the first obs, shape ``(E, frame_stack, 84, 84)`` uint8.

        :param seed: ``int``: env ``i`` is seeded with ``seed + i``; a list: one seed per env (``None`` entries keep
            that env's RNG); ``None``: no reseed. Seeds are reduced modulo ``2**31`` (:func:`ale_seed`). One seed
            fixes all the env's later episodes too (they draw from the env's running RNG).
        """
        self._check_open()
        if self.asynchronous:
            raise RuntimeError(
                f"AtariEnvManager with batch_size={self.batch_size} < env_num={self._env_num} is asynchronous: "
                f"use async_reset() and recv()/send()"
            )
        self._ready = False
        self._drain()
        obs, info = self._env.reset(seed=self._seeds(seed))
        self._start_episodes(self._all_ids, info)
        self._last_ids = self._all_ids
        self._ready = True
        return obs

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every env with its action (shape ``(E,)``, ints in ``[0, action_space.n)``); an env whose episode
        ends is reset in the same step."""
        self._check_open()
        if not self._ready or self.asynchronous or self._last_ids is None:
            raise RuntimeError(
                "AtariEnvManager.step() needs reset() first"
                + (" and synchronous use (manager.batch_size 0)" if self.asynchronous else "")
                + ("; a send() is waiting for its recv()" if self._ready and self._last_ids is None else "")
            )
        batch = self._env.step(self._actions(action, self._env_num))
        return self._process(*batch, self._all_ids)

    # -- asynchronous interface ----------------------------------------------------------------------------------
    def async_reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Reset every env without waiting for all of them; the reset obs come out of :meth:`recv` as rows with
        reward 0 and no episode end (an env's first result after ``async_reset``). ``seed`` as in :meth:`reset`."""
        self._check_open()
        self._ready = False
        self._drain()
        batch = self._env.reset(seed=self._seeds(seed))  # ale-py waits for the first batch_size resets
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        self._stale_frames[:] = 0
        self._awaiting_reset[:] = True
        self._pending_batch = batch  # (obs, info) of the first batch_size resets: recv() returns it
        self._in_flight = self._env_num - self.batch_size
        self._last_ids = None
        self._ready = True

    def recv(self) -> tuple[EnvStep, np.ndarray]:
        """The results of the first ``batch_size`` envs to finish: ``(EnvStep with batch_size rows, env_ids)``.

        A row is an env's reset result (reward 0, not terminated or truncated, NaN return) when it is the env's
        first result since :meth:`async_reset`, i.e. for an env the caller has not yet sent an action to. The next
        :meth:`send` must carry the actions of exactly these envs.
        """
        self._check_open()
        if not self._ready:
            raise RuntimeError("AtariEnvManager.recv() needs reset() or async_reset() first")
        if self._pending_batch is not None:
            (obs, info), self._pending_batch = self._pending_batch, None
            reward = np.zeros(self.batch_size, dtype=np.int32)
            terminated, truncated = np.zeros(self.batch_size, dtype=bool), np.zeros(self.batch_size, dtype=bool)
        else:
            if self._in_flight < self.batch_size:
                raise RuntimeError(
                    f"recv() would wait forever: {self._in_flight} env(s) are working, a batch is {self.batch_size}; "
                    f"send() the actions of the last batch received first"
                )
            obs, reward, terminated, truncated, info = self._env.recv()
            self._in_flight -= self.batch_size
        ids = info["env_id"].astype(np.intp)
        first = self._awaiting_reset[ids]
        if first.any():
            self._start_episodes(ids[first], {k: v[first] for k, v in info.items() if k != "final_obs"})
            self._awaiting_reset[ids] = False
        self._last_ids = ids
        return self._process(obs, reward, terminated, truncated, info, ids, first), ids

    def send(self, action: np.ndarray, env_ids: Sequence[int] | np.ndarray | None = None) -> None:
        """Start the envs of the last :meth:`recv` (or :meth:`reset`) on their actions, without waiting.

        :param action: one action per env of that batch, shape ``(batch_size,)``.
        :param env_ids: the env of each action, any order of that batch's ``env_ids``; ``None``: in its order.
        """
        self._check_open()
        if not self._ready or self._last_ids is None:
            raise RuntimeError("send() takes the actions of the envs of the last recv() (or reset()); call it first")
        ids = self._last_ids
        action = self._actions(action, len(ids))
        if env_ids is not None:
            env_ids = np.asarray(env_ids).reshape(-1)
            if not np.array_equal(env_ids, ids):
                if env_ids.shape != ids.shape or not np.array_equal(np.sort(env_ids), np.sort(ids)):
                    raise ValueError(
                        f"send() got actions for envs {env_ids.tolist()}, the last batch is {ids.tolist()}"
                    )
                position = np.empty(self._env_num, dtype=np.intp)
                position[env_ids] = np.arange(len(env_ids))
                action = action[position[ids]]  # ale-py maps actions to envs by their place in the last batch
        self._env.send(action)
        self._in_flight += len(ids)
        self._last_ids = None

    def close(self) -> None:
        """Stop the C++ threads and free the emulators; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        env, self._env = self._env, None
        if env is not None:
            env.close()
            del env  # the vector env's destructor joins its threads
