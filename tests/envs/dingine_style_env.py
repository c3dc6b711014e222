"""An env written against DI-engine's interface (``ding.envs.BaseEnv``) as a DI-engine user writes one, modelled on
DI-engine 0.5.3's own CartPoleEnv (dizoo/classic_control/cartpole/envs/cartpole_env.py), with gymnasium's CartPole as
its simulator: ``reset() -> obs``, ``step -> BaseEnvTimestep`` with a reward of shape (1,), ``seed(seed,
dynamic_seed)``, no ``config`` of its own (it reads ``cfg.max_steps``, a key ding does not know). Registered as
'dingine_cartpole' when imported (create_config's ``import_names``)."""

import gymnasium
import numpy as np

from ding.envs import BaseEnv, BaseEnvTimestep
from ding.torch_utils import to_ndarray
from ding.utils import ENV_REGISTRY


@ENV_REGISTRY.register("dingine_cartpole")
class DingineCartPoleEnv(BaseEnv):
    def __init__(self, cfg: dict = {}) -> None:  # noqa: B006 (DI-engine's signature)
        self._cfg = cfg
        self._init_flag = False
        self._observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self._action_space = gymnasium.spaces.Discrete(2)
        self.seeds_given = []  # (seed, dynamic_seed) of each seed() call, for the tests

    def reset(self) -> np.ndarray:
        if not self._init_flag:
            self._env = gymnasium.make("CartPole-v1", max_episode_steps=self._cfg.get("max_steps", 200))
            self._init_flag = True
        seed = None
        if hasattr(self, "_seed") and self._dynamic_seed:  # DI-engine's: a new start at each reset
            seed = self._seed + 100 * int(self._rng.integers(1, 1000))
        elif hasattr(self, "_seed"):
            seed = self._seed
        obs, _ = self._env.reset(seed=seed)
        self._eval_episode_return = 0.0
        return to_ndarray(obs).astype(np.float32)

    def step(self, action) -> BaseEnvTimestep:
        if isinstance(action, np.ndarray) and action.shape == (1,):
            action = action.squeeze()
        obs, rew, terminated, truncated, info = self._env.step(int(action))
        self._eval_episode_return += rew
        if truncated:
            info["TimeLimit.truncated"] = True
        if terminated or truncated:
            info["eval_episode_return"] = self._eval_episode_return
        reward = to_ndarray([rew]).astype(np.float32)  # DI-engine's envs: shape (1,)
        return BaseEnvTimestep(to_ndarray(obs).astype(np.float32), reward, terminated or truncated, info)

    def seed(self, seed: int, dynamic_seed: bool = True) -> None:
        self._seed, self._dynamic_seed = seed, dynamic_seed
        self._rng = np.random.default_rng(seed)
        self.seeds_given.append((seed, dynamic_seed))

    def close(self) -> None:
        if self._init_flag:
            self._env.close()
        self._init_flag = False

    @property
    def observation_space(self) -> gymnasium.spaces.Space:
        return self._observation_space

    @property
    def action_space(self) -> gymnasium.spaces.Space:
        return self._action_space

    def __repr__(self) -> str:
        return "DI-engine-style CartPole env"


@ENV_REGISTRY.register("dingine_cartpole_render")
class DingineRenderingCartPoleEnv(DingineCartPoleEnv):
    """The same env with ``render()``: a blank RGB frame, which it can give only once reset (and its reset draws
    from the RNG that ``seed()`` makes: an env reset before it is seeded fails, as DI-engine's do)."""

    def render(self) -> np.ndarray:
        if not self._init_flag:
            raise RuntimeError("render() before reset()")
        return np.zeros((40, 60, 3), np.uint8)
