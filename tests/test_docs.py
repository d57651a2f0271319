"""The README stays true: every setting is documented, and the two commands are shown."""

from __future__ import annotations

from collector.config import setting_specs
from tests.support import REPO


def test_readme_lists_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [spec.env for spec in setting_specs() if f"`{spec.env}`" not in readme]
    assert not missing, f"README.md configuration table lacks {missing}"


def test_readme_shows_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme


def test_ci_runs_make_test() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
