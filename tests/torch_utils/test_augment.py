"""DrQ's random shift and SPR's random intensity (ding.torch_utils.augment) and the DQN family's augmented learn
batches: shapes, dtypes, every output a crop of the edge-padded input at an offset in [0, 2 pad], every intensity
factor in [1 - 2 scale, 1 + 2 scale] and one per image, each sample and obs / next obs on its own."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ding.config import compile_config
from ding.torch_utils.augment import gather_shift, random_intensity, random_shift, slice_shift
from ding.utils.registry import POLICY_REGISTRY

PAD = 4


def padded(images: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """The reference padding: torch's replication pad (DrQ's nn.ReplicationPad2d), in float."""
    return F.pad(images.double(), (pad, pad, pad, pad), mode="replicate")


def crop_offsets(out: torch.Tensor, images: torch.Tensor, pad: int = PAD) -> list[tuple[int, int]]:
    """For each sample, the one offset (dy, dx) in [0, 2 pad]^2 whose crop of the padded input equals the output
    (asserts that there is exactly one: random images make a crop identify its offset)."""
    reference = padded(images, pad)
    size = images.shape[-1]
    found = []
    for b in range(len(images)):
        matches = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(reference[b, :, dy : dy + size, dx : dx + size], out[b].double())
        ]
        assert len(matches) == 1, f"sample {b}: output is a crop at {matches} (need exactly one)"
        found.append(matches[0])
    return found


def test_shift_by_hand_on_a_small_image():
    image = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    out = random_shift(image, torch.tensor([[0, 2]]), pad=1)  # one row up (edge repeated), one column left
    expected = torch.tensor([[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7], [9, 10, 11, 11]], dtype=torch.uint8)
    assert out.dtype == torch.uint8 and torch.equal(out[0, 0], expected)
    assert random_shift(image, torch.tensor([[1, 1]]), pad=1).equal(image)  # the centre crop is the image
    assert random_shift(image, torch.tensor([[0, 0]]), pad=0) is image


@pytest.mark.parametrize("shift", [random_shift, slice_shift, gather_shift])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_every_output_is_a_crop_of_the_padded_input_at_the_given_offset(dtype, shift):
    """Both ways (the CPU's slices, the GPU's gathers; each runs on the CPU here) crop the same."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 4, 84, 84), generator=g).to(dtype)
    offsets = torch.randint(0, 2 * PAD + 1, (12, 2), generator=g)
    offsets[0], offsets[1] = torch.tensor([0, 0]), torch.tensor([8, 8])  # both ends of the range
    out = shift(images, offsets, PAD)
    assert out.shape == images.shape and out.dtype == dtype
    assert crop_offsets(out, images) == [tuple(o) for o in offsets.tolist()]
    # every frame of a stack shifts alike: the channels share the offset (checked per sample above)


@pytest.mark.parametrize("shift", [random_shift, slice_shift, gather_shift])
def test_an_empty_batch_shifts_to_an_empty_batch(shift):
    images = torch.zeros((0, 4, 84, 84), dtype=torch.uint8)
    out = shift(images, torch.zeros((0, 2), dtype=torch.long), PAD)
    assert out.shape == images.shape and out.dtype == torch.uint8


def image_policy(policy_type: str = "dqn", **learn):
    """A DQN-family policy on 4x84x84 stacks with DER's small encoder (cheap) and random shifts of pad 4."""
    from dizoo.atari.config.serial.atari_dqn import atari_dqn_config

    main, create = atari_dqn_config("Pong", 6, 20, policy_type)
    main.policy.cuda = False
    main.policy.model.update(encoder_hidden_size_list=[32, 64, 256], encoder_kernel_size=[5, 5], encoder_stride=[5, 5])
    main.policy.learn.update(random_shift_pad=PAD, **learn)
    main.policy.other.replay_buffer.replay_buffer_size = 1000
    cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.get(policy_type)(cfg.policy), cfg


def image_batch(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.integers(0, 256, (n, 4, 84, 84), dtype=np.uint8),
        "action": rng.integers(0, 6, n),
        "reward": rng.standard_normal(n).astype(np.float32),
        "next_obs": rng.integers(0, 256, (n, 4, 84, 84), dtype=np.uint8),
        "discount": np.full(n, 0.99, np.float32),
        "weight": np.ones(n, np.float32),
    }


def test_learner_crops_obs_and_next_obs_independently_per_sample_over_the_whole_range():
    policy, _ = image_policy()
    batch = image_batch(64)
    data = policy._learn_data(batch)
    assert data["obs"].dtype == torch.uint8 and data["obs"].shape == (64, 4, 84, 84)
    obs_offsets = crop_offsets(data["obs"], torch.from_numpy(batch["obs"]))
    next_offsets = crop_offsets(data["next_obs"], torch.from_numpy(batch["next_obs"]))
    drawn = np.array(obs_offsets + next_offsets)
    assert drawn.min() == 0 and drawn.max() == 2 * PAD  # the whole range [0, 8] is drawn (64 x 4 draws)
    assert len(set(obs_offsets)) > 20  # per sample, not one crop for the batch
    assert obs_offsets != next_offsets  # obs and next obs each get their own crop
    assert policy.augment_seconds > 0
    again = policy._learn_data(batch)
    assert not torch.equal(again["obs"], data["obs"])  # a fresh draw every step


@pytest.mark.parametrize("policy_type", ["dqn", "c51", "qrdqn", "iqn", "rainbow"])
def test_every_dqn_family_policy_trains_on_shifted_images_and_checkpoints_the_crop_generator(policy_type):
    policy, cfg = image_policy(policy_type)
    batch = image_batch(8)
    stats = policy.learn_mode.forward(batch)
    assert np.isfinite(float(stats["total_loss"]))
    state = policy.learn_mode.state_dict()
    assert "augment_rng" in state
    other = POLICY_REGISTRY.get(policy_type)(cfg.policy)
    other.learn_mode.load_state_dict(state)
    assert torch.equal(other._learn_data(batch)["obs"], policy._learn_data(batch)["obs"])  # the same next crops


@pytest.mark.parametrize("key, value", [("random_shift_pad", 4), ("random_intensity_scale", 0.05)])
def test_image_augmentation_needs_image_observations(cartpole_dqn, key, value):
    from ding.config import ConfigError

    main, create = cartpole_dqn
    main.policy.learn[key] = value
    with pytest.raises(ConfigError, match=f"{key}.*augments images.*not \\(channels, height, width\\)"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_intensity_by_hand():
    image = torch.tensor([[[[0, 51], [102, 255]]]], dtype=torch.uint8).expand(3, 2, 2, 2)  # 3 samples, 2 frames
    normal = torch.tensor([1.0, -3.0, 0.0])  # the second is clipped to -2
    out = random_intensity(image, normal, scale=0.05)
    assert out.dtype == torch.float32
    pixels = torch.tensor([[0.0, 0.2], [0.4, 1.0]])
    for b, factor in enumerate((1.05, 0.9, 1.0)):
        assert torch.allclose(out[b], pixels * factor)  # uint8 read as [0, 1], both frames scaled alike
    floats = torch.full((1, 1, 2, 2), 2.0, dtype=torch.float64)
    scaled = random_intensity(floats, torch.tensor([2.0]), 0.1)  # float32 draws, float64 images
    assert scaled.dtype == torch.float64 and torch.allclose(scaled, floats * 1.2)
    assert (floats == 2.0).all()  # the input is left as it was
    assert random_intensity(image, normal, scale=0.0) is image
    with pytest.raises(ValueError, match="B normal draws"):
        random_intensity(image, normal[:2], scale=0.05)


def test_learner_scales_intensity_per_image_after_the_crops():
    policy, _ = image_policy(random_intensity_scale=0.05)
    batch = image_batch(256)
    batch["obs"][:] = 200  # a flat image: any crop is the image, so out / in is the intensity factor alone
    batch["next_obs"][:] = 100
    data = policy._learn_data(batch)
    assert data["obs"].dtype == torch.float32
    obs_factor = data["obs"] / (200 / 255)
    next_factor = data["next_obs"] / (100 / 255)
    for factor in (obs_factor, next_factor):
        per_image = factor.flatten(1)
        assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))  # one factor per image
        first = per_image[:, 0]
        assert 0.9 - 1e-6 <= first.min() and first.max() <= 1.1 + 1e-6 and 0.02 < first.std() < 0.07
        assert (first - 1.0).abs().lt(1e-3).sum() < 10  # scaled, not passed through
    assert not torch.allclose(obs_factor, next_factor)  # obs and next obs each draw their own factor
    # the crops are drawn first, as without intensity: the same seed crops alike, then each image is scaled
    shifted_only, _ = image_policy()
    crops = shifted_only._learn_data(image_batch(8))["obs"].double()
    policy, _ = image_policy(random_intensity_scale=0.05)
    both = policy._learn_data(image_batch(8))["obs"].double() * 255
    lit = crops > 0
    ratio = torch.where(lit, both / crops.clamp(min=1), torch.nan).flatten(1)
    for row in ratio:
        row = row[~row.isnan()]
        assert 0.9 - 1e-6 <= row.min() and torch.allclose(row, row[:1].expand_as(row))
