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


def test_cli_gives_reanalysis_targets_to_the_post_processors_only(tiny_prepared, tmp_path, capsys):
    data = ["--data", str(tiny_prepared["world-reforecast"]), "--budget", "tiny", "--steps", "2"]

    def truth_fraction(model: str, *extra: str) -> float:
        out = tmp_path / f"{model}{len(extra)}"
        assert main(["train", "--model", model, *data, "--out", str(out), "-q", *extra]) == 0
        return json.loads((out / "config.json").read_text())["training"]["truth_fraction"]

    assert truth_fraction("seeds-gpp") == 1.0  # post-processing unless told
    assert truth_fraction("vae-crps") == 0.0  # an emulator unless told
    assert truth_fraction("vae-crps", "--truth-fraction", "1") == 1.0
    assert truth_fraction("seeds-gee") == 0.0
    args = ["train", "--model", "seeds-gee", *data, "--out", str(tmp_path / "gee-tf")]
    assert main([*args, "--truth-fraction", "0.5"]) == 2
    error = capsys.readouterr().err
    assert "seeds-gee emulates the ensemble" in error and "seeds-gpp, vae-crps" in error
    assert not (tmp_path / "gee-tf" / "model.safetensors").exists()
