"""(Re)make examples/images/sales_chart.png by running the reference solution kept in
examples/replies/sales_chart.yaml (the scripted coder's final attempt), so image and code
can never drift apart."""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def main(target: str = str(HERE / "images" / "sales_chart.png")) -> None:
    source = yaml.safe_load((HERE / "replies" / "sales_chart.yaml").read_text())["coding"][-1][
        "source"
    ]
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "solution.py"
        script.write_text(source)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            runpy.run_path(str(script))
        finally:
            os.chdir(cwd)
        shutil.copy(Path(work) / "output.png", target)
    print(target)


if __name__ == "__main__":
    main(*sys.argv[1:])
