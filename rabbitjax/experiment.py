"""Running a config: every selected variant's sweep trained, its records and plots saved.

The workdir's records are committed together after each variant (`io.RecordStore`), and a
variant in training is checkpointed between epochs (`checkpoint.Checkpoints`). Rerunning the
same command resumes: finished variants are kept, an interrupted one goes on from its last
checkpoint to the same numbers as an uninterrupted run; other variants selected later are merged
into the records. A rerun whose config differs from the recorded one is refused unless `fresh`.
"""

import dataclasses
import json
import math
import pathlib
import re
import shutil
import time
from typing import Callable

import jax
import ml_collections
import numpy as np

from rabbitjax import cache, checkpoint, distributed, figures, io, provenance, report
from rabbitjax.stopping import Interrupted
from rabbitjax.config import ConfigError, variant_config, variant_names
from rabbitjax.exercises import Trainer, exercise_for
from rabbitjax.train import RunResult, Sweep
from rabbitjax.train.mapping import Programs

# Fields that change no number (the mesh: to float32 rounding): a rerun may differ in them and
# still resume.
_NOT_COMPARED = ("variant", "checkpoint_every", "mesh", "tensorboard", "epochs_per_dispatch",
                 "seed_groups")


@dataclasses.dataclass
class VariantResult:
  """A trained variant: its name and label, resolved config, sweep, and what training gave."""

  name: str
  label: str
  config: ml_collections.ConfigDict
  sweep: Sweep
  run: RunResult
  tuning: dict
  log_unit: str


def _normal(config: dict) -> dict:
  """A config as strict JSON values, without the fields that change no number."""
  return {key: value for key, value in json.loads(io.dumps(config)).items()
          if key not in _NOT_COMPARED}


def _refuse_other_config(recorded: dict | None, config: dict, what: str) -> None:
  if recorded is None:
    return
  recorded, config = _normal(recorded), _normal(config)
  for key in sorted(set(recorded) | set(config)):
    if recorded.get(key) != config.get(key):
      raise ConfigError(
          f"the workdir holds {what} run with config.{key}={recorded.get(key)!r}, this run has "
          f"{config.get(key)!r}: pass --fresh to discard its records, or use another --workdir")


class _Progress:
  """on_log for a trainer: the entry lines (with s/epoch and ETA when live), one line per run
  that goes non-finite, and a metrics.jsonl line, appended and flushed, for every entry.

  Entries come in blocks (every epoch of one program call; an agent's whole history), each
  block's means, values and checks computed once over it, not per entry. Entry lines are rate-limited unless `every_entry`: the
  first, the last, and between them at most one a second and one per tenth of the entries, the
  rarer (a fast exercise's 300 epochs are two lines); of an agent, whose entries all arrive when
  its run has ended, the first and the last. metrics.jsonl keeps every entry.
  """

  def __init__(self, log, name: str, trainer: Trainer, sweep: Sweep, metrics_path,
               every_entry: bool = False, tensorboard_dir=None):
    self.log, self.name, self.trainer, self.sweep = log, name, trainer, sweep
    self.every_entry = every_entry
    # Line-buffered: each line written whole. No path: a process that does not write.
    self.metrics = open(metrics_path, "a", buffering=1) if metrics_path else None
    self.tensorboard = _TensorBoard(tensorboard_dir, sweep) if tensorboard_dir else None
    self.diverged = np.zeros((len(sweep.seeds), sweep.num_points), bool)
    self.trained, self.seconds_after_first = 0, 0.0  # live entries, and their time but the first's
    self.printed = (0, -math.inf)  # the last entry printed, and when

  def _due(self, entry: int, live: bool) -> bool:
    if self.every_entry or entry in (1, self.trainer.num_logs):
      return True
    if not live:  # an agent's entries all arrive when its run has ended
      return False
    last_entry, last_time = self.printed
    return (entry - last_entry >= max(1, self.trainer.num_logs // 10)
            and time.perf_counter() - last_time >= 1.0)

  def __call__(self, first_entry: int, metrics, seconds=None):
    """The metrics of entries `first_entry`, `first_entry` + 1, ...: name -> (entries, seeds,
    points, ...) host arrays; `seconds`: each entry's training time where they are trained live
    (its share of the program call that trained them), None for an agent's."""
    trainer, unit = self.trainer, self.trainer.log_unit
    num_entries = len(next(iter(metrics.values())))
    # name -> per entry, the mean over seeds of every point (and trailing axis)
    means = {metric: np.asarray(values).mean(1).reshape(num_entries, -1).tolist()
             for metric, values in metrics.items()}
    order = sorted(metrics, key=report.metric_order)
    now = provenance.now()
    lines = []
    for index in range(num_entries):
      entry = first_entry + index
      entry_means = {metric: values[index] for metric, values in means.items()}
      record = {"variant": self.name, unit: entry, "of": trainer.num_logs, "time": now,
                "mean_over_seeds": entry_means}
      timing = ""
      if seconds is not None:
        self.trained += 1
        record["seconds"] = seconds
        if self.trained == 1:  # the first entry trained here: its time includes warming up
          timing = f"  ({seconds:.3g} s, the first {unit})"
        else:  # from the entries after the first
          self.seconds_after_first += seconds
          eta = self.seconds_after_first / (self.trained - 1) * (trainer.num_logs - entry)
          record["eta_seconds"] = eta
          timing = f"  ({seconds:.3g} s/{unit}, ETA {_duration(eta)})"
      if self._due(entry, seconds is not None):
        parts = [f"{metric} " + " ".join(f"{v:.4g}" for v in entry_means[metric])
                 for metric in order]
        width = len(str(trainer.num_logs))
        self.log(f"[{self.name}] {unit} {entry:>{width}}/{trainer.num_logs}  "
                 + "  ".join(parts) + timing)
        self.printed = (entry, time.perf_counter())
      lines.append(io.dumps(record, indent=None) + "\n")
    try:
      if self.metrics is not None:
        self.metrics.write("".join(lines))
      if self.tensorboard is not None:
        self.tensorboard.write(first_entry, metrics)
    except OSError as err:
      what = err.filename or (self.metrics.name if self.metrics else "TensorBoard's events")
      raise io.storage_error(f"the metrics log {what!r}", err) from None
    bad = report.non_finite(metrics)  # (entries, seeds, points)
    first_bad = bad.argmax(0)
    for seed, point in zip(*np.nonzero(bad.any(0) & ~self.diverged)):
      index = first_bad[seed, point]
      names = [metric for metric, values in metrics.items()
               if not np.all(np.isfinite(values[index, seed, point]))]
      self.log(f"[{self.name}] run seed {self.sweep.seeds[seed]}, "
               f"{self.sweep.point_label(point)} diverged at {unit} {first_entry + index}: "
               f"{', '.join(names)} not finite")
    self.diverged |= bad.any(0)

  def close(self) -> None:
    if self.metrics is not None:
      self.metrics.close()
    if self.tensorboard is not None:
      self.tensorboard.close()


class _TensorBoard:
  """TensorBoard event files of a variant's sweep: one run per seed and point, in
  DIR/seed_<seed>[_<point>], each scalar metric a series over the entries.

  tensorboardX's synchronous EventsWriter (neither TensorFlow nor torch; no writer thread, so
  a full disk is an OSError here, reported as a storage failure; its checksums in C through
  the crc32c package, 9x faster than its Python ones); flushed when the variant ends.
  """

  def __init__(self, directory, sweep: Sweep):
    from tensorboardX.event_file_writer import EventsWriter  # only runs that write import it

    def run_directory(seed_index, point):
      label = sweep.point_label(point)
      suffix = "" if sweep.num_points == 1 else "_" + re.sub(r"[^\w.=+-]+", "_", label)
      path = pathlib.Path(directory) / f"seed_{sweep.seeds[seed_index]}{suffix}"
      path.mkdir(parents=True, exist_ok=True)
      return path

    self.writers = {(s, p): EventsWriter(str(run_directory(s, p) / "events"))
                    for s in range(len(sweep.seeds)) for p in range(sweep.num_points)}
    self.tags, self.events = (), {}  # per run, the one Event each entry fills in and writes

  def write(self, first_entry: int, metrics) -> None:
    """Entries `first_entry`, ... of `metrics` (name -> (entries, seeds, points, ...))."""
    from tensorboardX.proto import event_pb2, summary_pb2

    # Scalars only (per-run outputs such as coefficients are no series); one event per run and
    # entry holding every metric: a fifth of the cost of one event per metric, and a third of
    # that again by filling in one Event per run rather than building one per entry.
    scalars = {metric: np.asarray(values, np.float64) for metric, values in metrics.items()
               if np.ndim(values) == 3}
    if tuple(scalars) != self.tags:
      self.tags = tuple(scalars)
      self.events = {run: event_pb2.Event(summary=summary_pb2.Summary(
          value=[summary_pb2.Summary.Value(tag=metric) for metric in scalars]))
          for run in self.writers}
    if not scalars:
      return
    # (entries, seeds, points, metrics) as Python floats from one tolist: indexing numpy per
    # value took a third of this.
    entries = np.stack(list(scalars.values()), -1).tolist()
    now = time.time()
    for (seed, point), writer in self.writers.items():
      event = self.events[seed, point]
      event.wall_time = now
      for index, runs in enumerate(entries):
        event.step = first_entry + index
        for value, number in zip(event.summary.value, runs[seed][point]):
          value.simple_value = number
        writer.write_event(event)

  def close(self) -> None:
    for writer in self.writers.values():
      writer.close()


def _duration(seconds: float) -> str:
  return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_experiment(
    config: ml_collections.ConfigDict,
    workdir,
    *,
    data_dir: str | None = None,
    log: Callable[[str], None] = print,
    command_line=(),
    fresh: bool = False,
    argv=None,
    every_entry: bool = False,
) -> dict:
  """Trains every selected variant of `config` and commits its records into `workdir`.

  Args:
    command_line: the config fields set on the command line: they win over variants' values.
    fresh: discard the workdir's records, checkpoints and metrics first.
    argv: the command, for the provenance record (default sys.argv).
    every_entry: log every epoch (entry) line, and each variant's tuning and layout lines even
      where they repeat the previous variant's; by default entry lines are rate-limited
      (`_Progress`) and a repeated tuning or layout line is left out.

  Returns:
    The summary (as written to summary.json), every variant of the workdir's records included.
  """
  exercise = exercise_for(config, command_line)
  names = variant_names(config)
  writer = distributed.is_writer()  # with several processes, process 0 alone writes
  store = io.RecordStore(workdir, writable=writer)
  workdir = store.workdir
  if writer:
    if fresh:
      store.wipe()
      shutil.rmtree(workdir / "checkpoints", ignore_errors=True)
      shutil.rmtree(workdir / "tensorboard", ignore_errors=True)
      (workdir / "metrics.jsonl").unlink(missing_ok=True)
    store.clean()
    io.drop_partial_line(workdir / "metrics.jsonl")
  distributed.barrier("records ready")  # every process reads them as process 0 left them
  _refuse_other_config(store.read_json("config.json"), config.to_dict(), "an earlier")
  summary = store.read_json("summary.json") or {"exercise": config.exercise, "variants": {}}
  # Each variant's history record as JSON text, made once: history.json, rewritten with every
  # variant, is these joined (its encoding grew with the variants before).
  history = {name: io.dumps(record, indent=None)
             for name, record in (store.read_json("history.json") or {}).items()}
  summary["provenance"] = provenance.provenance(argv)
  loaded = {}  # data shared by this run's variants
  programs = Programs(cache.program_store())  # and the programs compiled for them
  said = set()  # the tuning and layout lines logged so far

  def log_once(line: str, name: str) -> None:
    if every_entry or line not in said:
      log(f"[{name}] {line}")
      said.add(line)

  # Per variant trained, oldest first: what commits it once its figures are drawn, and whether
  # they are.
  staged: list[tuple[Callable[[], None], Callable[[], bool]]] = []
  # Committing early is a choice of this process alone: not where every process must delete
  # a variant's checkpoints at the same point (a collective barrier).
  early = jax.process_count() == 1

  def settle(keep: int = 0):
    """Commits the staged variants, oldest first: all but the newest `keep`, and with one
    process those after them whose figures are drawn already."""
    while staged and (len(staged) > keep or (early and staged[0][1]())):
      staged.pop(0)[0]()

  try:
    for name in names:
      if distributed.agree_to_stop()[0]:
        raise Interrupted(f"before variant {name!r}")
      variant = variant_config(config, name, command_line)
      if name in summary["variants"]:
        _refuse_other_config(summary["variants"][name]["config"], variant.to_dict(),
                             f"variant {name!r} of an earlier")
        log(f"[{name}] finished in an earlier run: kept")
        continue
      # Per variant: a variant may change a sweepable default (the RNN's Adam: learning_rate).
      sweep = exercise.sweep(variant)
      trainer = exercise.build(variant, data_dir, loaded)
      points = ", ".join(sweep.point_label(point) for point in range(sweep.num_points))
      log(f"[{name}] {variant.get('label', name)}: {len(sweep.seeds)} seeds x {sweep.num_points} "
          f"points ({points}); each {trainer.log_unit} shows the mean over seeds for every point")
      log_once(f"tuning: {trainer.tuning.line()}", name)
      layout = distributed.decide_layout(variant.get("mesh", distributed.AUTOMATIC),
                                         len(sweep.seeds), trainer.batch_sizes)
      log_once(f"layout: {layout.line()}", name)
      checkpoints = checkpoint.Checkpoints(workdir / "checkpoints" / name,
                                           variant.get("checkpoint_every", 0),
                                           log=lambda line, n=name: log(f"[{n}] {line}"))
      progress = _Progress(log, name, trainer, sweep, writer and workdir / "metrics.jsonl",
                           every_entry, writer and variant.get("tensorboard", True)
                           and workdir / "tensorboard" / name)
      try:
        run = trainer.train(sweep, progress, checkpoints, layout, programs)
      except Interrupted as err:
        raise Interrupted(f"in variant {name!r} {err}") from None
      finally:
        progress.close()
      result = VariantResult(name, variant.get("label", name), variant, sweep, run,
                             {**trainer.tuning.record(), "layout": layout.record()},
                             trainer.log_unit)
      summary["variants"][name] = report.summarize_variant(result)
      history[name] = io.dumps(report.history_record(result), indent=None)
      summary["provenance"]["finished"] = provenance.now()
      if writer:
        staged.append(_stage(store, config, summary, history, result, trainer, checkpoints, log))
      else:  # at the writer's point: deleting waits for every process (a collective barrier)
        staged.append((checkpoints.delete, lambda: False))
      # Variants before, their figures drawn while this one trained; as many as there are
      # drawers may stay staged, so that the next variant trains while they draw (a long
      # variant's figures are drawn by its end: committed then, as before).
      settle(keep=figures.DRAWERS)
  finally:  # interrupted or failed: what was trained and staged before is still committed
    settle()
  return json.loads(io.dumps(summary))


def _seconds(run: RunResult) -> str:
  return (f"setup {run.seconds['setup']:.2f} s, compile {run.seconds['compile']:.2f} s, "
          f"train {run.seconds['train']:.2f} s")


def _stage(store: io.RecordStore, config, summary: dict, history: dict, result: VariantResult,
           trainer: Trainer, checkpoints, log) -> tuple[Callable[[], None], Callable[[], bool]]:
  """Stages a variant's records and starts drawing its figures; returns what commits them
  (after the figures are written), then drops its checkpoints and says what it saved, and
  whether the figures are written."""
  staging, written = store.stage(lambda directory: _write_records(directory, config, summary,
                                                                  history, result, trainer))
  drawn = _figures(summary, result, trainer)
  drawing = figures.submit(drawn, staging)

  def commit():
    store.publish(staging, ready=drawing.wait)
    checkpoints.delete()
    names = written + [figure.filename for figure in drawn]
    log(f"[{result.name}] {_seconds(result.run)}; saved {', '.join(names)}")

  return commit, drawing.done


def _write_records(directory: pathlib.Path, config, summary: dict, history: dict,
                   result: VariantResult, trainer: Trainer) -> list[str]:
  """Writes the records that change with `result` into `directory` (`history`: each variant's
  record as JSON text); returns their names."""
  io.write_json(directory / "config.json", config.to_dict())
  io.write_text(directory / "history.json", "{" + ", ".join(
      f"{json.dumps(name)}: {record}" for name, record in history.items()) + "}\n")
  io.write_json(directory / "summary.json", summary)
  io.write_text(directory / "summary.md", report.markdown(io.strict(summary)))
  names = ["config.json", "history.json", "summary.json", "summary.md"]
  if trainer.model_summary:
    names.append(f"{result.name}_model.txt")
    io.write_text(directory / names[-1], trainer.model_summary)
  return names


def _figures(summary: dict, result: VariantResult, trainer: Trainer) -> list:
  """The figures that change with `result`: its learning curves, the exercise's own, and the
  final metrics against the swept value."""
  keep = report.first_non_finite(result.run.history) == 0
  curves = figures.Figure("plot_learning_curves", f"{result.name}_curves.png", {
      "history": result.run.history, "title": result.label, "x_label": result.log_unit,
      "point_labels": [result.sweep.point_label(p) for p in range(result.sweep.num_points)],
      "keep": keep, "centre": trainer.centre})
  own = trainer.plot(result) if trainer.plot is not None else []
  return [curves, *own, *_plot_against_swept_value(summary, result)]


def _plot_against_swept_value(summary: dict, result) -> list:
  """Final metrics against the one swept value, every recorded variant of that sweep on the same
  axes (drawn from the records, so variants of earlier runs count too)."""
  if len(result.sweep.swept) != 1:
    return []
  hparam = result.sweep.swept[0]
  metrics = [metric for metric in result.run.history if metric.startswith("val_")]
  metrics += [name for name, value in result.run.outputs.items() if value.ndim == 2]
  drawn = []
  for metric in metrics:
    series = {}
    for record in summary["variants"].values():
      if record["swept"] != [hparam] or metric not in record["points"][0]["final"]:
        continue
      values = report.recorded_finals(record, metric)
      series[record["label"]] = ([point["hparams"][hparam] for point in record["points"]], values)
    drawn.append(figures.Figure("plot_against_hparam", f"{metric}_vs_{hparam}.png", {
        "series": series, "hparam": hparam, "ylabel": metric,
        "title": f"final {metric} against {hparam}"}))
  return drawn
