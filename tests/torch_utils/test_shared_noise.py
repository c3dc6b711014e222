"""ding.torch_utils.shared_noise: one process's draws (every rank draws the union batch's, keeps its rows) and
generator states restored from checkpoints, also ones saved on another device type."""

import pytest
import torch

from ding.torch_utils.shared_noise import rank_rand, rank_randint, rank_randn, restore_generator


@pytest.mark.parametrize("draw", [rank_rand, rank_randn])
def test_one_process_draws_the_whole_batch(draw):
    generator = torch.Generator().manual_seed(3)
    noise = draw(generator, 5, (4,), all_ranks=False)
    assert noise.shape == (5, 4) and noise.dtype == torch.get_default_dtype()
    again = draw(torch.Generator().manual_seed(3), 5, (4,), all_ranks=False)
    assert torch.equal(noise, again)
    if draw is rank_rand:
        assert ((noise >= 0) & (noise < 1)).all()
    ints = rank_randint(torch.Generator().manual_seed(3), 5, 9, (2,), all_ranks=False)
    assert ints.shape == (5, 2) and 0 <= ints.min() and ints.max() < 9


def test_a_saved_state_is_restored_exactly():
    generator = torch.Generator().manual_seed(7)
    torch.rand(3, generator=generator)
    state = generator.get_state()
    expected = torch.rand(5, generator=generator)
    other = torch.Generator()
    restore_generator(other, state, "noise_rng")
    assert torch.equal(torch.rand(5, generator=other), expected)


def test_a_state_from_another_device_type_seeds_the_generator_from_its_bytes_with_a_warning():
    cuda_like = torch.arange(16, dtype=torch.uint8)  # a CUDA generator's state is 16 bytes; a CPU one's 5,056
    first, second = torch.Generator(), torch.Generator()
    with pytest.warns(UserWarning, match="'tau_rng' generator state was saved on another device type"):
        restore_generator(first, cuda_like, "tau_rng")
    with pytest.warns(UserWarning):
        restore_generator(second, cuda_like, "tau_rng")
    assert torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=second))  # same seed: ranks stay in step
    third = torch.Generator()
    with pytest.warns(UserWarning):
        restore_generator(third, cuda_like + 1, "tau_rng")
    fresh = torch.Generator()
    with pytest.warns(UserWarning):
        restore_generator(fresh, cuda_like, "tau_rng")
    assert not torch.equal(torch.rand(4, generator=fresh), torch.rand(4, generator=third))  # other bytes, other seed
