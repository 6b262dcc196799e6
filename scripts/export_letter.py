"""Write the UCI Letter Recognition table (26 classes, 20,000 rows, 16 integer features) as CSV
files the ``data=csv`` reader takes, from the Debian package ``r-cran-mlbench`` (no download
beyond the package registry; no R needed: the package's ``.rda`` file is read by ``rdata``).

    pip install rdata
    python scripts/export_letter.py --out data/letter   # train.csv (16,000) and test.csv (4,000)
    python -m autobalance.train +experiment=letter_lt         # from the folder holding data/letter

The split is the data set's usual one: the first 16,000 rows train, the last 4,000 test.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import rdata

PACKAGE = "r-cran-mlbench"
MEMBER = "usr/lib/R/site-library/mlbench/data/LetterRecognition.rda"
TRAIN_ROWS = 16000


def letter_table(workdir: Path) -> pd.DataFrame:
    """The table as a pandas frame, its label column renamed ``letter``."""
    subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, check=True, capture_output=True)
    (deb,) = workdir.glob(f"{PACKAGE}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(workdir / "root")], check=True)
    frame = rdata.read_rda(workdir / "root" / MEMBER)["LetterRecognition"]
    return frame.rename(columns={"lettr": "letter"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for train.csv and test.csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        frame = letter_table(Path(tmp))
    frame["letter"] = frame["letter"].astype(str)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.iloc[:TRAIN_ROWS].to_csv(args.out / "train.csv", index=False, float_format="%g")
    frame.iloc[TRAIN_ROWS:].to_csv(args.out / "test.csv", index=False, float_format="%g")
    print(f"{args.out}/train.csv: {TRAIN_ROWS} rows; test.csv: {len(frame) - TRAIN_ROWS} rows; "
          f"{frame['letter'].nunique()} classes")


if __name__ == "__main__":
    main()
