#!/usr/bin/env python3
"""Writes the Kaggle notebook arc-pipeline.ipynb that runs the bundle made by scripts/kaggle-bundle.

The notebook runs offline on Kaggle: it finds the bundle under the input root, copies it to the
working folder, runs `arc-pipeline fetch kaggle --kaggle-source <competition folder>` and
`arc-pipeline train-eval` within a time budget, and leaves <working>/submission.json. A valid
fallback submission (both attempts = the test input grid) is written first and kept whenever a
step fails or runs out of time, so the run is never lost. Every path and budget in the first cell
can be overridden by an environment variable (the bundle test points them at temporary folders).

Usage: python3 Tools/kaggle/make_notebook.py OUT.ipynb
"""
import json
import sys

INTRO = """\
# arc-pipeline on Kaggle (offline)

Runs the Swift `arc-pipeline` bundle (HRM, CPU): fetch the competition data, build the augmented
dataset, train within the time budget, predict, vote, write `/kaggle/working/submission.json`.
Attach two inputs: the competition data (`arc-prize-2025`) and the dataset holding the bundle
made by `scripts/kaggle-bundle` (see the repository's README, "Submitting to Kaggle").
Internet off. A fallback submission is written first, so a failure still leaves a valid file."""

SETTINGS = """\
# Settings. Each can be overridden by the environment variable named beside it.
import os

INPUT_ROOT = os.environ.get("ARC_KAGGLE_INPUT", "/kaggle/input")            # attached datasets
WORKING = os.environ.get("ARC_KAGGLE_WORKING", "/kaggle/working")           # output folder
COMPETITION = os.environ.get("ARC_KAGGLE_COMPETITION", os.path.join(INPUT_ROOT, "arc-prize-2025"))
BUNDLE = os.environ.get("ARC_BUNDLE", "")        # bundle folder; empty: search INPUT_ROOT for **/bin/arc-pipeline
# Kaggle stops a notebook after 12 h. train-eval's --time-budget is the whole job's: dataset building,
# training and prediction fit in TRAIN_BUDGET (the prediction time is measured before training and
# reserved). Any step still running at DEADLINE (counted from the start of this notebook) is stopped
# and the fallback submission is kept.
TRAIN_BUDGET = os.environ.get("ARC_TRAIN_BUDGET", "10h")
DEADLINE = os.environ.get("ARC_DEADLINE", "11h30m")
NUM_AUG = int(os.environ.get("ARC_NUM_AUG", "4"))                           # augmentations per task
# What is trained on beside the test tasks' demonstrations: "none" (test-time training only, train-eval's
# default, chosen on the development set) or "preset" (Kaggle's training tasks too).
TRAIN_SETS = os.environ.get("ARC_TRAIN_SETS", "none")
EXTRA_ARGS = os.environ.get("ARC_EXTRA_ARGS", "").split()                   # more train-eval options"""

RUN = r'''# Run the pipeline; whatever happens, leave a valid submission.json.
import glob, json, shutil, subprocess, sys, time, traceback

START = time.time()


def log(message):
    print(f"[notebook {time.time() - START:8.1f} s] {message}", flush=True)


def seconds(text):
    """'90', '90s', '10m', '1h30m', '1.5h' -> seconds."""
    text, total, number = text.strip().lower(), 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in "hms" and number:
            total += float(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
        else:
            raise ValueError(f"bad duration {text!r} (use 90, 90s, 10m, 1h30m)")
    return total + (float(number) if number else 0.0)


def is_grid(value):
    return (isinstance(value, list) and 0 < len(value) <= 30
            and all(isinstance(row, list) and 0 < len(row) <= 30 and len(row) == len(value[0])
                    and all(isinstance(c, int) and 0 <= c <= 9 for c in row) for row in value))


def fallback_submission(challenges):
    return {task_id: [{"attempt_1": pair["input"], "attempt_2": pair["input"]} for pair in task["test"]]
            for task_id, task in challenges.items()}


def completed(candidate, fallback):
    """Every challenge task with one entry per test input; missing or malformed entries take the fallback."""
    result, filled = {}, 0
    for task_id, entries in fallback.items():
        got = candidate.get(task_id) if isinstance(candidate, dict) else None
        ok = (isinstance(got, list) and len(got) == len(entries)
              and all(isinstance(e, dict) and is_grid(e.get("attempt_1")) and is_grid(e.get("attempt_2")) for e in got))
        result[task_id] = got if ok else entries
        filled += 0 if ok else len(entries)
    return result, filled


def write_json(value, path):
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(value, f, separators=(",", ":"))
    os.replace(partial, path)


def run(command, cwd, env, deadline):
    """Runs a command, printing its lines; stops it at the deadline. Returns the exit status."""
    log("$ " + " ".join(command))
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    import threading
    timer = threading.Timer(max(1.0, deadline - time.time()), lambda: os.killpg(process.pid, 9))
    timer.start()
    try:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            line = line.split("\r")[-1]          # progress bars redraw with \r: keep the last state
            if line:
                print(line, flush=True)
    finally:
        status = process.wait()
        timer.cancel()
    if time.time() >= deadline:
        raise TimeoutError(f"stopped at the deadline ({DEADLINE}): {command[1]}")
    log(f"exit status {status}")
    return status


deadline = START + seconds(DEADLINE)
seconds(TRAIN_BUDGET)  # checked here, passed on as written
os.makedirs(WORKING, exist_ok=True)
submission_path = os.path.join(WORKING, "submission.json")
status = {"pipeline": "not run", "fallback_test_inputs": None}

# 1. The fallback first: both attempts = the test input, for every test input of the challenges.
challenges_path = os.path.join(COMPETITION, "arc-agi_test_challenges.json")
if not os.path.exists(challenges_path):  # the competition data mounted elsewhere under the input root
    found = sorted(glob.glob(os.path.join(INPUT_ROOT, "**", "arc-agi_test_challenges.json"), recursive=True))
    if found:
        challenges_path, COMPETITION = found[0], os.path.dirname(found[0])
        log(f"competition data found at {COMPETITION}")
with open(challenges_path) as f:
    challenges = json.load(f)
fallback = fallback_submission(challenges)
write_json(fallback, submission_path)
log(f"fallback submission written: {len(fallback)} tasks, {sum(map(len, fallback.values()))} test inputs -> {submission_path}")

try:
    # 2. The bundle, copied to the working folder (input datasets are read-only and may lose the execute bit).
    if not BUNDLE:
        found = sorted(glob.glob(os.path.join(INPUT_ROOT, "**", "bin", "arc-pipeline"), recursive=True), key=len)
        if not found:
            raise FileNotFoundError(f"no **/bin/arc-pipeline under {INPUT_ROOT}: attach the bundle dataset")
        BUNDLE = os.path.dirname(os.path.dirname(found[0]))
    bundle = os.path.join(WORKING, "arc-pipeline-bundle")
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(BUNDLE, bundle)
    binary = os.path.join(bundle, "bin", "arc-pipeline")
    os.chmod(binary, 0o755)
    log(f"bundle {BUNDLE} -> {bundle}")
    info = os.path.join(bundle, "BUNDLE_INFO.txt")
    if os.path.exists(info):
        print(open(info).read().strip(), flush=True)

    # The bundle's own libraries come first, whatever the image's library path holds.
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(bundle, "lib")
    work = os.path.join(WORKING, "arc-work")      # data, built dataset, runs
    os.makedirs(work, exist_ok=True)
    data_dir = os.path.join(work, "arc-data")
    out_dir = os.path.join(work, "submission")

    # 3. fetch (copies the read-only competition folder into the data folder and validates every task), then train-eval.
    if run([binary, "fetch", "kaggle", "--kaggle-source", COMPETITION, "--data-dir", data_dir], work, env, deadline) != 0:
        raise RuntimeError("fetch failed")
    command = [binary, "train-eval", "--data-dir", data_dir, "--dataset", "kaggle", "--num-aug", str(NUM_AUG),
               "--train-sets", TRAIN_SETS, "--time-budget", TRAIN_BUDGET, "--out", out_dir] + EXTRA_ARGS
    if run(command, work, env, deadline) != 0:
        raise RuntimeError("train-eval failed")

    # 4. The pipeline's submission, completed from the fallback where anything is missing.
    with open(os.path.join(out_dir, "submission.json")) as f:
        produced = json.load(f)
    final, filled = completed(produced, fallback)
    write_json(final, submission_path)
    status = {"pipeline": "ok", "fallback_test_inputs": filled}
    log(f"submission written: {len(final)} tasks, {filled} test inputs from the fallback -> {submission_path}")
except Exception as error:
    traceback.print_exc()
    status = {"pipeline": f"failed: {error}", "fallback_test_inputs": sum(map(len, fallback.values()))}
    log(f"the pipeline failed ({error}); {submission_path} keeps the fallback submission")
write_json(status, os.path.join(WORKING, "arc-pipeline-status.json"))
log(f"done: {status}")'''


def cell(kind, source):
    lines = source.splitlines(keepends=True)
    base = {"cell_type": kind, "metadata": {}, "source": lines}
    if kind == "code":
        base.update({"execution_count": None, "outputs": []})
    return base


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_notebook.py OUT.ipynb")
    notebook = {
        "cells": [cell("markdown", INTRO), cell("code", SETTINGS), cell("code", RUN)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for index, c in enumerate(notebook["cells"]):
        c["id"] = f"arc-pipeline-{index}"
    with open(sys.argv[1], "w") as f:
        json.dump(notebook, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
