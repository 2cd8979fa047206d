"""The README's quickstart runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(f"## {heading}"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs(capsys):
    namespace: dict = {}
    exec(compile(_block("Quickstart"), "README quickstart", "exec"), namespace)
    history = namespace["history"]
    assert len(history.history["loss"]) == 20
    assert history.history["val_accuracy"][-1] > 0.7
    assert "Epoch 20/20" in capsys.readouterr().out
