from setuptools import find_packages, setup

setup(
    name="ding",
    version="0.1.0",
    description="A PyTorch reinforcement-learning training framework whose learner scales over GPUs and nodes",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["ding", "ding.*", "dizoo", "dizoo.*"]),
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "gymnasium>=1.0",
        "easydict>=1.10",
        "tensorboard>=2.14",
        "ale-py>=0.12",
    ],
    extras_require={
        "plot": ["matplotlib>=3.7"],  # ding plot (imported only by that command)
        "mujoco": ["gymnasium[mujoco]>=1.0"],  # env types 'mujoco' / 'gym' with MuJoCo ids (Hopper-v5, ...)
        "box2d": ["swig", "gymnasium[box2d]>=1.0"],  # LunarLander, BipedalWalker (Box2D builds with swig)
        "compat": ["tensorboardX>=2.6"],  # DI-engine's hand-written entry scripts import tensorboardX's SummaryWriter
        "test": ["pytest>=8", "ruff>=0.6", "matplotlib>=3.7", "gymnasium[mujoco,box2d]>=1.0", "tensorboardX>=2.6"],
    },
    entry_points={"console_scripts": ["ding=ding.entry.cli:main"]},
)
