"""Convert the three sample waves to SPSS files, written by a public tool (pyreadstat).

Writes, next to this script:
  dementiemonitor-2020.sav, dementiemonitor-2022.sav  (bytecode/row compressed .sav)
  dementiemonitor-2024.zsav                           (zlib compressed .zsav)
then reads every file back and checks it cell by cell against the CSV.

Columns whose non-empty cells all parse as numbers (after decimal comma -> point) become
numeric (float64, empty = system-missing); all others stay strings with the exact CSV text.
Variable labels, value labels (`categories` + `missing`) and user-missing codes (`missing`)
come from schemas/dementiemonitor.schema.toml. The deliberate defects of the sample data
(e.g. mz_leeftijd 54,5) are kept as they are.

Written with pyreadstat 1.3.7, pandas 3.1.1, Python 3.11.
Run from the repository root:
  python3 -m venv /tmp/savenv && /tmp/savenv/bin/pip install pyreadstat pandas
  /tmp/savenv/bin/python sample-data/sav/make_sav.py
"""
import math
import os
import re
import sys
import tomllib

import numpy as np
import pandas as pd
import pyreadstat

OUT = "sample-data/sav"
WAVES = {2020: "sav", 2022: "sav", 2024: "zsav"}
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")  # no nan/inf

with open("schemas/dementiemonitor.schema.toml", "rb") as f:
    FIELDS = {fld["name"]: fld for fld in tomllib.load(f)["field"]}


def is_numeric(cells):
    return all(NUMBER.match(c.replace(",", ".")) for c in cells if c != "")


def to_float(cell):
    return np.nan if cell == "" else float(cell.replace(",", "."))


def missing_spec(name, codes):
    codes = sorted(codes)
    if len(codes) <= 3:
        return codes
    if all(c == int(c) for c in codes) and codes == list(np.arange(codes[0], codes[-1] + 1)):
        return [{"lo": codes[0], "hi": codes[-1]}]
    print(f"WARNING: {name}: {len(codes)} non-contiguous missing codes, keeping {codes[:3]}")
    return codes[:3]


def convert(csv_path, out_path):
    raw = pd.read_csv(csv_path, sep=";", dtype=str, keep_default_na=False)
    df = pd.DataFrame(index=raw.index)
    labels, value_labels, missing, formats = {}, {}, {}, {}
    for col in raw.columns:
        cells = raw[col].tolist()
        fld = FIELDS.get(col, {})
        if "label" in fld:
            labels[col] = fld["label"]
        if not is_numeric(cells):
            df[col] = pd.Series(cells, dtype=object)
            continue
        df[col] = np.array([to_float(c) for c in cells], dtype="float64")
        # display format only (storage is always a double): enough decimals for every cell
        decimals = max((len(c.replace(",", ".").partition(".")[2]) for c in cells), default=0)
        formats[col] = f"F{max(8, decimals + 6)}.{decimals}"
        vl = {float(k): v for k, v in {**fld.get("categories", {}), **fld.get("missing", {})}.items()}
        if vl:
            value_labels[col] = vl
        if fld.get("missing"):
            missing[col] = missing_spec(col, [float(k) for k in fld["missing"]])
    kind = {"compress": True} if out_path.endswith(".zsav") else {"row_compress": True}
    pyreadstat.write_sav(df, out_path, column_labels=labels, variable_value_labels=value_labels,
                         missing_ranges=missing, variable_format=formats, **kind)
    return raw


def check(raw, path):
    back, meta = pyreadstat.read_sav(path, user_missing=True)
    problems = []
    if len(back) != len(raw):
        problems.append(f"rows {len(back)} != {len(raw)}")
    if list(back.columns) != list(raw.columns):
        problems.append(f"columns differ: {list(back.columns)}")
    for col in raw.columns.intersection(back.columns):
        text, got = raw[col].tolist(), back[col].tolist()
        if meta.readstat_variable_types[col] == "double":
            bad = [(t, g) for t, g in zip(text, got)
                   if not (t == "" and math.isnan(g)) and (t == "" or to_float(t) != g)]
        else:
            bad = [(t, g) for t, g in zip(text, got) if t != g]
            stripped = [(t, g) for t, g in bad if t.rstrip() == g]
            if stripped:
                print(f"  note: {col}: {len(stripped)} cells lost trailing spaces")
            bad = [b for b in bad if b not in stripped]
        if bad:
            problems.append(f"{col}: {len(bad)} cells differ, e.g. {bad[:3]}")
    return problems


failed = False
for year, ext in WAVES.items():
    out = os.path.join(OUT, f"dementiemonitor-{year}.{ext}")
    raw = convert(f"sample-data/dementiemonitor-{year}.csv", out)
    print(f"{out}: {os.path.getsize(out)} bytes, {len(raw)} rows x {raw.shape[1]} columns")
    problems = check(raw, out)
    for p in problems:
        print("  MISMATCH", p)
    print("  read-back OK" if not problems else "  read-back FAILED")
    failed |= bool(problems)
sys.exit(1 if failed else 0)
