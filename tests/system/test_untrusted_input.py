"""Static guards: nothing in the code base can run code from a file a user hands it."""

import ast
from pathlib import Path

from conftest import ROOT

SOURCES = [p for d in ("forecast", "pipelines", "benchmarks") for p in (ROOT / d).rglob("*.py")]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            yield node


def _name(call: ast.Call) -> str:
    func = call.func
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    # a call on an expression (model.to(device).eval()) is not the builtin
    parts.append(func.id if isinstance(func, ast.Name) else "<expression>")
    return ".".join(reversed(parts))


def _offending(predicate) -> list[str]:
    """file:line of every call in the sources for which ``predicate`` holds."""
    return [
        f"{p.relative_to(ROOT)}:{c.lineno} {_name(c)}"
        for p in SOURCES
        for c in _calls(p)
        if predicate(c)
    ]


def test_there_are_sources_to_check():
    assert len(SOURCES) > 30


def test_no_eval_exec_pickle_or_unsafe_yaml():
    banned = {
        "eval",
        "exec",
        "pickle.load",
        "pickle.loads",
        "yaml.load",
        "os.system",
        "marshal.loads",
    }
    found = _offending(lambda c: _name(c) in banned)
    assert not found, found


def test_torch_load_only_with_weights_only():
    unsafe = _offending(
        lambda c: (
            _name(c) == "torch.load"
            and not any(
                k.arg == "weights_only"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in c.keywords
            )
        )
    )
    assert not unsafe, unsafe


def test_no_subprocess_with_a_shell():
    shells = _offending(
        lambda c: (
            _name(c).startswith("subprocess.")
            and any(
                k.arg == "shell" and getattr(k.value, "value", False) is True for k in c.keywords
            )
        )
    )
    assert not shells, shells
