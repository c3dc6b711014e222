"""BipedalWalker-v3: DI-engine's env type 'bipedalwalker' (gymnasium's env, as type 'gym' with that id)."""
