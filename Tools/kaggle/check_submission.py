#!/usr/bin/env python3
"""Checks a Kaggle ARC Prize submission.json against the challenges file it answers.

Valid means: a JSON object with exactly the challenge task ids; per task a list with one entry per
test input; each entry an object with attempt_1 and attempt_2, each a grid (1..30 rows of 1..30
integer cells 0..9, all rows the same length). Prints one line and exits 0 when valid, else prints
the first problem and exits 1.

Usage: check_submission.py SUBMISSION.json CHALLENGES.json
"""
import json
import sys


def grid_problem(value):
    if not isinstance(value, list) or not 1 <= len(value) <= 30:
        return "not a list of 1..30 rows"
    width = len(value[0]) if isinstance(value[0], list) else -1
    for index, row in enumerate(value):
        if not isinstance(row, list) or not 1 <= len(row) <= 30 or len(row) != width:
            return f"row {index} is not a list of {width} cells (1..30)"
        if not all(type(c) is int and 0 <= c <= 9 for c in row):
            return f"row {index} has a cell that is not an integer 0..9"
    return None


def problems(submission, challenges):
    if not isinstance(submission, dict):
        yield "the submission is not a JSON object"
        return
    missing = sorted(set(challenges) - set(submission))
    extra = sorted(set(submission) - set(challenges))
    if missing:
        yield f"{len(missing)} tasks missing, e.g. {missing[0]}"
    if extra:
        yield f"{len(extra)} tasks not in the challenges, e.g. {extra[0]}"
    for task_id, task in challenges.items():
        entries = submission.get(task_id)
        if entries is None:
            continue
        if not isinstance(entries, list) or len(entries) != len(task["test"]):
            yield f"task {task_id}: needs a list of {len(task['test'])} entries"
            continue
        for index, entry in enumerate(entries):
            for key in ("attempt_1", "attempt_2"):
                problem = grid_problem(entry.get(key)) if isinstance(entry, dict) else "entry is not an object"
                if problem:
                    yield f"task {task_id}: test {index}: {key}: {problem}"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check_submission.py SUBMISSION.json CHALLENGES.json")
    with open(sys.argv[1]) as f:
        submission = json.load(f)
    with open(sys.argv[2]) as f:
        challenges = json.load(f)
    for problem in problems(submission, challenges):
        print(f"INVALID {sys.argv[1]}: {problem}")
        sys.exit(1)
    inputs = sum(len(t["test"]) for t in challenges.values())
    print(f"valid {sys.argv[1]}: {len(challenges)} tasks, {inputs} test inputs")


if __name__ == "__main__":
    main()
