"""Reinforcement learning: pure environments, tabular planning, and agents trained in one scan."""

from rabbitjax.rl.agents import (
    PQNParams,
    QApproxParams,
    QLearningParams,
    ReinforceParams,
    epsilon_greedy,
    greedy_return,
    lambda_returns,
    make_pqn,
    make_q_approx,
    make_q_learning,
    make_reinforce,
    q_learning_update,
)
from rabbitjax.rl.environments import CartPole, FrozenLake, Timestep, step_and_reset
from rabbitjax.rl.planning import greedy_policy, policy_values, value_iteration

__all__ = [
    "CartPole",
    "FrozenLake",
    "PQNParams",
    "QApproxParams",
    "QLearningParams",
    "ReinforceParams",
    "Timestep",
    "epsilon_greedy",
    "greedy_return",
    "greedy_policy",
    "lambda_returns",
    "make_pqn",
    "make_q_approx",
    "make_q_learning",
    "make_reinforce",
    "policy_values",
    "q_learning_update",
    "step_and_reset",
    "value_iteration",
]
