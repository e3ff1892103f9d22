"""Shared pieces of the learning benchmark (Tools/bench/learn and Tools/bench/official_learn.py).

Python standard library only (the project side runs on a fresh machine without numpy or torch):
development sets, budget parsing, an independent scorer over the ARC task files, the settings of
an arc-pipeline run (its config.json), the metrics window summary (loss curve, final accuracies),
the result table and atomic JSON output.
"""
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEV_SETS = os.path.join(HERE, "dev-sets")
RESULT_FILE = "learn.json"


def fail(message):
    """One error line and exit 1."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_budget(text):
    """Seconds in a budget written like the CLI's --time-budget: 90, 90s, 10m, 1h30m, 1.5h."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        seconds = float(t)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", t)
        if not parts or "".join(n + u for n, u in parts) != t:
            fail(f"--budget {text!r}: expected a duration like 90, 90s, 10m, 1h30m or 1.5h")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if not 0 < seconds <= 365 * 86400:
        fail(f"--budget {text!r}: must be more than 0 and at most 365 days")
    return seconds


def read_dev_set(name):
    """(set name, task ids) from a committed list (dev10, mixed50) or a text file of ids ('#' comments)."""
    path = os.path.join(DEV_SETS, name + ".txt") if re.fullmatch(r"[A-Za-z0-9_-]+", name) else name
    if not os.path.isfile(path):
        known = sorted(f[:-4] for f in os.listdir(DEV_SETS) if f.endswith(".txt"))
        fail(f"--set {name}: no such development set (known: {', '.join(known)}; or a file of task ids)")
    ids = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if not re.fullmatch(r"[0-9a-f]{8}", line):
                fail(f"{path}:{number}: {line!r} is not an ARC task id (8 hex digits)")
            ids.append(line)
    if not ids:
        fail(f"{path}: no task ids")
    if len(set(ids)) != len(ids):
        fail(f"{path}: a task id is listed twice")
    set_name = os.path.splitext(os.path.basename(path))[0]
    return set_name, ids


def load_tasks(folder, ids):
    """{id: task JSON} from the ARC-AGI-1 training folder; an error names a missing task file."""
    tasks = {}
    for task_id in ids:
        path = os.path.join(folder, task_id + ".json")
        if not os.path.isfile(path):
            fail(f"{path}: task {task_id} of the development set is missing (arc-pipeline fetch arc-agi-1)")
        with open(path, encoding="utf-8") as f:
            tasks[task_id] = json.load(f)
    return tasks


def score_attempts(tasks, attempts):
    """Scores two ranked attempts per test input against the task files' test outputs.

    attempts: {task id: [[attempt 1 grid or None, attempt 2 grid or None] per test input]}.
    Returns per-output (Kaggle) and per-task-average pass@1/pass@2, tasks fully solved (every test
    output right within two attempts, HRM arc_eval's measure) and per-task details.
    """
    outputs = solved1 = solved2 = full = shapes1 = 0
    task_avg1 = task_avg2 = cells1 = cells2 = 0.0
    per_task = {}
    for task_id, task in tasks.items():
        tests = task["test"]
        got = attempts.get(task_id, [])
        right1 = right2 = 0
        marks = []
        for index, pair in enumerate(tests):
            pair_attempts = got[index] if index < len(got) else [None, None]
            first = pair_attempts[0] == pair["output"] if pair_attempts else False
            second = len(pair_attempts) > 1 and pair_attempts[1] == pair["output"]
            first_cells = cell_accuracy(pair_attempts[0] if pair_attempts else None, pair["output"])
            second_cells = cell_accuracy(pair_attempts[1] if len(pair_attempts) > 1 else None, pair["output"])
            shapes1 += first_cells is not None
            cells1 += first_cells or 0.0
            cells2 += max(first_cells or 0.0, second_cells or 0.0)
            right1 += first
            right2 += first or second
            marks.append([bool(first), bool(second)])
        outputs += len(tests)
        solved1 += right1
        solved2 += right2
        task_avg1 += right1 / len(tests)
        task_avg2 += right2 / len(tests)
        full += right2 == len(tests)
        per_task[task_id] = marks
    n = max(len(tasks), 1)
    return dict(
        pass_at_1=solved1 / max(outputs, 1), pass_at_2=solved2 / max(outputs, 1),
        pass_at_1_task_average=task_avg1 / n, pass_at_2_task_average=task_avg2 / n,
        tasks=len(tasks), tasks_fully_solved=full, test_outputs=outputs,
        test_outputs_solved_at_1=solved1, test_outputs_solved=solved2, per_task=per_task,
        shape_right_at_1=shapes1 / max(outputs, 1), cell_accuracy_at_1=cells1 / max(outputs, 1),
        cell_accuracy_at_2=cells2 / max(outputs, 1),
    )


def cell_accuracy(attempt, expected):
    """Fraction of the expected output's cells the attempt has right; None when its shape differs
    (or it is missing). A graded signal under pass@k, for comparing settings on a small set."""
    if not isinstance(attempt, list) or len(attempt) != len(expected) or not expected:
        return None
    total = right = 0
    for got_row, want_row in zip(attempt, expected):
        if not isinstance(got_row, list) or len(got_row) != len(want_row):
            return None
        total += len(want_row)
        right += sum(1 for a, b in zip(got_row, want_row) if a == b)
    return right / max(total, 1)


RUN_FORMAT = "arc-pipeline-run-2"


def run_settings(path):
    """The settings of an arc-pipeline run, flat, from its config.json (Sources/Training/RunConfiguration.swift).

    The current layout has "format" and one "training" object holding "model" (HRMConfig),
    "trainer" (TrainerOptions) and the run's epochs; the earlier layout has "model" and "trainer"
    at the top beside flat copies. Both give the same names (the official config's where it has one).
    """
    with open(path) as f:
        config = json.load(f)
    try:
        if "format" in config:
            if config["format"] != RUN_FORMAT:
                fail(f"{path}: format {config['format']!r}; this script reads {RUN_FORMAT!r} and the earlier layout without \"format\"")
            training = config["training"]
        else:
            training = config  # the earlier layout: "model", "trainer" and "epochs" at the top
        model, trainer = training["model"], training["trainer"]
        return dict(
            preset=config.get("preset"), overrides=config.get("overrides"), parameters=config.get("parameters"),
            hidden_size=model["hiddenSize"], num_heads=model["numHeads"], expansion=float(model["expansion"]),
            H_layers=model["hLayers"], L_layers=model["lLayers"], H_cycles=model["hCycles"], L_cycles=model["lCycles"],
            halt_max_steps=model["haltMaxSteps"], puzzle_emb_ndim=model["puzzleEmbeddingDim"], seq_len=model["seqLen"],
            rms_norm_eps=model["rmsNormEpsilon"], rope_theta=float(model["ropeTheta"]),
            batch_size=trainer["batchSize"], lr=trainer["learningRate"], puzzle_emb_lr=trainer["puzzleEmbeddingLearningRate"],
            weight_decay=trainer["weightDecay"], puzzle_emb_weight_decay=trainer["puzzleEmbeddingWeightDecay"],
            warmup_steps=trainer["warmupSteps"], lr_min_ratio=trainer["lrMinRatio"], beta1=trainer["beta1"], beta2=trainer["beta2"],
            halt_exploration_prob=trainer["explorationProbability"], seed=trainer["seed"], epochs=training["epochs"],
        )
    except (KeyError, TypeError) as e:
        fail(f"{path}: not an arc-pipeline run config (missing or malformed {e})")


def read_metrics(path):
    records = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    records.append(json.loads(line))
    return records


def training_summary(records, points=6):
    """Final interval's accuracies and a loss curve of about `points` metrics lines, evenly spread."""
    if not records:
        return dict(steps=0, final={}, curve=[])
    # Accuracies count halted slots only: the last interval that had any (none yet: n/a).
    usable = [r for r in records if (r.get("halted") or 0) > 0]
    last = dict(usable[-1]) if usable else {k: None for k in ("accuracy", "exact_accuracy", "q_halt_accuracy", "steps")}
    for key in ("step", "lm_loss", "q_halt_loss", "q_continue_loss", "tokens_per_second"):
        last.setdefault(key, records[-1].get(key))
    if len(records) <= points:
        chosen = records
    else:
        chosen = [records[round(i * (len(records) - 1) / (points - 1))] for i in range(points)]
    keys = ("step", "elapsed_seconds", "lm_loss", "accuracy", "exact_accuracy", "steps")
    return dict(
        steps=int(records[-1]["step"]),
        final={k: last.get(k) for k in ("step", "lm_loss", "q_halt_loss", "q_continue_loss", "accuracy",
                                        "exact_accuracy", "q_halt_accuracy", "steps", "tokens_per_second")},
        curve=[{k: r.get(k) for k in keys} for r in chosen],
    )


class MetricsWindow:
    """Sums of the loss head's per-step metrics over a logging interval, reported like the
    project's metrics.jsonl: losses / examples, accuracies / halted slots."""

    def __init__(self):
        self.steps = self.count = self.exact = self.q_correct = self.act = self.batch = self.tokens = 0
        self.accuracy = self.lm = self.q_halt = self.q_continue = 0.0
        self.start = time.perf_counter()

    def add(self, m, batch_size, tokens):
        self.steps += 1
        self.count += int(m["count"])
        self.exact += int(m["exact_accuracy"])
        self.q_correct += int(m["q_halt_accuracy"])
        self.act += int(m["steps"])
        self.accuracy += float(m["accuracy"])
        self.lm += float(m["lm_loss"])
        self.q_halt += float(m["q_halt_loss"])
        self.q_continue += float(m.get("q_continue_loss", 0.0))
        self.batch += batch_size
        self.tokens += tokens

    def record(self, step, lr, elapsed):
        c, b = max(self.count, 1), max(self.batch, 1)
        return dict(step=step, lr=lr, lm_loss=self.lm / b, q_halt_loss=self.q_halt / b,
                    q_continue_loss=self.q_continue / b, accuracy=self.accuracy / c, exact_accuracy=self.exact / c,
                    q_halt_accuracy=self.q_correct / c, steps=self.act / c, halted=self.count,
                    tokens_per_second=self.tokens / max(time.perf_counter() - self.start, 1e-9),
                    elapsed_seconds=elapsed)


def write_json(path, value):
    """Writes JSON through a temporary file and a rename, so a reader never sees half a file."""
    temporary = f"{path}.partial-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(temporary, path)


def prepare_out(out, force, marker_names):
    """Makes `out` ready: a new or empty folder, or (with --force) one this benchmark made.

    A folder holding anything else is refused, so no user file is ever replaced. With --force the
    entries this benchmark made (`marker_names`) are removed; any other entry stops the run.
    """
    if os.path.lexists(out) and not os.path.isdir(out):
        fail(f"--out {out}: exists and is not a folder")
    if os.path.isdir(out):
        entries = [e for e in os.listdir(out) if e != ".bench-learn"]  # only the marker: an unfinished start
        if entries:
            if not os.path.isfile(os.path.join(out, ".bench-learn")):
                fail(f"--out {out}: a folder that this benchmark did not make and that is not empty; give another --out")
            if not force:
                fail(f"--out {out}: holds an earlier benchmark run; give --force to replace it, or another --out")
            foreign = [e for e in entries if e not in marker_names and e != ".bench-learn"]
            if foreign:
                fail(f"--out {out}: holds {', '.join(sorted(foreign))}, which this benchmark did not make; give another --out")
            import shutil
            for entry in entries:
                path = os.path.join(out, entry)
                if entry == ".bench-learn":
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".bench-learn"), "w") as f:
        f.write("made by Tools/bench/learn or official_learn.py; --force may replace this folder\n")


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(cpu=model, logical_cpus=os.cpu_count(), load_average=list(os.getloadavg()))


def fmt(value, digits=4):
    return "n/a" if value is None else f"{value:.{digits}f}"


def table_lines(results):
    """One table, one column per result (arc-pipeline, official): the benchmark's summary."""
    names = [r["side"] for r in results]
    rows = []

    def row(label, values):
        rows.append((label, values))

    def score(r, key):
        return r.get("scores", {}).get(key)

    row("pass@1 per test output", [f"{fmt(score(r, 'pass_at_1'))} ({score(r, 'test_outputs_solved_at_1')}/{score(r, 'test_outputs')})" for r in results])
    row("pass@2 per test output (Kaggle)", [f"{fmt(score(r, 'pass_at_2'))} ({score(r, 'test_outputs_solved')}/{score(r, 'test_outputs')})" for r in results])
    row("pass@1 per task (average)", [fmt(score(r, "pass_at_1_task_average")) for r in results])
    row("pass@2 per task (average)", [fmt(score(r, "pass_at_2_task_average")) for r in results])
    row("tasks fully solved (pass@2)", [f"{score(r, 'tasks_fully_solved')}/{score(r, 'tasks')}" for r in results])
    row("test outputs solved (pass@2)", [f"{score(r, 'test_outputs_solved')}/{score(r, 'test_outputs')}" for r in results])
    row("shape right / cell accuracy @1 (@2)", [f"{fmt(score(r, 'shape_right_at_1'), 3)} / {fmt(score(r, 'cell_accuracy_at_1'), 3)} ({fmt(score(r, 'cell_accuracy_at_2'), 3)})" for r in results])
    row("training steps", [str(r["training"]["steps"]) for r in results])
    row("training seconds (budget)", [f"{r['training'].get('train_seconds', 0):.0f} ({r['budget_seconds']:.0f})" for r in results])
    row("stop reason", [str(r["training"].get("stop_reason", "")) for r in results])
    row("final train exact accuracy", [fmt(r["training"]["final"].get("exact_accuracy")) for r in results])
    row("final train token accuracy", [fmt(r["training"]["final"].get("accuracy")) for r in results])
    row("final lm_loss", [fmt(r["training"]["final"].get("lm_loss")) for r in results])
    row("tokens/s (final interval)", [fmt(r["training"]["final"].get("tokens_per_second"), 0) for r in results])
    row("canvas / seq_len / parameters", [f"{r['settings'].get('canvas')} / {r['settings'].get('seq_len')} / {r['settings'].get('parameters')}" for r in results])
    row("load average 1 min (start, end)", [f"{r['machine']['load_average_before'][0]:.1f}, {r['machine']['load_average'][0]:.1f}" for r in results])
    row("evaluated test examples", [str(r.get("evaluation", {}).get("examples")) for r in results])
    row("evaluation seconds", [f"{r.get('timings', {}).get('evaluate', 0):.1f}" for r in results])
    width = max(len(label) for label, _ in rows)
    columns = [max([len(n)] + [len(v[i]) for _, v in rows]) for i, n in enumerate(names)]
    lines = [" " * width + "  " + "  ".join(n.rjust(c) for n, c in zip(names, columns))]
    for label, values in rows:
        lines.append(label.ljust(width) + "  " + "  ".join(v.rjust(c) for v, c in zip(values, columns)))
    for r in results:
        curve = ", ".join(f"{int(p['step'])}: {p['lm_loss']:.3f}" for p in r["training"]["curve"] if p.get("lm_loss") is not None)
        lines.append(f"loss curve {r['side']} (step: lm_loss): {curve or 'none'}")
        timings = r.get("timings", {})
        lines.append(f"stage seconds {r['side']}: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return lines


def header_line(result):
    return (f"{result['side']}: set {result['set']} ({result['scores']['tasks']} ARC-AGI-1 training tasks in the evaluation role, "
            f"{result['scores']['test_outputs']} test outputs), training budget {result['budget']}, seed {result['seed']}, "
            f"dataset seed {result['dataset_seed']}, {result['settings'].get('num_aug')} augmentations per task")
