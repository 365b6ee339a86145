"""train -> generate -> score through the command line."""

import json

from forecast.cli import main


def test_cli_train_and_generate(tiny_prepared, tmp_path, capsys):
    out = tmp_path / "gpp"
    code = main(
        [
            "train",
            "--model",
            "seeds-gpp",
            "--budget",
            "tiny",
            "--steps",
            "4",
            "--data",
            str(tiny_prepared["world-reforecast"]),
            "--out",
            str(out),
            "--truth-fraction",
            "0.25",
            "-q",
        ]
    )
    assert code == 0 and (out / "model.safetensors").exists()
    assert json.loads((out / "config.json").read_text())["training"]["truth_fraction"] == 0.25
    code = main(
        [
            "generate",
            "--checkpoint",
            str(out),
            "--from",
            str(tiny_prepared["world-operational"]),
            "--members",
            "2",
            "--init",
            "0",
            "--out",
            str(tmp_path / "e.zarr"),
            "-q",
        ]
    )
    assert code == 0
    assert (
        main(
            ["score", "--forecast", str(tmp_path / "e.zarr"), "--out", str(tmp_path / "s.nc"), "-q"]
        )
        == 0
    )
    assert "z500" in capsys.readouterr().out


def test_cli_refuses_a_truth_fraction_outside_0_1(tiny_prepared, tmp_path, capsys):
    args = ["train", "--model", "seeds-gpp", "--truth-fraction", "1.5", "--out", str(tmp_path)]
    assert main([*args, "--data", str(tiny_prepared["world-reforecast"])]) == 2
    assert "--truth-fraction must be between 0 and 1, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "model.safetensors").exists()
