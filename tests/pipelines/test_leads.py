"""Lead times: what a user types, and how they are shown."""

import numpy as np
import pytest

from pipelines import ConfigError, DataError
from pipelines.leads import days_text, hours_text, lead_days, lead_indices

LEADS = np.array([0, 6, 24, 120], dtype="timedelta64[h]").astype("timedelta64[ns]")


def test_lead_indices_accept_any_duration_spelling_and_keep_the_order_asked():
    assert lead_indices(LEADS, None) == [0, 1, 2, 3]
    assert lead_indices(LEADS, ["5D", "24h", "360min"]) == [3, 2, 1]


def test_a_lead_the_source_lacks_is_a_data_error_and_a_typo_a_settings_error():
    with pytest.raises(
        DataError, match=r"\['48h'\] are not in the source \(it has \[0, 6, 24, 120\] h\)"
    ):
        lead_indices(LEADS, ["48h"])
    with pytest.raises(ConfigError, match="not durations"):
        lead_indices(LEADS, ["tomorrow"])


def test_labels_in_hours_and_days():
    assert [hours_text(v) for v in LEADS] == ["0h", "6h", "24h", "120h"]
    assert [days_text(v) for v in LEADS] == ["0 d", "0.25 d", "1 d", "5 d"]
    assert hours_text(np.timedelta64(90, "m")) == "1.5h" and hours_text("x") == "x"
    np.testing.assert_array_equal(lead_days(LEADS), [0, 0.25, 1, 5])
