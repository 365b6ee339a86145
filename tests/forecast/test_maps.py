"""Maps: global grids on a Robinson projection, regional grids zoomed to their extent."""

import numpy as np
import pytest
import xarray as xr

from forecast.plots.maps import _global_mesh, _regional_extent, map_panels


def field(lat, lon):
    return xr.DataArray(
        np.random.default_rng(0).normal(size=(len(lat), len(lon))),
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": lon},
    )


def test_the_extent_of_global_regional_and_greenwich_crossing_grids():
    assert _regional_extent(field(np.linspace(-87.5, 87.5, 36), np.arange(0, 360, 5.0))) is None
    assert _regional_extent(field(np.arange(40, 61, 2.0), np.arange(20, 31, 2.0))) == (
        19.0,
        31.0,
        39.0,
        61.0,
    )
    # 10 x 6 degrees across Greenwich, stored 0..360: 350..360 then 0..10 east of it
    lon = np.concatenate([np.arange(0, 10.1, 1.0), np.arange(350, 360, 1.0)])
    assert _regional_extent(field(np.arange(45, 51.1, 1.0), lon)) == (349.5, 370.5, 44.5, 51.5)
    # a latitude band all around the globe keeps every longitude
    west, east, south, north = _regional_extent(
        field(np.arange(-20, 21, 4.0), np.arange(0, 360, 4.0))
    )
    assert (west, east, south, north) == (-2.0, 358.0, -22.0, 22.0)


@pytest.mark.slow
def test_a_regional_map_is_zoomed_to_the_data():
    lon = np.concatenate([np.arange(0, 10.1, 1.0), np.arange(350, 360, 1.0)])
    figure = map_panels({"z500": field(np.arange(45, 51.1, 1.0), lon)})
    axis = figure.axes[0]
    west, east, south, north = axis.get_extent(crs=axis.projection)
    assert (west, east) == pytest.approx((-10.5, 10.5), abs=0.01)
    assert (south, north) == pytest.approx((44.5, 51.5), abs=0.01)
    globe = map_panels({"z500": field(np.linspace(-87.5, 87.5, 36), np.arange(0, 360, 5.0))})
    assert type(globe.axes[0].projection).__name__ == "Robinson"


@pytest.mark.parametrize(
    "lat, lon",
    [
        (np.linspace(-87.1875, 87.1875, 32), np.arange(64) * 5.625),  # a centre at 180
        (np.linspace(90, -90, 19), np.arange(36) * 10.0 - 180.0),  # poles, -180..170
        (np.linspace(-80, 80, 9), np.arange(2.5, 360, 5.0)),  # an edge at 180
    ],
)
def test_the_global_mesh_has_no_cell_across_the_map_edge_and_keeps_every_value(lat, lon):
    data = field(lat, lon)
    lon_edges, lat_edges, values = _global_mesh(data)
    assert lon_edges[0] == -180.0 and lon_edges[-1] == 180.0 and (np.diff(lon_edges) > 0).all()
    assert np.abs(lat_edges).max() <= 90.0 and values.shape == (lat.size, lon_edges.size - 1)
    # each drawn cell holds the value of the grid point nearest its centre (brute force)
    centres = (lon_edges[1:] + lon_edges[:-1]) / 2
    distance = np.abs((centres[:, None] - lon[None, :] + 180.0) % 360.0 - 180.0)
    np.testing.assert_array_equal(values, data.values[:, distance.argmin(axis=1)])
    # every grid point is drawn, over cells that together span its spacing
    assert set(distance.argmin(axis=1)) == set(range(lon.size))
