"""DI-engine's import path of the MuJoCo env type."""
