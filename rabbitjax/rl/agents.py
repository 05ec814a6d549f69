"""Q-learning (tabular and with function approximation) and REINFORCE, PureJaxRL-style.

Each `make_*(config, env, env_params)` returns `train(key, hparams) -> (final, history)`: the
whole training is one `lax.scan`, so `jax.jit(over_runs(train, ...))` trains every seed and
hyper-parameter point of a sweep in one compiled program. `history` maps metric names to arrays
with one entry per logging chunk (or per update, for REINFORCE).
"""

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from rabbitjax.rl import planning
from rabbitjax.rl.environments import step_and_reset
from rabbitjax.train.optimizers import make_optimizer, set_hyperparams


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


def train_in_chunks(env_step, carry, config, chunk_metrics=lambda carry: {}):
  """Runs `config.total_steps` calls of `env_step` as `num_logs` logged chunks, in one scan.

  `env_step(carry, step) -> (carry, (done, episode_return, epsilon))`. Each chunk logs the mean
  return of the episodes that ended in it, their number, the last epsilon, and
  `chunk_metrics(carry)`.

  Returns:
    (final carry, history: metric -> (num_logs,)).
  """
  steps_per_log = config.total_steps // config.num_logs

  def chunk(carry, chunk_index):
    steps = chunk_index * steps_per_log + jnp.arange(steps_per_log)
    carry, (done, returns, epsilons) = jax.lax.scan(env_step, carry, steps)
    episodes, mean_return = _finished_episodes(done, returns)
    return carry, {"episode_return": mean_return, "episodes": episodes.astype(jnp.float32),
                   "epsilon": epsilons[-1], **chunk_metrics(carry)}

  return jax.lax.scan(chunk, carry, jnp.arange(config.num_logs))


# --- Tabular Q-learning --------------------------------------------------------------------

def q_learning_update(q_values, obs, action, reward, next_obs, terminated, learning_rate, gamma):
  """Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a)), no bootstrap after termination.

  A truncated transition (time limit) bootstraps: s' still has value, the clock just ran out.
  """
  bootstrap = jnp.where(terminated, 0.0, gamma * jnp.max(q_values[next_obs]))
  td_error = reward + bootstrap - q_values[obs, action]
  return q_values.at[obs, action].add(learning_rate * td_error)


def make_q_learning(config, env, env_params):
  """Tabular Q-learning with epsilon-greedy exploration on a tabular env (FrozenLake).

  hparams: epsilon (constant, or the final value of a decay from 1.0), learning_rate.
  Logged per chunk: the behaviour policy's mean episode return, the number of episodes, epsilon,
  and the exact discounted value of the greedy policy at the start state (from the env's model).
  """
  probabilities, rewards = env.transition_model(env_params)
  decay_steps = int(config.epsilon_decay_fraction * config.total_steps)

  def train(key, hparams):
    reset_key, key = jax.random.split(key)
    obs, env_state = env.reset(reset_key, env_params)
    q_values = jnp.zeros((env.num_states, env.num_actions), jnp.float32)

    def env_step(carry, step):
      q_values, obs, env_state, episode_return, key = carry
      key, action_key, env_key = jax.random.split(key, 3)
      epsilon = epsilon_at(step, hparams["epsilon"], decay_steps)
      action = epsilon_greedy(action_key, q_values[obs], epsilon)
      timestep, next_obs, env_state = step_and_reset(env, env_key, env_state, action, env_params)
      q_values = q_learning_update(q_values, obs, action, timestep.reward, timestep.obs,
                                   timestep.terminated, hparams["learning_rate"], config.gamma)
      episode_return = episode_return + timestep.reward
      done = timestep.terminated | timestep.truncated
      carry = (q_values, next_obs, env_state, jnp.where(done, 0.0, episode_return), key)
      return carry, (done, episode_return, epsilon)

    def greedy_value(carry):
      greedy = planning.greedy_policy(carry[0])
      values = planning.policy_values(probabilities, rewards, greedy, config.gamma)
      return {"greedy_value": values[env.start]}

    carry = (q_values, obs, env_state, jnp.float32(0.0), key)
    carry, history = train_in_chunks(env_step, carry, config, greedy_value)
    return carry[0], history

  return train


# --- Q-learning with function approximation ------------------------------------------------

class MLP(nn.Module):
  """A small relu MLP: the Q-network, the policy (logits) and the baseline."""

  hidden: tuple
  outputs: int

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
    return nn.Dense(self.outputs)(x)


def make_q_approx(config, env, env_params):
  """Semi-gradient Q-learning with an MLP over `num_envs` parallel envs, and a target network.

  Each step acts epsilon-greedily in every env and takes one optimizer step on the squared TD
  error of that batch of transitions, the target r + gamma * max_a Q_target(s', a) held fixed
  (and 0 after termination, bootstrapped after truncation). The target network copies the online
  one every `target_period` steps (1: no target network). No replay buffer.
  hparams: epsilon (final value of the decay), learning_rate.
  """
  network = MLP(tuple(config.hidden), env.num_actions)
  optimizer = make_optimizer(config.optimizer, config.learning_rate)
  decay_steps = int(config.epsilon_decay_fraction * config.total_steps)
  num_envs = config.num_envs

  def td_loss(params, target_params, obs, actions, timestep):
    q_taken = jnp.take_along_axis(network.apply(params, obs), actions[:, None], axis=-1)[:, 0]
    next_q = jnp.max(network.apply(target_params, timestep.obs), axis=-1)
    target = timestep.reward + jnp.where(timestep.terminated, 0.0, config.gamma * next_q)
    return jnp.mean(jnp.square(q_taken - jax.lax.stop_gradient(target)))

  def train(key, hparams):
    init_key, reset_key, key = jax.random.split(key, 3)
    obs, env_states = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_envs),
                                                     env_params)
    params = network.init(init_key, obs)
    opt_state = set_hyperparams(optimizer.init(params), hparams)

    def env_step(carry, step):
      params, target_params, opt_state, obs, env_states, episode_returns, key = carry
      key, action_key, env_key = jax.random.split(key, 3)
      epsilon = epsilon_at(step, hparams["epsilon"], decay_steps)
      actions = jax.vmap(epsilon_greedy, (0, 0, None))(
          jax.random.split(action_key, num_envs), network.apply(params, obs), epsilon)
      timestep, next_obs, env_states = jax.vmap(step_and_reset, (None, 0, 0, 0, None))(
          env, jax.random.split(env_key, num_envs), env_states, actions, env_params)
      grads = jax.grad(td_loss)(params, target_params, obs, actions, timestep)
      updates, opt_state = optimizer.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      refresh = (step + 1) % config.target_period == 0
      target_params = jax.tree.map(lambda new, old: jnp.where(refresh, new, old),
                                   params, target_params)
      episode_returns = episode_returns + timestep.reward
      done = timestep.terminated | timestep.truncated
      carry = (params, target_params, opt_state, next_obs, env_states,
               jnp.where(done, 0.0, episode_returns), key)
      return carry, (done, episode_returns, epsilon)

    carry = (params, params, opt_state, obs, env_states, jnp.zeros(num_envs), key)
    carry, history = train_in_chunks(env_step, carry, config)
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


def make_reinforce(config, env, env_params, probe_states):
  """REINFORCE: theta <- theta + eps * grad J, with J's gradient from Monte-Carlo returns.

  Each update plays `episodes_per_update` whole episodes with the softmax policy, then ascends
  sum_t log pi(a_t | s_t) * (G_t - b(s_t)), where b is a learned state-value baseline when
  `config.baseline` (trained on the same returns by squared error) and 0 otherwise.
  hparams: learning_rate. Logged per update: the mean return of its episodes and of the last 100
  episodes, and pi(push right | s) at each of `probe_states` (name -> observation), which makes
  the policy visible over training.
  """
  if 100 % config.episodes_per_update:
    raise ValueError(f"episodes_per_update={config.episodes_per_update} must divide 100")
  recent_updates = 100 // config.episodes_per_update
  probe_names = list(probe_states)
  probe_obs = jnp.stack([jnp.asarray(probe_states[name], jnp.float32) for name in probe_names])
  policy = MLP(tuple(config.hidden), env.num_actions)
  baseline = MLP(tuple(config.hidden), 1)
  policy_optimizer = make_optimizer(config.optimizer, config.learning_rate)
  baseline_optimizer = optax.adam(config.baseline_learning_rate)
  num_episodes, horizon = config.episodes_per_update, env_params.max_steps

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

  def losses(params, trajectory):
    policy_params, baseline_params = params
    obs, actions, rewards, alive = trajectory
    returns = discounted_returns(rewards, alive, config.gamma)
    values = baseline.apply(baseline_params, obs)[..., 0]
    advantages = returns - (jax.lax.stop_gradient(values) if config.baseline else 0.0)
    log_probs = jax.nn.log_softmax(policy.apply(policy_params, obs))
    taken = jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]
    # Minus J: descending it is theta <- theta + eps * grad J.
    policy_loss = -jnp.sum(jnp.where(alive, taken * advantages, 0.0)) / num_episodes
    baseline_loss = jnp.sum(jnp.where(alive, jnp.square(values - returns), 0.0)) / jnp.sum(alive)
    return policy_loss, baseline_loss

  def train(key, hparams):
    policy_key, baseline_key, key = jax.random.split(key, 3)
    sample_obs = jnp.zeros((1, env.observation_size))
    params = (policy.init(policy_key, sample_obs), baseline.init(baseline_key, sample_obs))
    opt_states = (set_hyperparams(policy_optimizer.init(params[0]), hparams),
                  baseline_optimizer.init(params[1]))

    def update(carry, update_key):
      params, opt_states, recent_returns = carry
      trajectory = play(params[0], update_key)
      # One pass for both gradients: the policy loss sees the baseline only through
      # stop_gradient and the baseline loss never sees the policy, so the sum's gradient holds
      # each loss's own gradient.
      policy_grads, baseline_grads = jax.grad(lambda p: sum(losses(p, trajectory)))(params)
      policy_updates, policy_state = policy_optimizer.update(policy_grads, opt_states[0])
      baseline_updates, baseline_state = baseline_optimizer.update(baseline_grads, opt_states[1])
      params = (optax.apply_updates(params[0], policy_updates),
                optax.apply_updates(params[1], baseline_updates))
      mean_return = jnp.mean(jnp.sum(jnp.where(trajectory[3], trajectory[2], 0.0), axis=0))
      recent_returns = jnp.roll(recent_returns, -1).at[-1].set(mean_return)
      push_right = jax.nn.softmax(policy.apply(params[0], probe_obs))[:, 1]
      metrics = {"episode_return": mean_return, "last_100_return": jnp.mean(recent_returns)}
      metrics.update({f"p_right_{name}": push_right[i] for i, name in enumerate(probe_names)})
      return (params, (policy_state, baseline_state), recent_returns), metrics

    carry = (params, opt_states, jnp.zeros(recent_updates))
    (params, _, _), history = jax.lax.scan(update, carry, jax.random.split(key, config.num_updates))
    return params, history

  return train
