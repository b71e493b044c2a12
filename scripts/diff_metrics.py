#!/usr/bin/env python3
"""Compares two metrics.json files key by key, ignoring timings (keys naming seconds,
rates or the device), and prints every number that differs: the before/after check of a
change that must not move a study's results. Usage: diff_metrics.py BEFORE AFTER"""
import json
import sys

TIMING = ("seconds", "per_second", "timing", "device")


def flatten(value, prefix=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def main(before_path, after_path):
    before = dict(flatten(json.load(open(before_path))))
    after = dict(flatten(json.load(open(after_path))))
    same = differ = 0
    for key in sorted(set(before) | set(after)):
        if any(t in key for t in TIMING):
            continue
        a, b = before.get(key, "<absent>"), after.get(key, "<absent>")
        if a == b:
            same += 1
        else:
            differ += 1
            print(f"{key}: {a} -> {b}")
    print(f"{same} values equal, {differ} differ (timings ignored)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
