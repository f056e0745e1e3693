import subprocess
import sys

import pytest

from neurofusion import __version__
from neurofusion.cli import COMMANDS, build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_every_pipeline_step_is_a_subcommand():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert set(COMMANDS) == set(choices)


def test_user_error_is_one_line_exit_2(tmp_path, capsys):
    code = main(["cohort", "--participants", str(tmp_path / "missing.tsv"), "--proteins", "x.parquet",
                 "--metrics-dir", str(tmp_path), "--classes", "CN", "AD",
                 "--out", str(tmp_path / "c.parquet"), "--excluded", str(tmp_path / "e.tsv")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "missing.tsv" in err and "Traceback" not in err
    assert not (tmp_path / "c.parquet").exists()


def test_console_script_help_runs():
    out = subprocess.run([sys.executable, "-m", "neurofusion", "--help"], capture_output=True, text=True, check=True)
    for step in COMMANDS:
        assert step in out.stdout


def test_step_descriptions_share_one_style():
    """Each step's HELP: one capitalised sentence ending with a period (what --help lists)."""
    from neurofusion.cli import _steps

    for name, module in _steps().items():
        text = module.HELP
        assert text[:1].isupper() and text.endswith(".") and "\n" not in text, (name, text)


def test_building_the_command_line_imports_no_heavy_library():
    """Every step is its own process: what the parser imports, every job pays for at start-up."""
    code = ("import sys; from neurofusion.cli import build_parser; build_parser(); "
            "print(' '.join(m for m in ('torch', 'pandas', 'numpy', 'pyarrow', 'matplotlib', 'nilearn', "
            "'SimpleITK', 'sklearn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
