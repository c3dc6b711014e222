"""Box2D (gymnasium's LunarLander, BipedalWalker): needs the box2d extra, ``pip install -e '.[box2d]'``."""
