"""A train step of ding's image models with the conv encoder fed NCHW images against channels-last (NHWC) ones, and
an inference forward at acting batch sizes, on the CPU: why ``ConvEncoder`` takes NHWC images in forwards with
autograd (``ConvEncoder.channels_last_training``) and NCHW ones otherwise.

Models (ding's, from the model registry): the Nature-CNN dueling DQN at batch 32 (DrQ(eps)'s network), C51 on
DER's data-efficient encoder (conv 5x5/5 twice) at batch 32, the Nature CNN with 'SAME' padding (Dopamine's) at
batch 32, and the PPO actor-critic (VAC, Nature CNN) at batch 256. A train step: forward on a uint8 batch, a
squared-output loss, backward, Adam step. Timed in alternating rounds (NCHW, NHWC); medians over rounds.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_conv_memory_format.py [--rounds 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from common import time_rounds  # noqa: E402

from ding.model.common import ConvEncoder  # noqa: E402  (importing ding.model registers the models)
from ding.utils.registry import MODEL_REGISTRY  # noqa: E402

OBS = [4, 84, 84]
MODELS = {  # name: (registry type, keyword arguments, train batch)
    "dqn nature, dueling": ("dqn", dict(dueling=True), 32),
    "c51 DER encoder": ("c51dqn", dict(encoder_hidden_size_list=[32, 64, 256], encoder_kernel_size=[5, 5],
                                       encoder_stride=[5, 5]), 32),
    "dqn nature 'same'": ("dqn", dict(encoder_padding="same"), 32),
    "ppo vac nature": ("vac", dict(), 256),
}  # fmt: skip


def with_format(fn, channels_last: bool):
    def call():
        ConvEncoder.channels_last_training = channels_last
        try:
            return fn()
        finally:
            ConvEncoder.channels_last_training = True

    return call


def train_step(model, batch: int):
    obs = torch.randint(0, 256, (batch, *OBS), dtype=torch.uint8)
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)

    def step():
        out = model(obs)
        loss = sum(v.float().pow(2).mean() for v in out.values() if torch.is_tensor(v) and v.requires_grad)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=int(os.environ["OMP_NUM_THREADS"]))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); ms per call, median of {args.rounds} rounds")
    print("train step (forward with autograd, backward, Adam):")
    for name, (kind, kwargs, batch) in MODELS.items():
        torch.manual_seed(0)
        model = MODEL_REGISTRY.get(kind)(OBS, 6, **kwargs)
        step = train_step(model, batch)
        calls = max(1, 600 // batch)
        ms = time_rounds({"NCHW": with_format(step, False), "NHWC": with_format(step, True)}, args.rounds, calls)
        print(f"  {name:22s} batch {batch:3d}: NCHW {ms['NCHW']:7.2f}  NHWC {ms['NHWC']:7.2f}  "
              f"NHWC/NCHW {ms['NHWC'] / ms['NCHW']:.2f}")  # fmt: skip
    print("inference forward (no autograd: what acting runs; ding keeps NCHW there):")
    torch.manual_seed(0)
    model = MODEL_REGISTRY.get("dqn")(OBS, 6, dueling=True).eval()
    for batch in (1, 4, 8, 32):
        obs = torch.randint(0, 256, (batch, *OBS), dtype=torch.uint8)

        def forward(fmt, obs=obs):
            with torch.inference_mode():
                return model(obs.contiguous(memory_format=fmt))

        ms = time_rounds(
            {"NCHW": lambda: forward(torch.contiguous_format), "NHWC": lambda: forward(torch.channels_last)},
            args.rounds,
            50,
        )
        print(f"  dqn nature batch {batch:3d}: NCHW {ms['NCHW']:.3f}  NHWC {ms['NHWC']:.3f}  "
              f"NHWC/NCHW {ms['NHWC'] / ms['NCHW']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
