"""Entry points are checked where a task is created without importing the training module;
what only importing can show fails the trial on the worker, with an error naming the entry
point."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from workers import EntryPointError, Store, Task, TaskStatus
from workers.entrypoints import check_entry_point
from workers.runner import TrialRunner


def _module(directory: Path, source: str, name: str | None = None) -> str:
    """Write a module with a fresh name into ``directory``; returns the name."""
    name = name or f"hpq_entry_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def test_create_does_not_import_the_module_and_the_worker_fails_the_trial_clearly(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(tmp_path, """
        import no_such_dependency_of_the_training_code  # only the worker finds out

        def main(task):
            pass
    """)
    base = Task.create("p", "heavy", entry_point=f"{name}:main", working_dir=str(tmp_path))
    assert name not in sys.modules
    clone = Task.clone(base)
    store.transition(clone.id, clone.parent, [TaskStatus.CREATED], TaskStatus.QUEUED)

    assert TrialRunner(store, clone.id).run() == "failed"
    assert clone.status is TaskStatus.FAILED
    assert clone.error == (f"EntryPointError: entry point '{name}:main' does not import: "
                           "ModuleNotFoundError: No module named "
                           "'no_such_dependency_of_the_training_code'")


def test_packages_on_the_way_are_not_run(tmp_path: Path) -> None:
    package = f"hpq_pkg_{uuid.uuid4().hex[:10]}"
    (tmp_path / package / "sub").mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (tmp_path / package / "sub" / "__init__.py").write_text("")
    (tmp_path / package / "sub" / "train.py").write_text("def main(task):\n    pass\n")

    check_entry_point(f"{package}.sub.train:main", str(tmp_path))
    assert package not in sys.modules
    with pytest.raises(EntryPointError, match=rf"No module named '{package}.sub.nope'"):
        check_entry_point(f"{package}.sub.nope:main", str(tmp_path))
    with pytest.raises(EntryPointError, match=rf"'{package}.sub.train' is not a package"):
        check_entry_point(f"{package}.sub.train.deeper:main", str(tmp_path))


@pytest.mark.parametrize("source", [
    "def main(task): pass",
    "async def main(task): pass",
    "class main:\n    pass",
    "from os.path import join as main",
    "import json as main",
    "main = print",
    "main: object = lambda task: None",
    "try:\n    from fast import main\nexcept ImportError:\n    def main(task): pass",
    "if True:\n    main = print",
    "from os.path import *",                      # the parser cannot tell: the worker checks
    "def __getattr__(name):\n    return print",
    "globals()['main'] = print",
])
def test_names_bound_at_the_top_level_are_found(tmp_path: Path, source: str) -> None:
    check_entry_point(f"{_module(tmp_path, source)}:main", str(tmp_path))


@pytest.mark.parametrize(("source", "message"), [
    ("def train(task): pass", "has no attribute 'main'"),
    ("def outer():\n    def main(task): pass", "has no attribute 'main'"),
    ("class Trainer:\n    def main(self): pass", "has no attribute 'main'"),
    ("main = 42", "names a int, which is not callable"),
    ("main = [1, 2]\nif True:\n    main = 'x'", "names a list or str, which is not callable"),
    ("def main(task) pass", "does not import: SyntaxError: "),
])
def test_what_the_source_shows_is_an_error_at_once(tmp_path: Path, source: str,
                                                   message: str) -> None:
    name = _module(tmp_path, source)
    with pytest.raises(EntryPointError, match=message) as info:
        check_entry_point(f"{name}:main", str(tmp_path))
    assert f"entry point '{name}:main'" in str(info.value)


def test_file_entry_points_and_the_working_dir(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def main(task):\n    pass\n")
    check_entry_point("train.py:main", str(tmp_path))
    check_entry_point(f"{tmp_path / 'train.py'}:main")
    with pytest.raises(EntryPointError, match="has no attribute 'nope'"):
        check_entry_point("train.py:nope", str(tmp_path))
    with pytest.raises(EntryPointError, match="does not import: FileNotFoundError: no file"):
        check_entry_point("other.py:main", str(tmp_path))
    # the working dir comes first, as in the worker (which puts it at the front of sys.path)
    shadow = _module(tmp_path, "def main(task): pass", name="json")
    check_entry_point(f"{shadow}:main", str(tmp_path))
    with pytest.raises(EntryPointError, match="has no attribute 'main'"):
        check_entry_point("json:main", None)


def test_modules_without_source_are_left_to_the_worker() -> None:
    check_entry_point("sys:anything")        # built in: nothing to parse
    check_entry_point("math:anything")       # an extension module or built in
