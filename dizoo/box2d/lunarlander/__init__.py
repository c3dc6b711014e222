"""LunarLander-v3: DQN and PPO configs; the env is gymnasium's, as env type 'gym' (or DI-engine's 'lunarlander')."""
