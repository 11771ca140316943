"""Interoperability check of a peiling run's outputs with pyarrow, polars and DuckDB.

Usage: check_outputs.py OUTPUT_DIR [--spec PIPELINE_TOML]

Opens every *.parquet under OUTPUT_DIR (private/ included) with pyarrow, polars and DuckDB
and checks that they agree; checks the contract of estimates.parquet and changes.parquet,
recomputes totals from the private microdata, opens tabellenboek.xlsx, and checks that no
public file holds a respondent id. Prints one line per file checked; stops with a message and
exit status 1 at the first failure.

The spec (for [disclosure] min_n and the indicators' SQL) is --spec, or else the spec path
recorded in the manifest, relative to the working directory or to the repository root.

"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from pathlib import Path

if sys.version_info < (3, 11):
    sys.exit("check_outputs.py needs Python 3.11 or later (tomllib)")

import tomllib  # noqa: E402

import duckdb  # noqa: E402
import openpyxl  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MIN_N = 30
ESTIMATE_REL_TOL = 1e-9
DIFFERENCE_ABS_TOL = 1e-12
# Estimates copied into changes.parquet: the same number, allowing for a different summation order.
COPY_REL_TOL = 1e-12
# Public text outputs whose whole text is searched for respondent ids.
TEXT_SUFFIXES = {".json", ".html", ".svg", ".csv", ".txt", ".md"}


def is_arrow_string(t: pa.DataType) -> bool:
    """Arrow types that count as a string column: plain UTF-8 (`string` or `large_string`).
    Not `string_view`, polars' own layout: pyarrow's compute kernels (filter, equal, the
    `filters=` of read_table) do not take it, so peiling writes a plain-string schema hint."""
    return pa.types.is_string(t) or pa.types.is_large_string(t)


STRING = ("string", is_arrow_string)
INT32 = ("int32", pa.types.is_int32)
INT64 = ("int64", pa.types.is_int64)
FLOAT64 = ("float64", pa.types.is_float64)
BOOL = ("bool", pa.types.is_boolean)

ESTIMATES_COLUMNS = {
    "pipeline": STRING,
    "wave": INT32,
    "indicator": STRING,
    "kind": STRING,
    "standardized_by": STRING,
    "segmentation": STRING,
    "segment": STRING,
    "segment_label": STRING,
    "estimate": FLOAT64,
    "std_error": FLOAT64,
    "ci_lower": FLOAT64,
    "ci_upper": FLOAT64,
    "ci_method": STRING,
    "df": FLOAT64,
    "n": INT64,
    "n_weighted": FLOAT64,
    "deff": FLOAT64,
    "rse": FLOAT64,
    "suppressed": BOOL,
    "flag": STRING,
}
ESTIMATES_NULL_WHEN_SUPPRESSED = ["estimate", "std_error", "ci_lower", "ci_upper", "n", "n_weighted"]

CHANGES_COLUMNS = {
    "pipeline": STRING,
    "indicator": STRING,
    "kind": STRING,
    "segmentation": STRING,
    "segment": STRING,
    "segment_label": STRING,
    "wave": INT32,
    "base_wave": INT32,
    "estimate": FLOAT64,
    "base_estimate": FLOAT64,
    "difference": FLOAT64,
    "std_error": FLOAT64,
    "df": FLOAT64,
    "ci_lower": FLOAT64,
    "ci_upper": FLOAT64,
    "p_value": FLOAT64,
    "significant": BOOL,
    "suppressed": BOOL,
    "flag": STRING,
}
CHANGES_NULL_WHEN_SUPPRESSED = ["difference", "std_error", "ci_lower", "ci_upper", "p_value"]


class CheckFailed(Exception):
    pass


def is_reader_error(e: BaseException) -> bool:
    """An error of a reader: any exception, or a Rust panic from polars (a BaseException)."""
    return not isinstance(e, (KeyboardInterrupt, SystemExit, CheckFailed))


def fail(message: str) -> None:
    raise CheckFailed(message)


def ok(name: str, message: str) -> None:
    print(f"ok    {name}: {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Reading


class Parquet:
    """One Parquet file as pyarrow, polars and DuckDB see it."""

    def __init__(self, path: Path, name: str, con: duckdb.DuckDBPyConnection):
        self.path = path
        self.name = name
        self.con = con
        try:
            self.table = pq.read_table(path)
        except BaseException as e:
            if not is_reader_error(e):
                raise
            fail(f"{name}: pyarrow.parquet.read_table cannot read it: {e}")
        try:
            self.frame = pl.read_parquet(path)
        except BaseException as e:
            if not is_reader_error(e):
                raise
            fail(f"{name}: polars.read_parquet cannot read it: {e}")
        try:
            relation = con.sql("SELECT * FROM read_parquet(?)", params=[str(path)])
            self.duck_columns = list(relation.columns)
            self.duck_types = [str(t) for t in relation.types]
            self.duck_rows = len(relation.fetchall())
        except BaseException as e:
            if not is_reader_error(e):
                raise
            fail(f"{name}: DuckDB read_parquet cannot read it: {e}")
        # The Parquet footer's key-value metadata. (pyarrow's table.schema.metadata does not
        # show it when the file embeds an ARROW:schema without those keys, as polars' does.)
        try:
            self.kv = {
                k.decode("utf-8"): v for k, v in (pq.read_metadata(path).metadata or {}).items()
            }
        except BaseException as e:
            if not is_reader_error(e):
                raise
            fail(f"{name}: cannot read the Parquet key-value metadata: {e}")

    def column(self, name: str) -> list:
        return self.table.column(name).to_pylist()

    def rows(self, names: list[str]) -> list[dict]:
        return self.table.select(names).to_pylist()


def check_readers_agree(f: Parquet) -> None:
    counts = {"pyarrow": f.table.num_rows, "polars": f.frame.height, "duckdb": f.duck_rows}
    if len(set(counts.values())) != 1:
        fail(f"{f.name}: the readers disagree on the row count: {counts}")
    names = {
        "pyarrow": f.table.column_names,
        "polars": list(f.frame.columns),
        "duckdb": f.duck_columns,
    }
    if not (names["pyarrow"] == names["polars"] == names["duckdb"]):
        fail(f"{f.name}: the readers disagree on the column names: {names}")


def string_columns(f: Parquet) -> list[str]:
    """Columns that any reader, or the Parquet logical type, takes for strings."""
    parquet_schema = pq.read_metadata(f.path).schema
    logical = {}
    for i in range(len(parquet_schema)):
        column = parquet_schema.column(i)
        logical[column.path] = str(column.logical_type)
    polars_types = dict(f.frame.schema.items())
    found = []
    for position, field in enumerate(f.table.schema):
        t = field.type
        by_arrow = (
            is_arrow_string(t)
            or pa.types.is_dictionary(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or pa.types.is_binary_view(t)
        )
        by_parquet = logical.get(field.name, "").lower().startswith("string")
        by_polars = polars_types.get(field.name) in (pl.String, pl.Categorical, pl.Enum)
        by_duckdb = f.duck_types[position] == "VARCHAR"
        if by_arrow or by_parquet or by_polars or by_duckdb:
            found.append(field.name)
    return found


def check_strings(f: Parquet) -> list[str]:
    """Every string column is an Arrow string type in pyarrow and gives Python str values."""
    names = string_columns(f)
    for name in names:
        t = f.table.schema.field(name).type
        if pa.types.is_dictionary(t):
            fail(f"{f.name}: column {name!r} is dictionary-encoded in pyarrow ({t}), not a plain string type")
        if not is_arrow_string(t):
            fail(f"{f.name}: column {name!r} is {t} in pyarrow, not a string type")
        for i, value in enumerate(f.column(name)):
            if value is not None and type(value) is not str:
                fail(f"{f.name}: column {name!r} row {i}: pyarrow gives {type(value).__name__} {value!r}, not str")
    return names


def check_json_metadata(f: Parquet, key: str) -> object:
    if key not in f.kv:
        fail(f"{f.name}: no key-value metadata {key!r} (keys: {sorted(f.kv)})")
    try:
        return json.loads(f.kv[key].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"{f.name}: key-value metadata {key!r} is not JSON: {e}")


def check_types(f: Parquet, expected: dict) -> None:
    schema = f.table.schema
    for name, (label, predicate) in expected.items():
        if name not in schema.names:
            fail(f"{f.name}: column {name!r} is missing (columns: {schema.names})")
        t = schema.field(name).type
        if not predicate(t):
            fail(f"{f.name}: column {name!r} is {t} in pyarrow, expected {label}")


def check_suppression(f: Parquet, null_when_suppressed: list[str]) -> tuple[list[dict], int]:
    """The rows; suppressed is never null and the listed columns are null where it is true."""
    rows = f.table.to_pylist()
    suppressed = 0
    for i, row in enumerate(rows):
        if row["suppressed"] is None:
            fail(f"{f.name}: row {i}: suppressed is null")
        if row["suppressed"]:
            suppressed += 1
            for name in null_when_suppressed:
                if row[name] is not None:
                    fail(f"{f.name}: row {i} ({describe(row)}) is suppressed but {name} = {row[name]!r}")
    return rows, suppressed


def describe(row: dict) -> str:
    keys = ["indicator", "segmentation", "segment", "wave", "base_wave"]
    return ", ".join(f"{k}={row[k]!r}" for k in keys if k in row)


def close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


# ---------------------------------------------------------------------------------------------
# Respondent ids


class IdMatcher:
    """Finds any of a set of ids as a substring: candidate positions from one regex of the
    ids' distinct prefixes, then a set lookup of each id length at those positions."""

    def __init__(self, ids: set[str]):
        ids = {i for i in ids if i}
        if not ids:
            fail("no respondent ids to look for")
        self.ids = ids
        self.lengths = sorted({len(i) for i in ids})
        width = min(4, self.lengths[0])
        prefixes = sorted({i[:width] for i in ids})
        self.prefix = re.compile("(?=(?:" + "|".join(map(re.escape, prefixes)) + "))")

    def find(self, text: str) -> str | None:
        for m in self.prefix.finditer(text):
            start = m.start()
            for length in self.lengths:
                candidate = text[start : start + length]
                if len(candidate) < length:
                    break
                if candidate in self.ids:
                    return candidate
        return None


def check_no_ids_parquet(f: Parquet, ids: IdMatcher) -> int:
    values = 0
    for name in f.table.column_names:
        if (found := ids.find(name)) is not None:
            fail(f"{f.name}: column name {name!r} contains respondent id {found!r}")
    for name in string_columns(f):
        for value in set(f.column(name)):
            if value is None:
                continue
            values += 1
            if (found := ids.find(value)) is not None:
                fail(f"{f.name}: column {name!r} holds respondent id {found!r} (in {value[:120]!r})")
    return values


# ---------------------------------------------------------------------------------------------
# Spec


def load_spec(spec_arg: str | None, manifest: dict) -> tuple[Path, dict]:
    if spec_arg:
        path = Path(spec_arg)
        if not path.is_file():
            fail(f"--spec {spec_arg}: no such file")
    else:
        recorded = (manifest.get("spec") or {}).get("path")
        if not recorded:
            fail("the manifest records no spec path; pass --spec PIPELINE_TOML")
        candidates = [Path(recorded), REPO_ROOT / recorded]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            fail(f"the manifest's spec {recorded!r} is not found (tried {[str(c) for c in candidates]}); pass --spec")
    data = path.read_bytes()
    recorded_sha = (manifest.get("spec") or {}).get("sha256")
    if recorded_sha and hashlib.sha256(data).hexdigest() != recorded_sha:
        fail(f"spec {path} does not match the sha256 in the manifest: the outputs come from another spec")
    try:
        return path, tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        fail(f"spec {path}: {e}")


def id_column(spec_path: Path, spec: dict, respondents: Parquet) -> str:
    """The respondent id: the schema's single primary key column, else resp_id."""
    name = "resp_id"
    inputs = spec.get("input") or []
    if inputs and inputs[0].get("schema"):
        schema_path = spec_path.parent / inputs[0]["schema"]
        if schema_path.is_file():
            key = tomllib.loads(schema_path.read_text("utf-8")).get("primary_key") or []
            if len(key) == 1:
                name = key[0]
    if name not in respondents.table.column_names:
        fail(f"{respondents.name}: no respondent id column {name!r}")
    if not is_arrow_string(respondents.table.schema.field(name).type):
        fail(f"{respondents.name}: id column {name!r} is not a string column")
    return name


# ---------------------------------------------------------------------------------------------
# estimates.parquet


def sql_literal(code: str, numeric: bool) -> str:
    if numeric and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", code):
        return code
    return "'" + code.replace("'", "''") + "'"


def analysis_select(respondents: Parquet, labels: dict) -> str:
    """The microdata as the pipeline analyses it: user-missing codes (peiling:labels) null."""
    items = []
    for name in respondents.table.column_names:
        quoted = '"' + name.replace('"', '""') + '"'
        missing = (labels.get(name) or {}).get("missing") or {}
        if missing:
            numeric = (labels[name].get("type") or "") != "string"
            codes = ", ".join(sql_literal(str(c), numeric) for c in missing)
            items.append(f"CASE WHEN {quoted} IN ({codes}) THEN NULL ELSE {quoted} END AS {quoted}")
        else:
            items.append(quoted)
    return "SELECT " + ", ".join(items) + " FROM read_parquet(?)"


def check_label_columns(respondents: Parquet, labels: dict) -> str:
    """Every `<column>_label` holds the label peiling:labels gives that row's code."""
    checked = 0
    for name, field in labels.items():
        label_name = f"{name}_label"
        codes = {**(field.get("categories") or {}), **(field.get("missing") or {}), **(field.get("labels") or {})}
        if not codes:
            continue
        if label_name not in respondents.table.column_names:
            fail(f"{respondents.name}: labelled column {name} has no {label_name}")
        for code, label in zip(respondents.column(name), respondents.column(label_name)):
            # Codes as peiling writes them: 999.0 is "999", as Rust displays a float.
            if isinstance(code, float) and code.is_integer():
                code_text = str(int(code))
            else:
                code_text = None if code is None else str(code)
            key = code_text
            want = codes.get(key) if key is not None else None
            if label != want:
                fail(f"{respondents.name}: {name} = {code!r} has {label_name} {label!r}, peiling:labels says {want!r}")
        checked += 1
    if checked == 0:
        fail(f"{respondents.name}: no label columns")
    return f"{checked} label columns agree with peiling:labels"


def recompute_totals(est: Parquet, rows: list[dict], respondents: Parquet, labels: dict, spec: dict) -> int:
    """Unweighted n and weighted estimate of the total rows of the proportion (and mean)
    indicators, from the microdata with DuckDB; and the same value from all three readers."""
    columns = respondents.table.column_names
    # The weights the estimates use: calibrated with [weighting], else the design weights.
    weight = "calibrated_weight" if "weighting" in spec else "design_weight"
    if weight not in columns:
        fail(f"{respondents.name}: no weight column {weight!r}")
    if "wave" not in columns:
        fail(f"{respondents.name}: no wave column")
    indicators = {i["id"]: i for i in spec.get("indicator") or []}
    totals = [
        r
        for r in rows
        if r["segmentation"] == "total"
        and not r["suppressed"]
        and indicators.get(r["indicator"], {}).get("kind") in ("proportion", "mean")
    ]
    waves = sorted({r["wave"] for r in rows})
    for wave in waves:
        if not any(r["wave"] == wave and r["kind"] == "proportion" for r in totals):
            fail(f"{est.name}: wave {wave} has no unsuppressed total row of a proportion indicator to recompute")

    source = analysis_select(respondents, labels)
    for r in totals:
        indicator = indicators[r["indicator"]]
        population = indicator.get("population") or "TRUE"
        query = f"""
            WITH analysis AS ({source}),
            domain AS (
                SELECT "{weight}" AS w, CAST(({indicator['value']}) AS DOUBLE) AS v
                FROM analysis
                WHERE wave = ? AND coalesce(({population}), false)
            )
            SELECT count(*), sum(w * v) / sum(w) FROM domain WHERE v IS NOT NULL"""
        try:
            n, estimate = est.con.sql(query, params=[str(respondents.path), r["wave"]]).fetchall()[0]
        except Exception as e:  # noqa: BLE001
            fail(f"recomputing {r['indicator']} {r['wave']} with DuckDB failed: {e}")
        if n != r["n"]:
            fail(f"{est.name}: {describe(r)}: n = {r['n']}, but the microdata give {n}")
        if estimate is None or not close(estimate, r["estimate"], ESTIMATE_REL_TOL):
            fail(f"{est.name}: {describe(r)}: estimate = {r['estimate']!r}, but the microdata give {estimate!r}")

        # The same row through each reader.
        key = (r["indicator"], r["wave"])
        arrow_values = [
            (x["estimate"], x["n"])
            for x in rows
            if (x["indicator"], x["wave"]) == key and x["segmentation"] == "total"
        ]
        polars_values = (
            est.frame.filter(
                (pl.col("indicator") == r["indicator"])
                & (pl.col("wave") == r["wave"])
                & (pl.col("segmentation") == "total")
            )
            .select("estimate", "n")
            .rows()
        )
        duck_values = est.con.sql(
            "SELECT estimate, n FROM read_parquet(?) WHERE indicator = ? AND wave = ? AND segmentation = 'total'",
            params=[str(est.path), r["indicator"], r["wave"]],
        ).fetchall()
        seen = {"pyarrow": arrow_values, "polars": list(polars_values), "duckdb": list(duck_values)}
        if any(len(v) != 1 for v in seen.values()) or not (
            seen["pyarrow"][0] == tuple(seen["polars"][0]) == tuple(seen["duckdb"][0])
        ):
            fail(f"{est.name}: {describe(r)}: the readers disagree on (estimate, n) of the total row: {seen}")
    return len(totals)


def check_estimates(est: Parquet, respondents: Parquet, labels: dict, spec: dict) -> tuple[list[dict], str]:
    check_types(est, ESTIMATES_COLUMNS)
    rows, suppressed = check_suppression(est, ESTIMATES_NULL_WHEN_SUPPRESSED)
    min_n = (spec.get("disclosure") or {}).get("min_n", DEFAULT_MIN_N)
    empty = 0
    for i, row in enumerate(rows):
        if row["suppressed"]:
            continue
        # An empty domain is published as such: n = 0, no estimate, flag empty_domain alone.
        if row["n"] == 0:
            if row["estimate"] is not None or row["flag"] != "empty_domain":
                fail(f"{est.name}: row {i} ({describe(row)}) has n = 0 but an estimate or another flag")
            empty += 1
            continue
        if row["estimate"] is None or row["n"] is None:
            fail(f"{est.name}: row {i} ({describe(row)}) is not suppressed but has no estimate or n")
        if row["n"] < min_n:
            fail(f"{est.name}: row {i} ({describe(row)}) is not suppressed but n = {row['n']} < min_n {min_n}")
    recomputed = recompute_totals(est, rows, respondents, labels, spec)
    return rows, (
        f"{suppressed} suppressed, {empty} empty domains, unsuppressed n >= {min_n}, "
        f"{recomputed} totals recomputed"
    )


# ---------------------------------------------------------------------------------------------
# changes.parquet


def check_changes(ch: Parquet, estimate_rows: list[dict]) -> str:
    check_types(ch, CHANGES_COLUMNS)
    rows, suppressed = check_suppression(ch, CHANGES_NULL_WHEN_SUPPRESSED)
    published = {
        (r["indicator"], r["segmentation"], r["segment"], r["wave"]): r["estimate"]
        for r in estimate_rows
        if not r["suppressed"]
    }
    for i, row in enumerate(rows):
        if row["suppressed"]:
            continue
        where = f"row {i} ({describe(row)})"
        if row["flag"] == "no_estimate":
            # An empty domain (or one without an estimate) on either side: nothing to compare.
            if row["difference"] is not None:
                fail(f"{ch.name}: {where} has no estimate but a difference")
            continue
        for name in ["estimate", "base_estimate", "difference", "ci_lower", "ci_upper"]:
            if row[name] is None:
                fail(f"{ch.name}: {where} is not suppressed but {name} is null")
        expected = row["estimate"] - row["base_estimate"]
        if abs(row["difference"] - expected) > DIFFERENCE_ABS_TOL:
            fail(f"{ch.name}: {where}: difference {row['difference']!r} != estimate - base_estimate = {expected!r}")
        if not row["ci_lower"] <= row["difference"] <= row["ci_upper"]:
            fail(f"{ch.name}: {where}: difference {row['difference']!r} outside [{row['ci_lower']!r}, {row['ci_upper']!r}]")
        if row["p_value"] is not None and not 0.0 <= row["p_value"] <= 1.0:
            fail(f"{ch.name}: {where}: p_value {row['p_value']!r} outside [0, 1]")
        for column, wave_column in [("estimate", "wave"), ("base_estimate", "base_wave")]:
            key = (row["indicator"], row["segmentation"], row["segment"], row[wave_column])
            if key not in published:
                fail(f"{ch.name}: {where}: estimates.parquet has no unsuppressed row for {wave_column} {row[wave_column]}")
            if not close(row[column], published[key], COPY_REL_TOL):
                fail(
                    f"{ch.name}: {where}: {column} = {row[column]!r}, but estimates.parquet has "
                    f"{published[key]!r} for {wave_column} {row[wave_column]}"
                )
    return f"{suppressed} suppressed, differences, intervals and estimates consistent with estimates.parquet"


# ---------------------------------------------------------------------------------------------
# Other public files


def check_xlsx(path: Path, name: str, ids: IdMatcher) -> str:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001
        fail(f"{name}: openpyxl cannot open it: {e}")
    try:
        if not workbook.sheetnames:
            fail(f"{name}: no sheets")
        cells = 0
        for sheet in workbook.worksheets:
            if (found := ids.find(sheet.title)) is not None:
                fail(f"{name}: sheet name {sheet.title!r} contains respondent id {found!r}")
            for r, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                for c, value in enumerate(values, start=1):
                    if value is None:
                        continue
                    cells += 1
                    if (found := ids.find(str(value))) is not None:
                        fail(f"{name}: sheet {sheet.title!r} row {r} column {c} holds respondent id {found!r}")
        return f"{len(workbook.sheetnames)} sheets, {cells} cells, no respondent ids"
    finally:
        workbook.close()


def check_text(path: Path, name: str, ids: IdMatcher) -> str:
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as e:
        fail(f"{name}: not UTF-8: {e}")
    if (found := ids.find(text)) is not None:
        at = text.find(found)
        fail(f"{name}: contains respondent id {found!r} (at character {at}: {text[max(0, at - 40) : at + 60]!r})")
    return f"{len(text)} characters, no respondent ids"


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--spec", help="pipeline toml (default: the spec recorded in the manifest)")
    args = parser.parse_args()
    out: Path = args.output_dir
    if not out.is_dir():
        fail(f"{out}: not a directory")

    def rel(p: Path) -> str:
        return p.relative_to(out).as_posix()

    def is_private(p: Path) -> bool:
        return rel(p).split("/")[0] == "private"

    for required in [
        "estimates.parquet",
        "changes.parquet",
        "tabellenboek.xlsx",
        "private/respondents.parquet",
    ]:
        if not (out / required).is_file():
            fail(f"{out / required}: missing")

    con = duckdb.connect()
    files = sorted(p for p in out.rglob("*") if p.is_file())
    parquets = [p for p in files if p.suffix == ".parquet"]

    # The private microdata first: the respondent ids, labels and the spec.
    respondents = Parquet(out / "private/respondents.parquet", "private/respondents.parquet", con)
    labels = check_json_metadata(respondents, "peiling:labels")
    estimates = Parquet(out / "estimates.parquet", "estimates.parquet", con)
    manifest = check_json_metadata(estimates, "peiling:manifest")
    if not isinstance(manifest, dict):
        fail("estimates.parquet: peiling:manifest is not a JSON object")
    spec_path, spec = load_spec(args.spec, manifest)
    ids_column = id_column(spec_path, spec, respondents)
    ids = IdMatcher({i for i in respondents.column(ids_column) if i is not None})
    sample = next(iter(ids.ids))
    if ids.find(f"x{sample}y") != sample:
        fail("the respondent id matcher does not find an id it was given")
    print(f"spec {spec_path}; {len(ids.ids)} respondent ids from {respondents.name}:{ids_column}", flush=True)

    estimate_rows: list[dict] | None = None
    opened = {respondents.name: respondents, estimates.name: estimates}
    # estimates.parquet before changes.parquet, which is compared with it.
    parquets.sort(key=lambda p: (rel(p) != "estimates.parquet", rel(p)))
    for path in parquets:
        name = rel(path)
        f = opened.get(name) or Parquet(path, name, con)
        check_readers_agree(f)
        strings = check_strings(f)
        kinds = sorted({str(f.table.schema.field(s).type) for s in strings})
        notes = [
            f"{f.table.num_rows} rows, {f.table.num_columns} columns, pyarrow/polars/duckdb agree",
            f"{len(strings)} string columns ({', '.join(kinds) or '-'})",
        ]
        if name == "private/respondents.parquet":
            notes.append(f"peiling:labels JSON ({len(labels)} columns)")
            notes.append(check_label_columns(f, labels))
        if name == "estimates.parquet":
            notes.append("peiling:manifest JSON")
            estimate_rows, summary = check_estimates(f, respondents, labels, spec)
            notes.append(summary)
        if name in ("estimates.parquet", "changes.parquet"):
            if check_json_metadata(f, "peiling:labels") != labels:
                fail(f"{name}: peiling:labels differs from the microdata's")
            notes.append("peiling:labels as in the microdata")
        if name == "changes.parquet":
            assert estimate_rows is not None
            notes.append(check_changes(f, estimate_rows))
        if not is_private(path):
            values = check_no_ids_parquet(f, ids)
            notes.append(f"no respondent ids in {values} distinct string values")
        ok(name, "; ".join(notes))

    skipped = []
    for path in files:
        name = rel(path)
        if is_private(path) or path.suffix == ".parquet":
            continue
        if path.suffix == ".xlsx":
            ok(name, check_xlsx(path, name, ids))
        elif path.suffix in TEXT_SUFFIXES:
            ok(name, check_text(path, name, ids))
        else:
            skipped.append(name)
    if skipped:
        suffixes = sorted({Path(s).suffix or s for s in skipped})
        print(f"not searched: {len(skipped)} files ({', '.join(suffixes)})", flush=True)
    print(f"PASS  {out}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"FAIL  {e}", file=sys.stderr, flush=True)
        sys.exit(1)
