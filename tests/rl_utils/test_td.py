import pytest
import torch

from ding.rl_utils import SoftUpdate, epsilon_schedule, hard_update, q_nstep_td_error, soft_update


def test_double_dqn_target_hand_computed():
    q = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    next_q_online = torch.tensor([[0.0, 1.0], [3.0, 2.0]])  # picks action 1 for row 0, action 0 for row 1
    next_q_target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    action = torch.tensor([1, 0])
    reward = torch.tensor([1.0, 2.0])
    discount = torch.tensor([0.9, 0.0])  # row 1 terminated: no bootstrap
    loss, td = q_nstep_td_error(q, next_q_target, action, reward, discount, next_q_online=next_q_online)
    target = torch.tensor([1.0 + 0.9 * 20.0, 2.0])
    expected_td = torch.tensor([2.0, 0.5]) - target
    assert torch.allclose(td, expected_td)
    assert loss.item() == pytest.approx((expected_td**2).mean().item())
    loss.backward()
    assert torch.allclose(q.grad, torch.tensor([[0.0, expected_td[0] / 1.0], [expected_td[1] / 1.0, 0.0]]))


def test_plain_dqn_target_uses_target_max_and_weights():
    q = torch.tensor([[1.0, 2.0]])
    next_q_target = torch.tensor([[5.0, 3.0]])
    loss, td = q_nstep_td_error(
        q, next_q_target, torch.tensor([0]), torch.tensor([1.0]), torch.tensor([0.5]), weight=torch.tensor([2.0])
    )
    assert td.item() == pytest.approx(1.0 - (1.0 + 0.5 * 5.0))
    assert loss.item() == pytest.approx(2.0 * 2.5**2)


def test_huber():
    q = torch.tensor([[0.0]])
    loss, _ = q_nstep_td_error(
        q, torch.tensor([[0.0]]), torch.tensor([0]), torch.tensor([3.0]), torch.tensor([0.0]), huber_kappa=1.0
    )
    assert loss.item() == pytest.approx(1.0 * (3.0 - 0.5))


def test_target_updates():
    online, target = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = target.weight.detach().clone()
    soft_update(target, online, 0.25)
    assert torch.allclose(target.weight, 0.75 * before + 0.25 * online.weight)
    hard_update(target, online)
    assert torch.equal(target.weight, online.weight)


def test_soft_update_kept_for_a_pair_follows_their_later_values_and_buffers():
    online = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    target = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    update = SoftUpdate(target, online)  # lists taken once, here
    with torch.no_grad():
        online[0].weight.add_(1.0)  # changed after: the update sees the new values, in place
    online[1].running_mean.fill_(2.0)
    before = target[0].weight.detach().clone()
    update(0.5)
    assert torch.allclose(target[0].weight, 0.5 * before + 0.5 * online[0].weight)
    assert torch.equal(target[1].running_mean, torch.full((3,), 2.0))  # buffers copied
    with pytest.raises(ValueError, match="target has 2 parameters, online 4: not a copy"):
        SoftUpdate(torch.nn.Linear(2, 3), online)


def test_epsilon_schedules():
    exp = epsilon_schedule("exp", 0.95, 0.1, 10000)
    assert exp(0) == pytest.approx(0.95)
    assert exp(10000) == pytest.approx(0.1 + 0.85 * 0.36787944117)
    assert exp(10**9) == pytest.approx(0.1)
    linear = epsilon_schedule("linear", 1.0, 0.05, 100)
    assert linear(0) == 1.0 and linear(50) == pytest.approx(0.525) and linear(100) == pytest.approx(0.05)
    assert linear(1000) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="'exp' or 'linear'"):
        epsilon_schedule("cos", 1, 0, 10)


def test_double_dqn_where_online_and_target_argmax_differ():
    """Every row bootstraps (discount > 0) and the two networks prefer different actions at s', so the four ways to
    build the target give four different answers; only "online picks, target evaluates" is double DQN."""
    q = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    next_q_online = torch.tensor([[1.0, 0.0, 5.0], [2.0, 9.0, 0.0]])  # argmax: 2, 1
    next_q_target = torch.tensor([[7.0, 3.0, 4.0], [6.0, 1.0, 8.0]])  # argmax: 0, 2
    action = torch.tensor([0, 2])
    reward = torch.tensor([1.0, -1.0])
    discount = torch.tensor([0.5, 0.25])
    _, td = q_nstep_td_error(q, next_q_target, action, reward, discount, next_q_online=next_q_online)
    # target = r + discount * Q_target(s', argmax Q_online(s')) = [1 + 0.5 * 4, -1 + 0.25 * 1]
    assert td.tolist() == pytest.approx([-3.0, 0.75])
    # the wrong targets, for the record: max of the target net [4.5, 1.0], target picks / online evaluates
    # [1.5, -1.0], online picks and evaluates [3.5, 1.25]; each differs from the above in both rows


def test_epsilon_warmup_holds_the_start_then_decays_as_dopamine():
    # Dopamine's linearly_decaying_epsilon(decay_period=5000, step, warmup_steps=1600, epsilon=0.01): DrQ(eps)
    def dopamine(step, decay=5000, warmup=1600, eps=0.01):
        bonus = (1.0 - eps) * (decay + warmup - step) / decay
        return eps + min(max(bonus, 0.0), 1.0 - eps)

    schedule = epsilon_schedule("linear", 1.0, 0.01, 5000, warmup=1600)
    for step in (0, 1599, 1600, 1601, 4100, 6599, 6600, 6601, 100_000):
        assert schedule(step) == pytest.approx(dopamine(step))
    assert epsilon_schedule("exp", 1.0, 0.1, 100, warmup=50)(50) == 1.0
    with pytest.raises(ValueError, match="warmup"):
        epsilon_schedule("linear", 1.0, 0.01, 10, warmup=-1)
