"""Q-learning (tabular and with function approximation) and REINFORCE, PureJaxRL-style.

Each `make_*(params, env, env_params)` takes the agent's typed parameters and returns
`train(key, hparams) -> (final, history)`: the whole training is one `lax.scan`, so
`rabbitjax.train.train_agents` trains every seed and hyper-parameter point of a sweep in one
compiled program. `hparams` are the run's swept values (epsilon, learning_rate); `history` maps
metric names to arrays with one entry per logging chunk (or per update, for REINFORCE).
"""

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp
import optax

from rabbitjax.models import MLP
from rabbitjax.rl import planning
from rabbitjax.rl.environments import step_and_reset
from rabbitjax.train.optimizers import make_optimizer, optimizer_step


@dataclasses.dataclass(frozen=True)
class QLearningParams:
  """What a Q-learner needs besides its swept epsilon and learning rate.

  Attributes:
    gamma: discount.
    total_steps: environment steps (per environment), in `num_logs` equal logged chunks.
    num_logs: logged chunks; must divide total_steps.
    epsilon_decay_steps: epsilon decays linearly from 1.0 to the swept value over these
      steps; 0 keeps it constant.
  """

  gamma: float
  total_steps: int
  num_logs: int
  epsilon_decay_steps: int


@dataclasses.dataclass(frozen=True)
class QApproxParams(QLearningParams):
  """A Q-network learner's further parameters.

  Attributes:
    hidden: the Q-network's hidden widths (relu).
    num_envs: environments stepped in parallel; each step learns from their batch.
    optimizer: a name from rabbitjax.train.OPTIMIZERS.
    target_period: steps between copies of the online network to the target (1: none).
  """

  hidden: tuple[int, ...] = (64, 64)
  num_envs: int = 16
  optimizer: str = "adam"
  target_period: int = 1


@dataclasses.dataclass(frozen=True)
class ReinforceParams:
  """REINFORCE's parameters besides its swept learning rate.

  Attributes:
    hidden: hidden widths (relu) of the policy and of the baseline.
    gamma: discount.
    optimizer: the policy's optimizer, a name from rabbitjax.train.OPTIMIZERS.
    baseline: subtract a learned state-value baseline from the returns.
    baseline_learning_rate: the baseline's Adam step size.
    episodes_per_update: whole episodes played per update.
    num_updates: updates (history entries).
    return_window: episodes in the logged moving average of returns; a multiple of
      episodes_per_update.
    probes: metric name -> (observation, action): pi(action | observation) is logged per update.
  """

  hidden: tuple[int, ...]
  gamma: float
  optimizer: str
  baseline: bool
  baseline_learning_rate: float
  episodes_per_update: int
  num_updates: int
  return_window: int
  probes: Mapping[str, tuple[tuple[float, ...], int]] = dataclasses.field(default_factory=dict)


def epsilon_greedy(key, q_values, epsilon):
  """The greedy action, or with probability epsilon a uniformly random one (exploration)."""
  explore_key, action_key = jax.random.split(key)
  random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
  return jnp.where(jax.random.uniform(explore_key) < epsilon, random_action,
                   jnp.argmax(q_values, axis=-1))


def epsilon_at(step, final_epsilon, decay_steps: int):
  """Linear decay from 1.0 to `final_epsilon` over `decay_steps`; constant when 0."""
  if decay_steps == 0:
    return final_epsilon
  fraction = jnp.clip(step / decay_steps, 0.0, 1.0)
  return 1.0 + fraction * (final_epsilon - 1.0)


def _finished_episodes(done, episode_returns):
  """(number of episodes that ended in a chunk, their mean return; 0 when none ended)."""
  count = jnp.sum(done)
  return count, jnp.sum(jnp.where(done, episode_returns, 0.0)) / jnp.maximum(count, 1)


def train_in_chunks(env_step, carry, params: QLearningParams, chunk_metrics=lambda carry: {}):
  """Runs `params.total_steps` calls of `env_step` as `num_logs` logged chunks, in one scan.

  `env_step(carry, step) -> (carry, (done, episode_return, epsilon))`. Each chunk logs the mean
  return of the episodes that ended in it, their number, the last epsilon, and
  `chunk_metrics(carry)`.

  Returns:
    (final carry, history: metric -> (num_logs,)).
  """
  steps_per_log = params.total_steps // params.num_logs

  def chunk(carry, chunk_index):
    steps = chunk_index * steps_per_log + jnp.arange(steps_per_log)
    carry, (done, returns, epsilons) = jax.lax.scan(env_step, carry, steps)
    episodes, mean_return = _finished_episodes(done, returns)
    return carry, {"episode_return": mean_return, "episodes": episodes.astype(jnp.float32),
                   "epsilon": epsilons[-1], **chunk_metrics(carry)}

  return jax.lax.scan(chunk, carry, jnp.arange(params.num_logs))


# --- Tabular Q-learning --------------------------------------------------------------------

def q_learning_update(q_values, obs, action, reward, next_obs, terminated, learning_rate, gamma):
  """Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a)), no bootstrap after termination.

  A truncated transition (time limit) bootstraps: s' still has value, the clock just ran out.
  """
  bootstrap = jnp.where(terminated, 0.0, gamma * jnp.max(q_values[next_obs]))
  td_error = reward + bootstrap - q_values[obs, action]
  return q_values.at[obs, action].add(learning_rate * td_error)


def make_q_learning(params: QLearningParams, env, env_params):
  """Tabular Q-learning with epsilon-greedy exploration on a tabular env (FrozenLake).

  hparams: epsilon (constant, or the final value of a decay from 1.0), learning_rate.
  Logged per chunk: the behaviour policy's mean episode return, the number of episodes, epsilon,
  and the exact discounted value of the greedy policy at the start state (from the env's model).
  """
  probabilities, rewards = env.transition_model(env_params)

  def train(key, hparams):
    reset_key, key = jax.random.split(key)
    obs, env_state = env.reset(reset_key, env_params)
    q_values = jnp.zeros((env.num_states, env.num_actions), jnp.float32)

    def env_step(carry, step):
      q_values, obs, env_state, episode_return, key = carry
      key, action_key, env_key = jax.random.split(key, 3)
      epsilon = epsilon_at(step, hparams["epsilon"], params.epsilon_decay_steps)
      action = epsilon_greedy(action_key, q_values[obs], epsilon)
      timestep, next_obs, env_state = step_and_reset(env, env_key, env_state, action, env_params)
      q_values = q_learning_update(q_values, obs, action, timestep.reward, timestep.obs,
                                   timestep.terminated, hparams["learning_rate"], params.gamma)
      episode_return = episode_return + timestep.reward
      done = timestep.terminated | timestep.truncated
      carry = (q_values, next_obs, env_state, jnp.where(done, 0.0, episode_return), key)
      return carry, (done, episode_return, epsilon)

    def greedy_value(carry):
      greedy = planning.greedy_policy(carry[0])
      values = planning.policy_values(probabilities, rewards, greedy, params.gamma)
      return {"greedy_value": values[env.start]}

    carry = (q_values, obs, env_state, jnp.float32(0.0), key)
    carry, history = train_in_chunks(env_step, carry, params, greedy_value)
    return carry[0], history

  return train


# --- Q-learning with function approximation ------------------------------------------------

def make_q_approx(params: QApproxParams, env, env_params):
  """Semi-gradient Q-learning with an MLP over `num_envs` parallel envs, and a target network.

  Each step acts epsilon-greedily in every env and takes one optimizer step on the squared TD
  error of that batch of transitions, the target r + gamma * max_a Q_target(s', a) held fixed
  (and 0 after termination, bootstrapped after truncation). The target network copies the online
  one every `target_period` steps (1: no target network). No replay buffer.
  hparams: epsilon (final value of the decay), learning_rate.
  """
  network = MLP(tuple(params.hidden), env.num_actions, flatten=False, kernel_init="lecun_normal")
  optimizer = make_optimizer(params.optimizer)
  num_envs = params.num_envs

  def td_loss(weights, target_weights, obs, actions, timestep):
    q_taken = jnp.take_along_axis(network.apply(weights, obs), actions[:, None], axis=-1)[:, 0]
    next_q = jnp.max(network.apply(target_weights, timestep.obs), axis=-1)
    target = timestep.reward + jnp.where(timestep.terminated, 0.0, params.gamma * next_q)
    return jnp.mean(jnp.square(q_taken - jax.lax.stop_gradient(target)))

  def train(key, hparams):
    init_key, reset_key, key = jax.random.split(key, 3)
    obs, env_states = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_envs),
                                                     env_params)
    weights = network.init(init_key, obs)
    opt_state = optimizer.init(weights)

    def env_step(carry, step):
      weights, target_weights, opt_state, obs, env_states, episode_returns, key = carry
      key, action_key, env_key = jax.random.split(key, 3)
      epsilon = epsilon_at(step, hparams["epsilon"], params.epsilon_decay_steps)
      actions = jax.vmap(epsilon_greedy, (0, 0, None))(
          jax.random.split(action_key, num_envs), network.apply(weights, obs), epsilon)
      timestep, next_obs, env_states = jax.vmap(step_and_reset, (None, 0, 0, 0, None))(
          env, jax.random.split(env_key, num_envs), env_states, actions, env_params)
      grads = jax.grad(td_loss)(weights, target_weights, obs, actions, timestep)
      weights, opt_state = optimizer_step(optimizer, weights, opt_state, grads,
                                          hparams["learning_rate"])
      refresh = (step + 1) % params.target_period == 0
      target_weights = jax.tree.map(lambda new, old: jnp.where(refresh, new, old),
                                    weights, target_weights)
      episode_returns = episode_returns + timestep.reward
      done = timestep.terminated | timestep.truncated
      carry = (weights, target_weights, opt_state, next_obs, env_states,
               jnp.where(done, 0.0, episode_returns), key)
      return carry, (done, episode_returns, epsilon)

    carry = (weights, weights, opt_state, obs, env_states, jnp.zeros(num_envs), key)
    carry, history = train_in_chunks(env_step, carry, params)
    return carry[0], history

  return train


# --- REINFORCE -----------------------------------------------------------------------------

def discounted_returns(rewards, alive, gamma):
  """Returns-to-go G_t = r_t + gamma * G_{t+1} along the leading (time) axis, 0 after the end."""

  def backward(future, step):
    reward, is_alive = step
    value = jnp.where(is_alive, reward + gamma * future, 0.0)
    return value, value

  _, returns = jax.lax.scan(backward, jnp.zeros_like(rewards[0]), (rewards, alive), reverse=True)
  return returns


def make_reinforce(params: ReinforceParams, env, env_params):
  """REINFORCE: theta <- theta + eps * grad J, with J's gradient from Monte-Carlo returns.

  Each update plays `episodes_per_update` whole episodes with the softmax policy, then ascends
  sum_t log pi(a_t | s_t) * (G_t - b(s_t)), where b is a learned state-value baseline when
  `params.baseline` (trained on the same returns by squared error) and 0 otherwise.
  hparams: learning_rate. Logged per update: the mean return of its episodes and of the last
  `return_window` episodes, and pi(action | observation) for each of `params.probes`, which
  makes the policy visible over training.
  """
  recent_updates = params.return_window // params.episodes_per_update
  probe_obs = jnp.asarray([obs for obs, _ in params.probes.values()], jnp.float32).reshape(
      len(params.probes), env.observation_size)
  probe_actions = jnp.asarray([action for _, action in params.probes.values()], jnp.int32)
  # Flax's initialiser: the agents are no Keras code of the course (and keep their measured runs).
  policy = MLP(tuple(params.hidden), env.num_actions, flatten=False, kernel_init="lecun_normal")
  baseline = MLP(tuple(params.hidden), 1, flatten=False, kernel_init="lecun_normal")
  policy_optimizer = make_optimizer(params.optimizer)
  baseline_optimizer = optax.adam(params.baseline_learning_rate)
  num_episodes, horizon = params.episodes_per_update, env_params.max_steps

  def play(policy_params, key):
    """Episodes in parallel for the full horizon; `alive` masks steps after each one ended."""
    reset_key, key = jax.random.split(key)
    obs, states = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_episodes),
                                                 env_params)

    def step(carry, step_key):
      obs, states, alive = carry
      action_key, env_key = jax.random.split(step_key)
      actions = jax.random.categorical(action_key, policy.apply(policy_params, obs))
      timestep = jax.vmap(env.step, (0, 0, 0, None))(
          jax.random.split(env_key, num_episodes), states, actions, env_params)
      ended = timestep.terminated | timestep.truncated
      return (timestep.obs, timestep.state, alive & ~ended), (obs, actions, timestep.reward, alive)

    alive = jnp.ones(num_episodes, bool)
    _, trajectory = jax.lax.scan(step, (obs, states, alive), jax.random.split(key, horizon))
    return trajectory  # each (horizon, episodes, ...)

  def losses(weights, trajectory):
    policy_params, baseline_params = weights
    obs, actions, rewards, alive = trajectory
    returns = discounted_returns(rewards, alive, params.gamma)
    values = baseline.apply(baseline_params, obs)[..., 0]
    advantages = returns - (jax.lax.stop_gradient(values) if params.baseline else 0.0)
    log_probs = jax.nn.log_softmax(policy.apply(policy_params, obs))
    taken = jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]
    # Minus J: descending it is theta <- theta + eps * grad J.
    policy_loss = -jnp.sum(jnp.where(alive, taken * advantages, 0.0)) / num_episodes
    baseline_loss = jnp.sum(jnp.where(alive, jnp.square(values - returns), 0.0)) / jnp.sum(alive)
    return policy_loss, baseline_loss

  def train(key, hparams):
    policy_key, baseline_key, key = jax.random.split(key, 3)
    sample_obs = jnp.zeros((1, env.observation_size))
    weights = (policy.init(policy_key, sample_obs), baseline.init(baseline_key, sample_obs))
    opt_states = (policy_optimizer.init(weights[0]), baseline_optimizer.init(weights[1]))

    def update(carry, update_key):
      weights, opt_states, recent_returns = carry
      trajectory = play(weights[0], update_key)
      # One pass for both gradients: the policy loss sees the baseline only through
      # stop_gradient and the baseline loss never sees the policy, so the sum's gradient holds
      # each loss's own gradient.
      policy_grads, baseline_grads = jax.grad(lambda w: sum(losses(w, trajectory)))(weights)
      policy_weights, policy_state = optimizer_step(policy_optimizer, weights[0], opt_states[0],
                                                    policy_grads, hparams["learning_rate"])
      baseline_updates, baseline_state = baseline_optimizer.update(baseline_grads, opt_states[1])
      weights = (policy_weights, optax.apply_updates(weights[1], baseline_updates))
      mean_return = jnp.mean(jnp.sum(jnp.where(trajectory[3], trajectory[2], 0.0), axis=0))
      recent_returns = jnp.roll(recent_returns, -1).at[-1].set(mean_return)
      metrics = {"episode_return": mean_return,
                 f"last_{params.return_window}_return": jnp.mean(recent_returns)}
      if params.probes:
        probabilities = jax.nn.softmax(policy.apply(weights[0], probe_obs))
        probed = probabilities[jnp.arange(len(params.probes)), probe_actions]
        metrics.update({name: probed[i] for i, name in enumerate(params.probes)})
      return (weights, (policy_state, baseline_state), recent_returns), metrics

    carry = (weights, opt_states, jnp.zeros(recent_updates))
    (weights, _, _), history = jax.lax.scan(update, carry,
                                            jax.random.split(key, params.num_updates))
    return weights, history

  return train
