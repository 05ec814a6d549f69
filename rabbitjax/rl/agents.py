"""Q-learning (tabular, semi-gradient with an MLP, PQN) and REINFORCE, PureJaxRL-style.

Each `make_*(params, env, env_params)` takes the agent's typed parameters and returns
`train(key, hparams) -> (final, history)`: the whole training is one `lax.scan`, so
`rabbitjax.train.train_agents` trains every seed and hyper-parameter point of a sweep in one
compiled program. `hparams` are the run's swept values (epsilon, learning_rate); `history` maps
metric names to arrays with one entry per logged chunk of training.

The agents with a policy network are judged as the field judges them: at each log entry,
`eval_episodes` episodes with the greedy action (`greedy_return`) on keys of their own.
"""

import dataclasses
import functools
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
class QNetworkParams(QLearningParams):
  """What both Q-network learners need further.

  Attributes:
    hidden: the Q-network's hidden widths (relu).
    num_envs: environments stepped in parallel.
    optimizer: a name from rabbitjax.train.OPTIMIZERS.
    eval_episodes: greedy evaluation episodes at each log entry (0: none).
  """

  hidden: tuple[int, ...] = (64, 64)
  num_envs: int = 16
  optimizer: str = "adam"
  eval_episodes: int = 0


@dataclasses.dataclass(frozen=True)
class QApproxParams(QNetworkParams):
  """Semi-gradient Q-learning's further parameter.

  Attributes:
    target_period: steps between copies of the online network to the target (1: none).
  """

  target_period: int = 1


@dataclasses.dataclass(frozen=True)
class PQNParams(QNetworkParams):
  """PQN's further parameters (Gallici et al., "Simplifying Deep Temporal Difference Learning").

  Attributes:
    rollout_steps: steps in every env between two learning phases; must divide
      total_steps / num_logs.
    epochs: passes over each rollout's transitions.
    minibatches: minibatches per pass; must divide num_envs * rollout_steps.
    td_lambda: lambda of the lambda-returns (0: one-step targets; 1: Monte-Carlo returns).
    reward_scale: rewards are multiplied by it for learning (CartPole: returns up to 100 → 10).
    max_grad_norm: gradients are clipped to this global norm.
    learning_rate_decay: the learning rate falls linearly to 0 over the training.
  """

  rollout_steps: int = 32
  epochs: int = 2
  minibatches: int = 4
  td_lambda: float = 0.95
  reward_scale: float = 0.1
  max_grad_norm: float = 10.0
  learning_rate_decay: bool = True


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
    num_updates: updates, in `num_logs` logged chunks.
    num_logs: log entries; must divide num_updates.
    return_window: episodes in the logged moving average of returns; a multiple of
      episodes_per_update.
    eval_episodes: greedy evaluation episodes (the most probable action) at each log entry.
    probes: metric name -> (observation, action): pi(action | observation) is logged at each
      log entry.
  """

  hidden: tuple[int, ...]
  gamma: float
  optimizer: str
  baseline: bool
  baseline_learning_rate: float
  episodes_per_update: int
  num_updates: int
  num_logs: int
  return_window: int
  eval_episodes: int = 0
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


def train_in_chunks(env_step, carry, num_steps: int, num_logs: int,
                    chunk_metrics=lambda carry, chunk_index: {}):
  """Runs `num_steps` calls of `env_step` as `num_logs` logged chunks, in one scan.

  `env_step(carry, step) -> (carry, (done, episode_return, epsilon))`, `done` and
  `episode_return` of any shape (a step may be a whole rollout). Each chunk logs the mean
  return of the episodes that ended in it, their number, the last epsilon, and
  `chunk_metrics(carry, chunk_index)`.

  Returns:
    (final carry, history: metric -> (num_logs,)).
  """
  steps_per_log = num_steps // num_logs

  def chunk(carry, chunk_index):
    steps = chunk_index * steps_per_log + jnp.arange(steps_per_log)
    carry, (done, returns, epsilons) = jax.lax.scan(env_step, carry, steps)
    episodes, mean_return = _finished_episodes(done, returns)
    return carry, {"episode_return": mean_return, "episodes": episodes.astype(jnp.float32),
                   "epsilon": epsilons[-1], **chunk_metrics(carry, chunk_index)}

  return jax.lax.scan(chunk, carry, jnp.arange(num_logs))


# --- Episodes and greedy evaluation ----------------------------------------------------------

# Evaluation keys come from fold_in(run key, EVALUATION_STREAM). fold_in(key, i) is
# split(key, n)[i], so a small constant would replay a training key; nothing splits a run's key
# 2**31 ways. Training never sees these keys: its numbers do not depend on the evaluation.
EVALUATION_STREAM = 2**31 - 1


def evaluation_keys(key, num_logs: int):
  """One key per log entry for the evaluation episodes, from a stream training never draws."""
  return jax.random.split(jax.random.fold_in(key, EVALUATION_STREAM), num_logs)


def play_episodes(env, env_params, choose_actions, key, num_episodes: int):
  """`num_episodes` episodes in parallel for the env's whole horizon.

  choose_actions(key, obs) -> actions, for a batch (episodes, observation) of observations.
  Returns (obs, actions, rewards, alive), each (horizon, episodes, ...); `alive` masks the steps
  after each episode ended.
  """
  reset_key, key = jax.random.split(key)
  obs, states = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_episodes),
                                               env_params)

  def step(carry, step_key):
    obs, states, alive = carry
    action_key, env_key = jax.random.split(step_key)
    actions = choose_actions(action_key, obs)
    timestep = jax.vmap(env.step, (0, 0, 0, None))(
        jax.random.split(env_key, num_episodes), states, actions, env_params)
    ended = timestep.terminated | timestep.truncated
    return (timestep.obs, timestep.state, alive & ~ended), (obs, actions, timestep.reward, alive)

  alive = jnp.ones(num_episodes, bool)
  _, trajectory = jax.lax.scan(step, (obs, states, alive),
                               jax.random.split(key, env_params.max_steps))
  return trajectory


def episode_returns(trajectory):
  """Each episode's undiscounted return, from `play_episodes`' trajectory: (episodes,)."""
  _, _, rewards, alive = trajectory
  return jnp.sum(jnp.where(alive, rewards, 0.0), axis=0)


def greedy_return(env, env_params, scores, key, num_episodes: int):
  """Mean return of `num_episodes` episodes taking argmax scores(obs): the greedy action of
  Q-values, or a policy's most probable action from its logits."""
  trajectory = play_episodes(env, env_params, lambda key, obs: jnp.argmax(scores(obs), axis=-1),
                             key, num_episodes)
  return jnp.mean(episode_returns(trajectory))


def greedy_metrics(env, env_params, scores_of, keys, num_episodes: int):
  """chunk_metrics for `train_in_chunks`: {"greedy_return"} of the network `scores_of(carry)`
  on `keys[chunk_index]`; nothing when num_episodes is 0."""
  if num_episodes == 0:
    return lambda carry, chunk_index: {}
  return lambda carry, chunk_index: {"greedy_return": greedy_return(
      env, env_params, scores_of(carry), keys[chunk_index], num_episodes)}


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

    def greedy_value(carry, chunk_index):
      del chunk_index
      greedy = planning.greedy_policy(carry[0])
      values = planning.policy_values(probabilities, rewards, greedy, params.gamma)
      return {"greedy_value": values[env.start]}

    carry = (q_values, obs, env_state, jnp.float32(0.0), key)
    carry, history = train_in_chunks(env_step, carry, params.total_steps, params.num_logs,
                                     greedy_value)
    return carry[0], history

  return train


# --- Q-learning with function approximation ------------------------------------------------

def _start_q_network(key, network, optimizer, env, env_params, params: QNetworkParams):
  """A Q-network learner's start from the run's key.

  Returns (chunk_metrics: the greedy evaluation, on the key's evaluation stream; weights,
  optimizer state, the observations and states of `num_envs` reset envs, the key left for
  training).
  """
  greedy = greedy_metrics(env, env_params,
                          lambda carry: functools.partial(network.apply, carry[0]),
                          evaluation_keys(key, params.num_logs), params.eval_episodes)
  init_key, reset_key, key = jax.random.split(key, 3)
  obs, env_states = jax.vmap(env.reset, (0, None))(
      jax.random.split(reset_key, params.num_envs), env_params)
  weights = network.init(init_key, obs)
  return greedy, weights, optimizer.init(weights), obs, env_states, key


def _epsilon_greedy_step(env, env_params, q_values, env_states, epsilon, action_key, env_key):
  """An epsilon-greedy action in every env from its `q_values`, stepped, and reset where the
  episode ended: (actions, timestep, next observations, env states)."""
  num_envs = len(q_values)
  actions = jax.vmap(epsilon_greedy, (0, 0, None))(jax.random.split(action_key, num_envs),
                                                   q_values, epsilon)
  timestep, next_obs, env_states = jax.vmap(step_and_reset, (None, 0, 0, 0, None))(
      env, jax.random.split(env_key, num_envs), env_states, actions, env_params)
  return actions, timestep, next_obs, env_states


def make_q_approx(params: QApproxParams, env, env_params):
  """Semi-gradient Q-learning with an MLP over `num_envs` parallel envs, and a target network:
  the course's Q-learning with function approximation, as written.

  Each step acts epsilon-greedily in every env and takes one optimizer step on the squared TD
  error of that batch of transitions, the target r + gamma * max_a Q_target(s', a) held fixed
  (and 0 after termination, bootstrapped after truncation). The target network copies the online
  one every `target_period` steps (1: no target network). No replay buffer.
  hparams: epsilon (final value of the decay), learning_rate.
  """
  network = MLP(tuple(params.hidden), env.num_actions, flatten=False, kernel_init="lecun_normal")
  optimizer = make_optimizer(params.optimizer)

  def td_loss(weights, target_weights, obs, actions, timestep):
    q_taken = jnp.take_along_axis(network.apply(weights, obs), actions[:, None], axis=-1)[:, 0]
    next_q = jnp.max(network.apply(target_weights, timestep.obs), axis=-1)
    target = timestep.reward + jnp.where(timestep.terminated, 0.0, params.gamma * next_q)
    return jnp.mean(jnp.square(q_taken - jax.lax.stop_gradient(target)))

  def train(key, hparams):
    greedy, weights, opt_state, obs, env_states, key = _start_q_network(
        key, network, optimizer, env, env_params, params)

    def env_step(carry, step):
      weights, target_weights, opt_state, obs, env_states, episode_returns, key = carry
      key, action_key, env_key = jax.random.split(key, 3)
      epsilon = epsilon_at(step, hparams["epsilon"], params.epsilon_decay_steps)
      actions, timestep, next_obs, env_states = _epsilon_greedy_step(
          env, env_params, network.apply(weights, obs), env_states, epsilon, action_key, env_key)
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

    carry = (weights, weights, opt_state, obs, env_states, jnp.zeros(params.num_envs), key)
    carry, history = train_in_chunks(env_step, carry, params.total_steps, params.num_logs, greedy)
    return carry[0], history

  return train


# --- PQN -----------------------------------------------------------------------------------

def lambda_returns(rewards, next_values, terminated, done, gamma: float, td_lambda: float):
  """Lambda-returns along the leading (time) axis of a rollout, computed backwards.

  G_t = r_t + gamma * [(1 - lambda) * V(s'_t) + lambda * G_{t+1}], with V(s'_t) = max_a Q(s'_t, a)
  of the transition's true next observation (`next_values`); no bootstrap after termination;
  at an episode's end by truncation and at the rollout's last step, G_t = r_t + gamma * V(s'_t).
  """

  def backward(next_return, step):
    reward, next_value, is_terminated, is_done = step
    blend = jnp.where(is_done, next_value,
                      (1.0 - td_lambda) * next_value + td_lambda * next_return)
    value = reward + gamma * jnp.where(is_terminated, 0.0, blend)
    return value, value

  # Starting from G_T = V(s'_{T-1}), the last step's blend is its own one-step target.
  _, returns = jax.lax.scan(backward, next_values[-1],
                            (rewards, next_values, terminated, done), reverse=True)
  return returns


def make_pqn(params: PQNParams, env, env_params):
  """PQN: Q-learning with lambda-returns from parallel rollouts, no replay buffer, no target.

  Each update plays `rollout_steps` epsilon-greedy steps in each of `num_envs` envs with the
  current Q-network (LayerNorm after each hidden layer), computes lambda-returns from that
  network's values, then takes `epochs` passes of `minibatches` optimizer steps on the squared
  error (gradients clipped; the learning rate falling linearly to 0 when learning_rate_decay).
  hparams: epsilon (final value of the decay), learning_rate.
  """
  network = MLP(tuple(params.hidden), env.num_actions, flatten=False, kernel_init="lecun_normal",
                layer_norm=True)
  optimizer = optax.chain(optax.clip_by_global_norm(params.max_grad_norm),
                          make_optimizer(params.optimizer))
  rollout_steps = params.rollout_steps
  num_updates = params.total_steps // rollout_steps
  num_samples = params.num_envs * rollout_steps
  minibatch_size = num_samples // params.minibatches

  def q_loss(weights, obs, actions, targets):
    q_taken = jnp.take_along_axis(network.apply(weights, obs), actions[:, None], axis=-1)[:, 0]
    return 0.5 * jnp.mean(jnp.square(q_taken - targets))

  def train(key, hparams):
    greedy, weights, opt_state, obs, env_states, key = _start_q_network(
        key, network, optimizer, env, env_params, params)

    def act(carry, step_key):
      """One epsilon-greedy step in every env."""
      weights, obs, env_states, episode_returns, epsilon = carry
      actions, timestep, next_obs, env_states = _epsilon_greedy_step(
          env, env_params, network.apply(weights, obs), env_states, epsilon,
          *jax.random.split(step_key))
      episode_returns = episode_returns + timestep.reward
      done = timestep.terminated | timestep.truncated
      carry = (weights, next_obs, env_states, jnp.where(done, 0.0, episode_returns), epsilon)
      return carry, (obs, actions, timestep, done, episode_returns)

    def learn(weights, opt_state, batch, learning_rate, key):
      """`epochs` shuffled passes of `minibatches` optimizer steps over one rollout."""
      flat = jax.tree.map(lambda x: x.reshape(num_samples, *x.shape[2:]), batch)

      def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, num_samples)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(params.minibatches, minibatch_size, *x.shape[1:]), flat)

        def step(carry, minibatch):
          weights, opt_state = carry
          grads = jax.grad(q_loss)(weights, *minibatch)
          return optimizer_step(optimizer, weights, opt_state, grads, learning_rate), None

        return jax.lax.scan(step, carry, minibatches)[0], None

      return jax.lax.scan(epoch, (weights, opt_state), jax.random.split(key, params.epochs))[0]

    def update(carry, update_index):
      weights, opt_state, obs, env_states, episode_returns, key = carry
      key, rollout_key, learn_key = jax.random.split(key, 3)
      epsilon = epsilon_at(update_index * rollout_steps, hparams["epsilon"],
                           params.epsilon_decay_steps)
      (_, obs, env_states, episode_returns, _), (observed, actions, timesteps, done, returns) = (
          jax.lax.scan(act, (weights, obs, env_states, episode_returns, epsilon),
                       jax.random.split(rollout_key, rollout_steps)))
      next_values = jnp.max(network.apply(weights, timesteps.obs), axis=-1)
      targets = lambda_returns(params.reward_scale * timesteps.reward, next_values,
                               timesteps.terminated, done, params.gamma, params.td_lambda)
      learning_rate = hparams["learning_rate"]
      if params.learning_rate_decay:
        learning_rate = learning_rate * (1.0 - update_index / num_updates)
      weights, opt_state = learn(weights, opt_state, (observed, actions, targets), learning_rate,
                                 learn_key)
      carry = (weights, opt_state, obs, env_states, episode_returns, key)
      return carry, (done, returns, epsilon)

    carry = (weights, opt_state, obs, env_states, jnp.zeros(params.num_envs), key)
    carry, history = train_in_chunks(update, carry, num_updates, params.num_logs, greedy)
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
  hparams: learning_rate. Logged per chunk of num_updates / num_logs updates: the mean return of
  its episodes (those of the sampling policy), that of the last `return_window` episodes, the
  greedy return (the most probable action; with eval_episodes), and pi(action | observation)
  for each of `params.probes`, which makes the policy visible over training.
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
  num_episodes = params.episodes_per_update
  updates_per_log = params.num_updates // params.num_logs

  def play(policy_params, key):
    """The update's episodes, actions sampled from the policy."""
    sample = lambda key, obs: jax.random.categorical(key, policy.apply(policy_params, obs))
    return play_episodes(env, env_params, sample, key, num_episodes)

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
      mean_return = jnp.mean(episode_returns(trajectory))
      recent_returns = jnp.roll(recent_returns, -1).at[-1].set(mean_return)
      return (weights, (policy_state, baseline_state), recent_returns), mean_return

    def chunk(carry, chunk):
      chunk_keys, eval_key = chunk
      carry, mean_returns = jax.lax.scan(update, carry, chunk_keys)
      weights, _, recent_returns = carry
      metrics = {"episode_return": jnp.mean(mean_returns),
                 f"last_{params.return_window}_return": jnp.mean(recent_returns)}
      if params.eval_episodes:
        metrics["greedy_return"] = greedy_return(
            env, env_params, functools.partial(policy.apply, weights[0]), eval_key,
            params.eval_episodes)
      if params.probes:
        probabilities = jax.nn.softmax(policy.apply(weights[0], probe_obs))
        probed = probabilities[jnp.arange(len(params.probes)), probe_actions]
        metrics.update({name: probed[i] for i, name in enumerate(params.probes)})
      return carry, metrics

    eval_keys = evaluation_keys(key, params.num_logs)
    policy_key, baseline_key, key = jax.random.split(key, 3)
    sample_obs = jnp.zeros((1, env.observation_size))
    weights = (policy.init(policy_key, sample_obs), baseline.init(baseline_key, sample_obs))
    opt_states = (policy_optimizer.init(weights[0]), baseline_optimizer.init(weights[1]))
    update_keys = jax.random.split(key, params.num_updates).reshape(params.num_logs,
                                                                    updates_per_log)
    carry = (weights, opt_states, jnp.zeros(recent_updates))
    (weights, _, _), history = jax.lax.scan(chunk, carry, (update_keys, eval_keys))
    return weights, history

  return train
