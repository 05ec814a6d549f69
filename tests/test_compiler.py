"""The compiler canary: the known-bad patterns agree eagerly and under jit on the jaxlib in use
(as rabbitjax configures it), and the version rules and XLA_FLAGS handling around it."""

import os
import subprocess
import sys

import jax
import jaxlib
import pytest

from rabbitjax import compiler

_VERSIONS = f"jax {jax.__version__} / jaxlib {jaxlib.__version__}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"


def test_matvec_then_sum_is_computed_right_under_jit():
  """jax#39103 in this process: the last vmapped |I r|^2 is 32768^2 eagerly and under jit."""
  eager, jitted = compiler.matvec_norms()
  assert eager == 32768.0 ** 2, _VERSIONS
  assert jitted == eager, f"jax#39103 miscompiled on {_VERSIONS}: jit {jitted!r}, eager {eager!r}"


def test_every_pattern_is_computed_right_in_a_child_process():
  """Every pattern, the crashing one too, in a child with this process's environment."""
  result = compiler.run_canary()
  assert result["ok"], f"canary failed on {_VERSIONS}: {result['patterns']}"
  assert set(result["patterns"]) == set(compiler.PATTERNS)


def test_check_records_the_versions_and_the_canary():
  record = compiler.check()
  assert record["jaxlib"] == jaxlib.__version__ and record["jax"] == jax.__version__
  assert record["canary"]["ok"]
  assert (record["workaround"] is not None) == compiler.needs_workaround(jaxlib.__version__)


def test_a_crash_or_a_hang_in_the_child_is_a_failed_pattern(monkeypatch):
  """A child killed by SIGSEGV after the first pattern (as jaxlib 0.10.2 is), or timed out."""
  first = '{"jax#39103": [1073741824.0, 1073741824.0]}\n'
  monkeypatch.setattr(compiler.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
      a[0], -11, stdout=first, stderr=""))
  result = compiler.run_canary()
  assert not result["ok"]
  assert result["patterns"] == {"jax#39103": "ok", "jax#40412": "crashed"}

  def hang(*args, **kwargs):
    raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])
  monkeypatch.setattr(compiler.subprocess, "run", hang)
  assert set(compiler.run_canary(timeout=5)["patterns"].values()) == {"did not finish in 5 s"}


def test_a_differing_value_is_a_failed_pattern():
  assert compiler._verdict("jax#39103", (1073741824.0, 1071645696.0)).startswith("wrong")
  assert compiler._verdict("jax#39103", (4.0, 4.0)) == "ok"
  assert compiler._verdict("jax#40412", (1000.0, 1000.0001)) == "ok"  # float32 rounding


@pytest.mark.parametrize("version, needed", [("0.10.2", True), ("0.11.1", True),
                                             ("0.11.2", False), ("0.12.0.1", False),
                                             ("0.13.0.dev20270101", False)])
def test_the_workaround_is_for_the_jaxlibs_with_the_miscompiles(version, needed):
  assert compiler.needs_workaround(version) is needed


def test_a_jaxlib_older_than_the_workaround_is_refused():
  with pytest.raises(compiler.CompilerError, match="jaxlib 0.9.0 is older.*jax>=0.11.2"):
    compiler.needs_workaround("0.9.0")


def test_the_workaround_keeps_other_flags_and_an_explicit_setting():
  flag = compiler.WORKAROUND_FLAG
  assert compiler.with_workaround("") == flag
  assert compiler.with_workaround("--xla_force_host_platform_device_count=8") == (
      f"--xla_force_host_platform_device_count=8 {flag}")
  explicit = "--xla_cpu_experimental_ynn_fusion_type="
  assert compiler.with_workaround(explicit) == explicit


def test_the_workaround_is_added_only_where_needed_and_can_be_turned_off(monkeypatch):
  for version, expected in (("0.10.2", compiler.WORKAROUND_FLAG), ("0.12.0.1", "")):
    monkeypatch.setattr(compiler, "installed_jaxlib", lambda v=version: v)
    environ = {}
    compiler.apply_workaround(environ)
    assert environ.get(compiler.XLA_FLAGS_ENV, "") == expected
  monkeypatch.setattr(compiler, "installed_jaxlib", lambda: "0.10.2")
  environ = {compiler.WORKAROUND_ENV: "off"}
  assert compiler.apply_workaround(environ) is None and compiler.XLA_FLAGS_ENV not in environ


def test_a_failing_canary_refuses_the_run_in_one_line(tmp_path):
  """The launcher's refusal, with the canary's result forced to fail (through its cache)."""
  code = ("import json, sys; from rabbitjax import compiler;"
          "compiler._cached_canary = lambda path: {'ok': False, 'patterns': "
          "{'jax#39103': 'wrong: eager 1.0, jit 2.0', 'jax#40412': 'ok'}};"
          "sys.argv = ['course', '--workdir', sys.argv[1]];"
          "from experiments import course; from absl import app;"
          "app.run(course.main, flags_parser=course.cli.parse_flags)")
  completed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
  assert completed.returncode == 2, completed.stderr
  lines = completed.stderr.strip().splitlines()
  assert len(lines) == 1 and "computes a known pattern wrong (jax#39103 wrong" in lines[0]
