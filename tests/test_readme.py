"""The README's library examples (and the model example of docs/how-to/your-parts.md) run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
PARTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "your-parts.md"


def test_library_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Use it as a library"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README example", "exec"), {})
    finite, iterations, residual = capsys.readouterr().out.split()
    assert finite == "True" and int(iterations) >= 1 and float(residual) >= 0


def _example_lines(example: str, check: str) -> list[str]:
    """The README's ``example`` followed by ``check``, run in a fresh interpreter: its printed lines
    (a registration is process-wide, so each example gets its own)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", example + check], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()


def test_the_plugin_loss_example_registers_a_loss_with_its_own_checked_hyperparameter():
    text = README.read_text()
    section = text[text.index("## Add your own loss"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    check = ("\nfrom autobalance.config import ConfigError\n"
             "from autobalance.losses.factory import build_loss, loss_config\n"
             "loss = build_loss(loss_config('temperature_ce', temperature=4.0), [10, 5])\n"
             "print(loss.scales().flatten().tolist())\n"
             "try:\n    loss_config('temperature_ce', temperature=-1)\nexcept ConfigError as e:\n    print(e)\n")
    scales, refused = _example_lines(code, check)
    assert scales == "[0.25, 0.25]" and refused == "loss.temperature=-1.0: expected > 0"


def test_the_plugin_model_example_registers_a_model_with_its_own_checked_settings():
    text = PARTS_PAGE.read_text()
    section = text[text.index("# my_models.py"):]
    code = section[:section.index("```")]
    check = ("\nimport torch\n"
             "from autobalance.config import ConfigError\n"
             "from autobalance.models import create_model\n"
             "model = create_model('deep_mlp', (40,), 10, depth=3)\n"
             "print(model(torch.randn(2, 40)).shape[-1], sum(isinstance(m, nn.Linear) for m in model.body))\n"
             "try:\n    create_model('deep_mlp', (40,), 10, depth=0)\nexcept ConfigError as e:\n    print(e)\n")
    shape, refused = _example_lines(code, check)
    assert shape == "10 3" and refused == "model.depth=0: expected >= 1"
