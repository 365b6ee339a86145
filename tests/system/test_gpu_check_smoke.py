"""benchmarks/gpu_check.py runs its CPU smoke path, so the GPU script cannot rot unseen, and
its device check fails when the device's output is wrong."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_smoke_on_cpu(gpu_check, capsys):
    assert gpu_check.main(["--device", "cpu", "--grids", "16x32", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "PASS Gaussian sampler on cpu: mean" in out  # it checks the closed form itself
    assert "PASS quick network, cpu vs CPU: float32 0.0e+00" in out
    assert "PASS full network, cpu vs CPU: float32 0.0e+00" in out
    assert "| full | 16x32 | bf16 | 2 |" in out and "GFLOP per evaluation" in out
    assert "| quick | 16x32 | 2 | False |" in out  # a training step of each budget
    assert "FAIL" not in out


def test_the_device_check_fails_when_the_device_output_is_off(gpu_check, monkeypatch):
    """The device's float32 output off by 1% of its scale at one point: FAIL, exit status 1."""
    forward, calls = gpu_check.device_forward, []

    def off_on_the_device(model, device, inputs, bf16):
        out = forward(model, device, inputs, bf16).clone()
        calls.append(bf16)
        if len(calls) == 2:  # the first call is the CPU reference, the second the device's
            out[0, 0, 3, 5] += 0.01 * out.abs().max()
        return out

    monkeypatch.setattr(gpu_check, "device_forward", off_on_the_device)
    passed, line = gpu_check.check_network("cpu", (16, 32), "quick")
    assert not passed and "float32 1.0e-02" in line
    # and its head is not zero: the untrained network's output depends on its input
    model = gpu_check.with_nonzero_outputs(gpu_check.budget_model("seeds-gee", "quick"))
    assert all(parameter.any() for parameter in model.parameters())
