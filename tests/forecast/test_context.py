"""Context fields: closed forms for position and time, invariances of the climatology
field (the samples that carry them: test_samples.py)."""

import numpy as np
import pytest

from forecast.context import (
    CONTEXTS,
    climatology_fields,
    context_channels,
    context_fields,
    parse_context,
    position_fields,
    time_fields,
)
from pipelines.errors import ConfigError

LAT = np.array([-90.0, -30.0, 0.0, 45.0, 90.0])
LON = np.array([0.0, 90.0, 180.0, 270.0])


def test_position_is_the_unit_vector_of_each_point():
    fields = position_fields(LAT, LON)
    np.testing.assert_allclose((fields**2).sum(0), 1.0, atol=1e-12)
    np.testing.assert_allclose(fields[:, 2, 0], [1, 0, 0], atol=1e-12)  # equator, lon 0
    np.testing.assert_allclose(fields[:, 2, 1], [0, 1, 0], atol=1e-12)  # equator, 90E
    np.testing.assert_allclose(fields[:, -1, 3], [0, 0, 1], atol=1e-12)  # north pole
    # 45N 0E: (cos 45, 0, sin 45)
    np.testing.assert_allclose(fields[:, 3, 0], [2**-0.5, 0, 2**-0.5], atol=1e-12)


def test_time_is_the_year_progress_and_the_local_solar_time():
    # 1 January 00 UTC: the year has not started; it is midnight at 0E and noon at 180E
    fields = time_fields(np.datetime64("2001-01-01T00:00"), LAT, LON)
    np.testing.assert_allclose(fields[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(fields[1], 1.0, atol=1e-12)
    np.testing.assert_allclose(fields[3, :, 0], 1.0, atol=1e-12)  # cos(0): midnight
    np.testing.assert_allclose(fields[3, :, 2], -1.0, atol=1e-12)  # cos(pi): noon at 180E
    np.testing.assert_allclose(fields[2, :, 1], 1.0, atol=1e-12)  # 06 local at 90E
    # half a year (182.625 days) later: year progress pi, 15 UTC: 15 h local at 0E, 21 h at 90E
    half = np.datetime64("2001-01-01T00:00") + np.timedelta64(int(365.25 / 2 * 24 * 60), "m")
    fields = time_fields(half, LAT, LON)
    np.testing.assert_allclose(fields[1], -1.0, atol=1e-6)
    np.testing.assert_allclose(fields[2, :, 0], np.sin(2 * np.pi * 15 / 24), atol=1e-12)
    np.testing.assert_allclose(fields[3, :, 1], np.cos(2 * np.pi * 21 / 24), atol=1e-12)


def test_the_climatology_field_is_scale_free_and_centred():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.5, 3.0, size=(2, 5, 4))
    fields = climatology_fields(std)
    np.testing.assert_allclose(fields.mean(axis=(-2, -1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        climatology_fields(std * np.array([10.0, 0.01])[:, None, None]), fields
    )
    np.testing.assert_allclose(fields[0] - fields[0, 0, 0], np.log(std[0] / std[0, 0, 0]))


def test_context_names_and_channel_counts():
    assert parse_context(None) == CONTEXTS
    assert parse_context("none") == () and parse_context("") == ()
    assert parse_context("climatology,position") == ("position", "climatology")
    with pytest.raises(ConfigError, match="orography"):
        parse_context("position,orography")
    assert context_channels(CONTEXTS, 4) == 3 + 4 + 4
    times = np.array([np.datetime64("2000-03-01T12:00")] * 2)
    std = np.ones((2, 3, len(LAT), len(LON)))
    assert context_fields(CONTEXTS, LAT, LON, times, std).shape == (2, 10, 5, 4)
    assert context_fields((), LAT, LON, times, None).shape == (2, 0, 5, 4)
