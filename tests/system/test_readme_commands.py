"""Every ``manage.py`` command the README names runs as a new user types it.

In a clean environment (only PATH and HOME), from the project folder, with the
``.env`` file `make install` writes (its own Makefile rule, into a temporary
folder): no DEBUG or SECRET_KEY to know about. Each command answers ``--help``;
the import and export commands also run as printed, on a scratch SQLite database
(``DATABASE_URL``, the one variable a user may set), with the seed articles.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.test_settings import write_env_file_with_make

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(set(re.findall(r"manage\.py ([a-z_]+)", README)))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("readme")
    write_env_file_with_make(folder / ".env")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "WORKBENCH_ENV_FILE": str(folder / ".env"),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_names_the_commands_this_test_knows():
    assert {
        "import_articles",
        "segment",
        "export_annotations",
        "refresh_export_cells",
        "worker",
        "check",
    } <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_answers_help(env, command):
    done = manage(env, command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: manage.py" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_readme_commands_run_as_printed(env, tmp_path):
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    steps = [
        ("migrate", "--noinput", "-v0"),
        ("import_articles", "seeds/", "--quiet"),
        ("segment", str(seeds[0].relative_to(ROOT))),
        ("refresh_export_cells",),
        (
            "export_annotations",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "out.csv"),
            "--mode",
            "segments",
            "--include-unlabelled",
        ),
        ("worker", "--batch", "--no-startup-delay"),
    ]
    for step in steps:
        done = manage(env, *step)
        assert done.returncode == 0, f"{step}: {done.stderr}"
        assert "Traceback" not in done.stderr, step
    assert (tmp_path / "out.csv").stat().st_size > 1000
    again = manage(env, "import_articles", "seeds/", "--quiet")
    assert f"skipped {len(seeds)} duplicates, failed 0" in again.stdout
