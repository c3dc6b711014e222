"""C51's projection and cross-entropy, QR-DQN's quantile Huber loss: against hand-computed values and direct
per-element formulas."""

import math

import numpy as np
import pytest
import torch

from ding.rl_utils import c51_projection, dist_nstep_td_error, qrdqn_nstep_td_error, quantile_huber_loss
from ding.rl_utils.nstep import nstep_window_return

SUPPORT3 = torch.tensor([-1.0, 0.0, 1.0])  # v_min -1, v_max 1, 3 atoms: dz = 1


def test_projection_of_hand_built_distributions():
    next_dist = torch.tensor([[0.2, 0.5, 0.3]] * 4)
    reward = torch.tensor([0.5, 2.0, -3.0, -0.25])
    discount = torch.tensor([0.5, 0.9, 0.9, 0.0])
    m = c51_projection(next_dist, reward, discount, SUPPORT3)
    expected = torch.tensor(
        [
            # Tz = (0, 0.5, 1): 0.2 -> z=0; 0.5 split half/half between z=0 and z=1; 0.3 -> z=1
            [0.0, 0.2 + 0.25, 0.25 + 0.3],
            [0.0, 0.0, 1.0],  # Tz = (1.1, 2, 2.9): beyond v_max, all clipped to the top atom
            [1.0, 0.0, 0.0],  # Tz = (-3.9, -3, -2.1): all clipped to the bottom atom
            [0.25, 0.75, 0.0],  # terminal (discount 0): all mass at r = -0.25, 1/4 on z=-1, 3/4 on z=0
        ]
    )
    assert torch.allclose(m, expected, atol=1e-6)


def test_projection_conserves_mass_and_stays_on_the_support():
    g = torch.Generator().manual_seed(0)
    support = torch.linspace(-10, 10, 51)
    next_dist = torch.softmax(3 * torch.randn(256, 51, generator=g), dim=1)
    reward = 15 * torch.randn(256, generator=g)  # many targets beyond the edges
    discount = torch.rand(256, generator=g) * (torch.rand(256, generator=g) < 0.8)  # some terminal rows
    m = c51_projection(next_dist, reward, discount, support)
    assert torch.allclose(m.sum(dim=1), torch.ones(256), atol=1e-5)
    assert (m >= 0).all()
    # the projection keeps the mean wherever nothing is clipped (eq. 7 is linear interpolation between atoms)
    inside = ((reward.unsqueeze(1) + discount.unsqueeze(1) * support).abs() <= 10).all(dim=1)
    assert inside.sum() > 10
    mean_target = reward + discount * (next_dist @ support)
    assert torch.allclose((m @ support)[inside], mean_target[inside], atol=1e-4)


def test_terminated_window_does_not_bootstrap_a_truncated_one_does():
    """The buffer's n-step windows (ding.rl_utils.nstep) feed the projection: a termination inside the window gives
    discount 0 (all mass at the return), a time-limit truncation gives gamma^k (the next distribution, shifted)."""
    gamma = 0.5
    reward = np.array([[0.25, 0.25, 0.0], [0.25, 0.25, 0.0]], dtype=np.float32)
    ended = np.array([[False, True, False], [False, True, False]])
    terminated, truncated = ended & [[True], [False]], ended & [[False], [True]]
    ret, discount, _ = nstep_window_return(reward, terminated, truncated, np.ones_like(ended), gamma)
    assert discount.tolist() == [0.0, 0.25] and ret.tolist() == [0.375, 0.375]
    next_dist = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # all mass on z = 1
    m = c51_projection(next_dist, torch.from_numpy(ret), torch.from_numpy(discount), SUPPORT3)
    assert torch.allclose(m[0], torch.tensor([0.0, 0.625, 0.375]))  # terminated: a point mass at 0.375
    assert torch.allclose(m[1], torch.tensor([0.0, 0.375, 0.625]))  # truncated: 0.375 + 0.25 * 1 = 0.625


def _paper_projection(p, r, discount, support):
    """Algorithm 1 of Bellemare et al. 2017, element by element (floor/ceil neighbours)."""
    n, v_min, v_max = len(support), support[0], support[-1]
    dz = (v_max - v_min) / (n - 1)
    m = [0.0] * n
    for j in range(n):
        tz = min(max(r + discount * support[j], v_min), v_max)
        b = (tz - v_min) / dz
        lo, hi = math.floor(b), math.ceil(b)
        if lo == hi:
            m[lo] += p[j]
        else:
            m[lo] += p[j] * (hi - b)
            m[hi] += p[j] * (b - lo)
    return m


def test_c51_loss_is_the_cross_entropy_to_the_projected_double_q_target():
    g = torch.Generator().manual_seed(1)
    batch, actions, atoms = 6, 3, 11
    support = torch.linspace(-2, 2, atoms, dtype=torch.float64)
    logits = torch.randn(batch, actions, atoms, generator=g, dtype=torch.float64, requires_grad=True)
    log_dist = torch.log_softmax(logits, dim=2)
    next_dist = torch.softmax(torch.randn(batch, actions, atoms, generator=g, dtype=torch.float64), dim=2)
    next_q_online = torch.randn(batch, actions, generator=g, dtype=torch.float64)
    action = torch.randint(0, actions, (batch,), generator=g)
    reward = torch.randn(batch, generator=g, dtype=torch.float64)
    discount = torch.tensor([0.9, 0.0, 0.81, 0.9, 0.0, 0.5], dtype=torch.float64)
    weight = torch.rand(batch, generator=g, dtype=torch.float64)
    loss, priority = dist_nstep_td_error(
        log_dist, next_dist, action, reward, discount, support, next_q_online=next_q_online, weight=weight
    )
    expected = []
    for b in range(batch):
        a_star = int(next_q_online[b].argmax())  # double selection: the online net's Q picks the target action
        m = _paper_projection(next_dist[b, a_star].tolist(), float(reward[b]), float(discount[b]), support.tolist())
        expected.append(-sum(m[i] * float(log_dist[b, action[b], i].detach()) for i in range(atoms)))
    expected = torch.tensor(expected, dtype=torch.float64)
    assert torch.allclose(priority, expected, atol=1e-10)  # DI-engine's PER priority: the cross-entropy
    assert torch.allclose(loss, (weight * expected).mean(), atol=1e-10)
    loss.backward()
    assert logits.grad is not None and priority.grad_fn is None
    # without the online Q, the target's own Q picks the action
    loss_target, _ = dist_nstep_td_error(log_dist, next_dist, action, reward, discount, support)
    q_target = next_dist @ support
    again, _ = dist_nstep_td_error(log_dist, next_dist, action, reward, discount, support, next_q_online=q_target)
    assert torch.allclose(loss_target, again)


def _direct_quantile_huber(theta, target, kappa, taus=None):
    n = len(theta)
    total = 0.0
    for i in range(n):
        tau = (2 * i + 1) / (2 * n) if taus is None else taus[i]
        for t in target:
            u = t - theta[i]
            huber = 0.5 * u * u if abs(u) <= kappa else kappa * (abs(u) - 0.5 * kappa)
            total += abs(tau - (1.0 if u < 0 else 0.0)) * huber / kappa / len(target)
    return total


@pytest.mark.parametrize("kappa", [1.0, 0.3, 4.0])
def test_quantile_huber_loss_against_the_direct_formula(kappa):
    g = torch.Generator().manual_seed(2)
    theta = torch.randn(5, 8, generator=g, dtype=torch.float64) * 2
    target = torch.randn(5, 8, generator=g, dtype=torch.float64) * 2
    got = quantile_huber_loss(theta, target, kappa)
    expected = [_direct_quantile_huber(theta[b].tolist(), target[b].tolist(), kappa) for b in range(5)]
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_quantile_huber_loss_hand_value():
    # one quantile (tau = 0.5), targets 2 and -0.5 at kappa 1: u = 2 -> 0.5 * (2 - 0.5) = 0.75; u = -0.5 -> 0.5 *
    # 0.125 = 0.0625; mean over the two targets: 0.40625
    got = quantile_huber_loss(torch.tensor([[0.0]]), torch.tensor([[2.0, -0.5]]), 1.0)
    assert got.item() == pytest.approx(0.40625)


def test_quantile_regression_converges_to_the_quantiles_of_the_targets():
    """Minimising the loss over samples of a distribution puts theta_i at its tau_i quantiles (kappa small)."""
    g = torch.Generator().manual_seed(3)
    samples = torch.rand(1, 4000, generator=g, dtype=torch.float64)  # U(0, 1): quantile tau is tau
    theta = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=0.02)
    for _ in range(600):
        optimizer.zero_grad()
        quantile_huber_loss(theta, samples, 0.01).sum().backward()
        optimizer.step()
    assert torch.allclose(theta.detach(), torch.tensor([[0.125, 0.375, 0.625, 0.875]], dtype=torch.float64), atol=0.02)


def test_qrdqn_loss_targets_and_priority():
    g = torch.Generator().manual_seed(4)
    batch, actions, n = 4, 3, 6
    quantiles = torch.randn(batch, actions, n, generator=g, dtype=torch.float64, requires_grad=True)
    next_quantiles = torch.randn(batch, actions, n, generator=g, dtype=torch.float64)
    next_q_online = torch.randn(batch, actions, generator=g, dtype=torch.float64)
    action = torch.tensor([0, 2, 1, 1])
    reward = torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64)
    discount = torch.tensor([0.9, 0.0, 0.81, 0.9], dtype=torch.float64)  # row 1 terminated
    weight = torch.tensor([1.0, 0.5, 0.25, 1.0], dtype=torch.float64)
    loss, priority = qrdqn_nstep_td_error(
        quantiles, next_quantiles, action, reward, discount, kappa=1.0, next_q_online=next_q_online, weight=weight
    )
    expected = []
    for b in range(batch):
        a_star = int(next_q_online[b].argmax())
        target = (reward[b] + discount[b] * next_quantiles[b, a_star]).tolist()
        expected.append(_direct_quantile_huber(quantiles[b, action[b]].tolist(), target, 1.0))
    expected = torch.tensor(expected, dtype=torch.float64)
    assert torch.allclose(priority, expected, atol=1e-12)
    assert torch.allclose(loss, (weight * expected).mean(), atol=1e-12)
    # the terminated row's target is the reward alone, whatever the next quantiles are
    changed = next_quantiles.clone()
    changed[:2] += 100  # rows 0 (bootstraps) and 1 (terminated)
    _, priority_changed = qrdqn_nstep_td_error(
        quantiles, changed, action, reward, discount, next_q_online=next_q_online
    )
    assert priority_changed[1] == pytest.approx(priority[1].item()) and priority_changed[0] != priority[0]


@pytest.mark.parametrize("kappa", [1.0, 0.5])
def test_quantile_huber_loss_at_given_fractions_against_the_direct_formula(kappa):
    """IQN's form: each sample's predictions at fractions of its own (B, N), targets of another count M."""
    g = torch.Generator().manual_seed(5)
    theta = torch.randn(4, 6, generator=g, dtype=torch.float64) * 2
    target = torch.randn(4, 9, generator=g, dtype=torch.float64) * 2
    tau = torch.rand(4, 6, generator=g, dtype=torch.float64)
    got = quantile_huber_loss(theta, target, kappa, tau)
    expected = [_direct_quantile_huber(theta[b].tolist(), target[b].tolist(), kappa, tau[b].tolist()) for b in range(4)]
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    midpoints = (2 * torch.arange(6, dtype=torch.float64) + 1) / 12  # tau (N,) for all rows = QR-DQN's default
    assert torch.allclose(
        quantile_huber_loss(theta, target, kappa, midpoints), quantile_huber_loss(theta, target, kappa)
    )


def test_quantile_regression_at_sampled_fractions_learns_the_quantile_function():
    """IQN's premise: minimising the loss at fresh random fractions each step, a function of tau fitted to samples
    of a distribution approaches its quantile function (here U(0, 4): Z_tau = 4 tau, a line a + b tau)."""
    g = torch.Generator().manual_seed(6)
    samples = 4 * torch.rand(1, 4000, generator=g, dtype=torch.float64)
    coef = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([coef], lr=0.02)
    for _ in range(1500):
        tau = torch.rand(1, 16, generator=g, dtype=torch.float64)
        optimizer.zero_grad()
        quantile_huber_loss(coef[0] + coef[1] * tau, samples, 0.01, tau).sum().backward()
        optimizer.step()
    assert coef[0].item() == pytest.approx(0.0, abs=0.1) and coef[1].item() == pytest.approx(4.0, abs=0.2)
