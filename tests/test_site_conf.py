"""The static book's configuration: one set of launch links per notebook page (the badges)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_theme_adds_no_launch_buttons_beside_the_notebooks_own_badges():
    tree = ast.parse((ROOT / "docs" / "site" / "conf.py").read_text(encoding="utf-8"))
    options = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                   and any(getattr(t, "id", None) == "html_theme_options" for t in node.targets))
    launch = next(value for key, value in zip(options.keys, options.values)
                  if ast.literal_eval(key) == "launch_buttons")
    assert ast.literal_eval(launch) == {}, "the title cells' badges are the launch links"
