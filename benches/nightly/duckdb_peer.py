"""The nightly benchmark's peer (issue 20): DuckDB loads the generated Gezondheidsmonitor-like
wave and computes the weighted share of carers per municipality, the point estimates of the
workload `peiling run` is timed on beside it (one proportion x 342 municipalities). Prints the
fastest wall time of RUNS, in seconds; every run starts from a fresh in-memory database.

    python benches/nightly/duckdb_peer.py FILE.csv RUNS
"""

import sys
import time

import duckdb

LOAD = "CREATE TABLE wave AS SELECT * FROM read_csv(?, delim = ';', decimal_separator = ',', header = true)"
QUERY = """
    SELECT gemeente, sum(gewicht * CAST(mantelzorger = 1 AS DOUBLE)) / sum(gewicht) AS share
    FROM wave
    GROUP BY gemeente
"""


def main() -> None:
    path, runs = sys.argv[1], int(sys.argv[2])
    fastest = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        con = duckdb.connect()
        con.execute(LOAD, [path])
        shares = con.execute(QUERY).fetchall()
        fastest = min(fastest, time.perf_counter() - start)
        con.close()
        if len(shares) < 300:
            sys.exit(f"{path}: {len(shares)} municipalities, expected 342")
    print(fastest)


if __name__ == "__main__":
    main()
