"""The README's library example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Use it as a library"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README example", "exec"), {})
    finite, iterations, residual = capsys.readouterr().out.split()
    assert finite == "True" and int(iterations) >= 1 and float(residual) >= 0
