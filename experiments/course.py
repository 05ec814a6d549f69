r"""The whole course in one command: every exercise, then REPORT.md checking the course's claims.

    python -m experiments.course --workdir=runs/course                 # standard tier
    python -m experiments.course --workdir=runs/course --tier=quick    # a ~2-minute smoke run
    python -m experiments.course --workdir=runs/course --export_to=docs/course   # publish it

Each exercise's records go to DIR/<config>/ (as `experiments.main` writes them); DIR/REPORT.md
links their figures. Rerun the same command to resume; an exercise whose dataset is missing is
skipped with one line. Exit status as experiments.main's (divergence is reported, not fatal).
"""

import json
import pathlib
import sys
import time

from rabbitjax import figures, stopping

if __name__ == "__main__":
  stopping.install()  # before JAX is imported: see rabbitjax/stopping.py
  figures.start()  # the figures' process imports matplotlib while this one imports JAX

from absl import app, flags  # noqa: E402

from experiments import cli  # noqa: E402
from rabbitjax import course, provenance, tuning  # noqa: E402
from rabbitjax.cache import enable_compilation_cache  # noqa: E402
from rabbitjax.config import ConfigError, variant_names  # noqa: E402
from rabbitjax.data import SUPPORTED_DATASETS, DatasetUnavailableError, is_prepared  # noqa: E402
from rabbitjax.experiment import run_experiment  # noqa: E402
from rabbitjax.io import StorageError, WorkdirError, write_text  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for REPORT.md and each exercise's records.")
flags.DEFINE_enum("tier", "standard", course.TIERS, "quick: smoke run; standard: <= 20 min on 2 "
                  "CPU cores; full: the course's own settings.")
flags.DEFINE_string("data_dir", None, "tfds data directory (default: $TFDS_DATA_DIR).")
flags.DEFINE_bool("fresh", False, "Discard earlier records in the workdir and start over.")
flags.DEFINE_list("parts", ",".join(course.PARTS), "The exercises (config names) to run; the "
                  "report covers every exercise with records in the workdir.")
flags.DEFINE_string("export_to", None, "After the report, copy it with each exercise's summaries "
                    "and figures into this directory (e.g. docs/course), replacing an earlier "
                    "export there.")
flags.mark_flags_as_required(["workdir"])


def _config(part: str, tier: str):
  module = __import__(f"experiments.configs.{part}", fromlist=["get_config"])
  config = module.get_config("quick" if tier == "quick" else None)
  overrides = course.OVERRIDES[tier].get(part, {})
  with config.unlocked():
    for key, value in overrides.items():
      config[key] = value
  return config, set(overrides)


def _to_train(workdir: pathlib.Path, part: str, tier: str, data_dir, fresh: bool) -> bool:
  """Whether the part will train: not when its records hold every variant the tier selects
  already (a resumed course), nor when its tfds dataset is not prepared (it is skipped)."""
  config = _config(part, tier)[0]
  if config.get("dataset") in SUPPORTED_DATASETS and not is_prepared(config.dataset, data_dir):
    return False
  try:
    recorded = json.loads((workdir / part / "summary.json").read_text())["variants"]
  except (OSError, ValueError, KeyError):
    return True
  return fresh or not set(variant_names(config)) <= set(recorded)


def _minutes(seconds: float) -> str:
  return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def run_course(workdir, tier: str, *, data_dir=None, fresh=False, parts=course.PARTS,
               log=print, every_entry=False) -> pathlib.Path:
  """Trains every part of `tier` (resuming), then writes and returns workdir/REPORT.md.

  Before each part one line says which, how long the course has run and about how long is
  left (`course.remaining_seconds`). A part whose dataset is missing is skipped with one line
  (in the log and the report).
  """
  workdir, start, skipped, done = pathlib.Path(workdir), time.perf_counter(), {}, {}
  to_train = [part for part in parts if _to_train(workdir, part, tier, data_dir, fresh)]
  for index, part in enumerate(parts):
    config, overridden = _config(part, tier)
    elapsed = time.perf_counter() - start
    left = course.remaining_seconds(tier, done, [p for p in parts[index:] if p in to_train])
    log(f"== {index + 1}/{len(parts)} {part} ({tier} tier): {_minutes(elapsed)} elapsed, about "
        f"{_minutes(left)} left")
    part_start = time.perf_counter()
    try:
      run_experiment(config, workdir / part, data_dir=data_dir, command_line=overridden,
                     fresh=fresh, log=lambda line, p=part: log(f"{p} {line}"),
                     every_entry=every_entry)
      if part in to_train:
        done[part] = time.perf_counter() - part_start
    except DatasetUnavailableError as err:
      skipped[part], done[part] = str(err), None
      log(f"skipped {part}: {err}")
  log(f"== the course's training took {_minutes(time.perf_counter() - start)}")
  facts = provenance.provenance()
  reduced = course.OVERRIDES[tier]
  runs_log = workdir / "course_runs.jsonl"  # one line per invocation: what it cost
  with open(runs_log, "a") as f:
    f.write(json.dumps({"tier": tier, "parts": list(parts), "started": facts["started"],
                        "wall_seconds": round(time.perf_counter() - start, 1)}) + "\n")
  walls = [json.loads(line)["wall_seconds"] for line in runs_log.read_text().splitlines()]
  header = [
      f"Tier **{tier}**" + (" (the configs' quick modes)" if tier == "quick" else "")
      + (("; the course's settings where the configs differ: " if tier == "full" else
          "; reduced from the course's settings: ") + "; ".join(
          f"{part} " + ", ".join(f"{k}={v}" for k, v in o.items()) for part, o in reduced.items())
         if reduced else "") + ".",
      f"Machine: {tuning.cpu_facts()[0]}, {facts['devices']['count']} x "
      f"{facts['devices']['kind']} ({facts['backend']}); jax {facts['versions']['jax']} / jaxlib "
      f"{facts['versions']['jaxlib']} (miscompile canary: "
      f"{'ok' if facts['compiler']['canary']['ok'] else 'FAILED'}"
      + (f", with XLA_FLAGS {facts['compiler']['workaround']}" if facts['compiler']['workaround']
         else "") + f"), flax "
      f"{facts['versions']['flax']}, optax {facts['versions']['optax']}; git "
      f"{(facts['git']['commit'] or 'unknown')[:10]}{' (dirty)' if facts['git']['dirty'] else ''}.",
      f"Wall time: {' + '.join(f'{wall:.0f} s' for wall in walls)} ({len(walls)} invocation(s) "
      "of this command; a rerun trains only what was not finished, then rebuilds this report); "
      "each exercise's training seconds are in the speed table.",
  ]
  path = workdir / "REPORT.md"
  write_text(path, course.report(course.load_records(workdir), tier, header, skipped))
  return path


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  every_entry = cli.every_entry()
  enable_compilation_cache()
  cli.check_compiler()
  log = lambda line: print(line, flush=True)
  try:
    unknown = sorted(set(FLAGS.parts) - set(course.PARTS))
    if unknown:
      raise ConfigError(f"--parts names no exercise: {', '.join(unknown)}; choose from "
                        f"{', '.join(course.PARTS)}")
    path = run_course(FLAGS.workdir, FLAGS.tier, data_dir=FLAGS.data_dir, fresh=FLAGS.fresh,
                      parts=tuple(FLAGS.parts), log=log, every_entry=every_entry)
    if FLAGS.export_to:
      log(f"exported {course.export(FLAGS.workdir, FLAGS.export_to)}")
  except (ConfigError, WorkdirError) as err:
    cli.fail(cli.one_line(err))
  except stopping.Interrupted as err:
    cli.stopped(err)
  except (StorageError, OSError) as err:
    cli.storage_failed(err)
  log(f"wrote {path}")


if __name__ == "__main__":
  cli.run(lambda: app.run(main, flags_parser=cli.parse_flags))
