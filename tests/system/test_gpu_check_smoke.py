"""benchmarks/gpu_check.py runs its CPU smoke path, so the GPU script cannot rot unseen."""

from __future__ import annotations

import importlib.util

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_gpu_check_smoke_on_cpu(capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--device", "cpu", "--grids", "16x32", "--quick"])
    out = capsys.readouterr().out
    assert "Gaussian sampler on cpu: mean" in out  # it asserts the closed form itself
    assert "network cpu vs CPU: float32 0.0e+00" in out
    assert "16x32 bf16: batch 1:" in out and "training step, 16x32:" in out
