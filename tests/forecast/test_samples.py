"""A prepared store as anomalies, and the SEEDS training samples drawn from it."""

import numpy as np
import pytest
import torch

from forecast.context import (
    CONTEXTS,
    climatology_fields,
    context_channels,
    position_fields,
    time_fields,
)
from forecast.samples import (
    AnomalyEnsemble,
    SeedsSamples,
    StreamedEnsemble,
    seed_condition,
)
from pipelines.errors import DataError
from pipelines.store import open_complete


@pytest.fixture(scope="module")
def reforecast(tiny_prepared):
    return tiny_prepared["world-reforecast"]


def test_anomalies_round_trip_to_the_stored_values(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    raw = open_complete(reforecast)["z500"].values  # (init, lead, member, lat, lon)
    v = ensemble.variables.index("z500")
    back = (
        ensemble.anomalies[:, :, :, v] * ensemble.std[:, :, None, v] + ensemble.mean[:, :, None, v]
    )
    np.testing.assert_allclose(back, raw, rtol=1e-5)
    assert (
        abs(float(ensemble.anomalies.mean())) < 0.5 and 0.3 < float(ensemble.anomalies.std()) < 2.0
    )


def test_precipitation_is_modelled_in_its_transformed_space(reforecast):
    """tp's anomalies are the standardised cube roots of the stored amounts, and they
    are far less skewed than the amounts themselves."""
    from scipy import stats

    from pipelines.transforms import transform_of

    ensemble = AnomalyEnsemble.load(reforecast)
    raw = open_complete(reforecast)["tp"].values
    v = ensemble.variables.index("tp")
    model = (
        ensemble.anomalies[:, :, :, v] * ensemble.std[:, :, None, v] + ensemble.mean[:, :, None, v]
    )
    np.testing.assert_allclose(model, transform_of("tp").forward(raw), rtol=1e-5, atol=1e-5)
    wet = ensemble.anomalies[:, 1:, :, v].ravel()
    assert abs(stats.skew(wet)) < stats.skew(raw[:, 1:].ravel()) / 2


def test_samples_condition_on_seed_statistics_and_pick_targets(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    gee = SeedsSamples(ensemble, k_range=(2, 2), seed=0)
    item = gee[3]
    n_vars = len(ensemble.variables)
    assert item["condition"].shape == (2 * n_vars, *ensemble.anomalies.shape[-2:])
    i, j = gee.pairs[3]
    members = ensemble.anomalies[i, j]

    def unscaled(samples, item, j):  # the target is stored as (y - seed mean) / s(lead)
        seed_mean = item["condition"][:n_vars].numpy()
        return seed_mean + samples.scale[j][:, None, None] * item["target"].numpy()

    assert any(np.allclose(unscaled(gee, item, j), m, atol=1e-4) for m in members)
    gpp = SeedsSamples(ensemble, k_range=(1, 1), truth_fraction=1.0, seed=0)
    i, j = gpp.pairs[5]
    np.testing.assert_allclose(unscaled(gpp, gpp[5], j), ensemble.truth[i, j], atol=1e-4)
    # scaled residuals of members have about unit variance at every lead
    residuals = np.stack([gee[n]["target"].numpy() for n in range(len(gee))])
    assert 0.6 < residuals.std() < 1.6
    seeds = torch.randn(1, 3, 2, 4, 8)
    condition = seed_condition(seeds)
    torch.testing.assert_close(condition[0, :2], seeds[0].mean(0))
    torch.testing.assert_close(condition[0, 2:], seeds[0].std(0))


def test_member_spread_and_its_interpolation_in_lead_time(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    spread = ensemble.member_spread()
    j, v = 3, ensemble.variables.index("z500")
    members = ensemble.anomalies[:, j, :, v].astype(np.float64)  # (init, member, lat, lon)
    brute = np.sqrt(members.var(axis=1, ddof=1).mean())
    assert spread[j, v] == pytest.approx(brute, rel=1e-4)
    scale = SeedsSamples(ensemble).residual_scale()
    halfway = scale.at(np.array([(ensemble.lead_days[j] + ensemble.lead_days[j + 1]) / 2]))
    np.testing.assert_allclose(halfway[0], (spread[j] + spread[j + 1]) / 2, rtol=1e-5)
    np.testing.assert_allclose(scale.at(np.array([99.0]))[0], spread[-1], rtol=1e-6)


def test_a_long_record_estimates_the_spread_from_evenly_spaced_init_times(reforecast, monkeypatch):
    """With the cap below the record, both readers use the same evenly spaced init times
    (first and last among them), and the spread is their brute-force one."""
    import forecast.samples

    whole = AnomalyEnsemble.load(reforecast)
    n_init = whole.shape[0]
    monkeypatch.setattr(forecast.samples, "SPREAD_INITS", 3)
    chosen = forecast.samples.spread_inits(n_init)
    assert len(chosen) == 3 and chosen[0] == 0 and chosen[-1] == n_init - 1
    j, v = 2, whole.variables.index("z500")
    members = whole.anomalies[chosen, j, :, v].astype(np.float64)
    brute = np.sqrt(members.var(axis=1, ddof=1).mean())
    assert whole.member_spread()[j, v] == pytest.approx(brute, rel=1e-4)
    streamed = StreamedEnsemble(reforecast, whole.variables)
    np.testing.assert_allclose(streamed.member_spread(), whole.member_spread(), rtol=1e-6)


def test_the_seeds_read_for_generation_are_what_the_whole_store_holds(reforecast):
    """Generation's reading (one init time, K members, chosen leads) against the store
    loaded whole, to the bit."""
    whole = AnomalyEnsemble.load(reforecast)
    reader = StreamedEnsemble(reforecast, whole.variables)
    leads = [0, 2, 3]
    for init in (0, len(whole.coords["init_time"]) - 1):
        anomalies, mean, std = reader.seeds(init, leads, 2)
        np.testing.assert_array_equal(anomalies, whole.anomalies[init, leads, :2])
        np.testing.assert_array_equal(mean, whole.mean[init, leads])
        np.testing.assert_array_equal(std, whole.std[init, leads])
    np.testing.assert_array_equal(reader.lead_days, whole.lead_days)


def test_the_streamed_store_gives_the_samples_of_the_store_in_memory(reforecast):
    whole = AnomalyEnsemble.load(reforecast)
    streamed = StreamedEnsemble(reforecast, whole.variables)
    assert streamed.shape == whole.shape and streamed.has_truth
    for init, lead in ((0, 1), (whole.shape[0] - 1, whole.shape[1] - 1)):
        np.testing.assert_array_equal(streamed.members(init, lead), whole.members(init, lead))
        np.testing.assert_array_equal(streamed.truth_at(init, lead), whole.truth_at(init, lead))
    np.testing.assert_allclose(streamed.member_spread(), whole.member_spread(), rtol=1e-6)
    a, b = SeedsSamples(whole, seed=3), SeedsSamples(streamed, seed=3)
    for index in (0, 7):
        for key in ("condition", "lead"):
            torch.testing.assert_close(a[(index, 2)][key], b[(index, 2)][key], rtol=0, atol=0)


def test_a_store_whose_chunks_break_the_memory_bound_names_the_chunking(reforecast, monkeypatch):
    import forecast.samples

    monkeypatch.setattr(forecast.samples, "MAX_CHUNK_BYTES_PER_READ", 1000)
    with pytest.raises(DataError, match=r"decodes \d+ MB of chunks .* --chunk-mb"):
        StreamedEnsemble(reforecast)


def test_samples_carry_the_context_of_their_valid_time(reforecast):
    whole = AnomalyEnsemble.load(reforecast)
    streamed = StreamedEnsemble(reforecast, whole.variables)
    n_vars = len(whole.variables)
    a = SeedsSamples(whole, seed=3, context=CONTEXTS)
    b = SeedsSamples(streamed, seed=3, context=CONTEXTS)
    for index in (0, 7):
        condition = a[index]["condition"]
        assert condition.shape[0] == 2 * n_vars + context_channels(CONTEXTS, n_vars)
        torch.testing.assert_close(condition, b[index]["condition"], rtol=0, atol=0)
        i, j = a.pairs[index]
        valid = whole.coords["init_time"][i] + whole.coords["lead_time"][j]
        lat, lon = whole.coords["lat"], whole.coords["lon"]
        context = condition[2 * n_vars :].numpy()
        np.testing.assert_allclose(context[:3], position_fields(lat, lon), atol=1e-6)
        np.testing.assert_allclose(context[3:7], time_fields(valid, lat, lon), atol=1e-6)
        np.testing.assert_allclose(
            context[7:], climatology_fields(whole.std[i, j]), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("stored", [None, "log1p(x / 0.01)"])
def test_a_store_prepared_in_another_space_is_refused_by_name(reforecast, tmp_path, stored):
    """A climatology of tp in physical units, or in a space forecast no longer models it in,
    would be read as if it were in today's: one error saying to prepare again."""
    import re
    import shutil

    import zarr

    from pipelines.transforms import TRANSFORM_ATTR

    store = tmp_path / "old.zarr"
    shutil.copytree(reforecast, store)
    tp = zarr.open_array(store / "climatology" / "tp", mode="r+")
    attrs = {k: v for k, v in tp.attrs.asdict().items() if k != TRANSFORM_ATTR}
    tp.attrs.clear()
    tp.attrs.update({**attrs, **({TRANSFORM_ATTR: stored} if stored else {})})
    if (store / "zarr.json").exists() or (store / ".zmetadata").exists():
        zarr.consolidate_metadata(store)
    space = re.escape(stored or "physical units")
    with pytest.raises(DataError, match=rf"tp in {space}.*prepare it again"):
        AnomalyEnsemble.load(store)
