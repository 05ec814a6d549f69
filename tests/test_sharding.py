"""Seeds sharded over several devices give the same numbers as on one device."""

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, jax
from experiments.configs import rnn_binary_addition
from rabbitjax.config import variant_config
from rabbitjax.exercises.rnn_binary_addition import EXERCISE
config = variant_config(rnn_binary_addition.get_config("quick"), "recurrent_dropout")
config.update(num_seeds=4, num_epochs=1)
result = EXERCISE.build(config).train(EXERCISE.sweep(config))
kernel = result.state.params["rnn"]["kernel"]
print(json.dumps({"devices": len(jax.devices()), "shards": len(kernel.sharding.device_set),
                  "loss": result.history["loss"].tolist(), "kernel": kernel.tolist()}))
"""


def _run(device_count):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={device_count}")
  completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                             env=env, timeout=300, check=True)
  return json.loads(completed.stdout.strip().splitlines()[-1])


def test_seed_axis_sharded_over_two_devices_changes_no_numbers():
  one, two = _run(1), _run(2)
  assert (one["devices"], one["shards"]) == (1, 1)
  assert (two["devices"], two["shards"]) == (2, 2)  # Seeds really split over both devices.
  np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-6)
  np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-6, atol=1e-7)
