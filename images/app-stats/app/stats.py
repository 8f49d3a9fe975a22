#!/usr/bin/python3
"""stats.py - the app-stats example image (images/Makefile, doc/images.md).

    labrun app-stats.sqfs                    statistics of /app/data/jobs.csv
    labrun --bind $PWD:/data app-stats.sqfs /data/other.csv

Reads a CSV file with a header line: the first column names each row, the
columns whose every value is a number are measurements, the other columns
are categories.  Prints one JSON object: per measurement its mean, standard
deviation, minimum, median, 90th percentile and maximum; per category value
the row count and the means; the correlation matrix; and a least-squares
fit of the last measurement on the others (coefficients and R^2).

/app/data/jobs.csv is made up: 36 batch jobs of a small cluster (partition,
nodes, cores, run time, peak memory, energy), for the example only.
"""
import csv
import json
import sys

import numpy as np


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def rounded(x):
    return round(float(x), 3)


def main(argv):
    path = argv[1] if len(argv) > 1 else "/app/data/jobs.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        print(f"stats.py: {path}: {e.strerror}", file=sys.stderr)
        return 1
    if len(rows) < 3:
        print(f"stats.py: {path}: a header and at least two rows needed", file=sys.stderr)
        return 1
    header, body = rows[0], rows[1:]
    if any(len(r) != len(header) for r in body):
        print(f"stats.py: {path}: every row must have {len(header)} fields", file=sys.stderr)
        return 1

    columns = list(zip(*body))
    numeric = [i for i in range(1, len(header)) if all(is_number(v) for v in columns[i])]
    category = [i for i in range(1, len(header)) if i not in numeric]
    if not numeric:
        print(f"stats.py: {path}: no numeric column", file=sys.stderr)
        return 1
    names = [header[i] for i in numeric]
    data = np.array([[float(columns[i][r]) for i in numeric] for r in range(len(body))])

    out = {"file": path, "rows": len(body), "measurements": {}}
    for j, name in enumerate(names):
        x = data[:, j]
        out["measurements"][name] = {
            "mean": rounded(x.mean()),
            "std": rounded(x.std(ddof=1)),
            "min": rounded(x.min()),
            "median": rounded(np.median(x)),
            "p90": rounded(np.percentile(x, 90)),
            "max": rounded(x.max()),
        }

    out["by"] = {}
    for i in category:
        keys = np.array(columns[i])
        groups = {}
        for key in sorted(set(keys)):
            sel = data[keys == key]
            groups[key] = {
                "rows": int(len(sel)),
                "mean": {n: rounded(v) for n, v in zip(names, sel.mean(axis=0))},
            }
        out["by"][header[i]] = groups

    if len(names) > 1:
        corr = np.corrcoef(data, rowvar=False)
        out["correlation"] = {
            a: {b: rounded(corr[j, k]) for k, b in enumerate(names)} for j, a in enumerate(names)
        }
        # target ~ intercept + sum(coefficient * other), by least squares.
        y = data[:, -1]
        x = np.column_stack([np.ones(len(y)), data[:, :-1]])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = y - x @ coef
        r2 = 1.0 - (residual @ residual) / ((y - y.mean()) @ (y - y.mean()))
        out["fit"] = {
            "target": names[-1],
            "intercept": rounded(coef[0]),
            "coefficients": {n: rounded(c) for n, c in zip(names[:-1], coef[1:])},
            "r2": rounded(r2),
        }

    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
