"""driftloop's point-in-time lookup returns what Feast's ``get_historical_features`` returns on the repository's feature
definitions: the same values for every lookup Feast answers, at the ttl's edges too, and an empty row (that Feast
drops) where no feature row lies within the ttl."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_usecase import CHURN
from driftloop.dates import as_of_timestamp, day_range
from driftloop.features.feature_store import apply_feature_repo, declared_feature_schema, feature_store
from driftloop.features.partitions import FEAST_TO_ARROW
from driftloop.features.point_in_time import feature_columns, historical_features, service_lookups
from driftloop.settings import load_settings
from driftloop.storage import lake

FEATURE_SERVICE = CHURN.feast.feature_service
KEY_ARROW = {"customer_id": pa.int64(), "event_timestamp": pa.timestamp("ns", tz="UTC")}

DAYS = day_range(date(2026, 3, 1), 5)
# The days each customer has a feature row: every day, the first day only, a gap of two days; customer 4 never.
ROW_DAYS = {1: DAYS, 2: DAYS[:1], 3: [DAYS[0], DAYS[3]], 5: DAYS}
NO_ROWS = [4, 999]
KEYS = ["customer_id", "event_timestamp"]


def _feature_row(customer: int, day: date, declared: dict[str, str]) -> dict:
    """A row whose every value names its customer and day (``1000 * customer + day of month``), so that a lookup
    that finds the wrong row shows; customer 5 has no region on odd days."""
    tag = 1000 * customer + day.day
    row = {"customer_id": customer, "event_timestamp": as_of_timestamp(day)}
    for name, dtype in declared.items():
        row[name] = {"Int64": tag, "Float64": tag + 0.5, "String": f"{name}-{tag}"}[dtype]
    if customer == 5 and day.day % 2:
        row["region"] = None
    return row


@pytest.fixture
def settings(data_root):
    """An offline store of the repository's feature view, one file per day of ``DAYS``, and the repo applied."""
    settings = load_settings()
    declared = declared_feature_schema(settings)
    schema = pa.schema({**KEY_ARROW, **{name: FEAST_TO_ARROW[dtype] for name, dtype in declared.items()}})
    settings.offline_store_dir.mkdir(parents=True)
    for day in DAYS:
        rows = [_feature_row(customer, day, declared) for customer, days in ROW_DAYS.items() if day in days]
        pq.write_table(
            pa.Table.from_pylist(rows, schema), settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"
        )
    apply_feature_repo(settings)
    return settings


def _feast(settings, entities: pd.DataFrame) -> pd.DataFrame:
    store = feature_store(settings)
    service = store.get_feature_service(FEATURE_SERVICE)
    return store.get_historical_features(entity_df=entities, features=service).to_df()


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(KEYS).sort_index()


def test_lookups_return_what_feast_returns_and_the_lookups_feast_drops_come_back_empty(settings):
    ttl_edge = as_of_timestamp(DAYS[-1]) + timedelta(days=2)
    moments = [
        as_of_timestamp(DAYS[0]) - timedelta(seconds=1),  # before every row
        *[as_of_timestamp(day) for day in DAYS],  # exactly at each day's rows
        *[as_of_timestamp(day) - timedelta(seconds=1) for day in DAYS[1:]],  # just before: the day before's row
        ttl_edge,  # the newest row, exactly the ttl old
        ttl_edge + timedelta(seconds=1),  # just past the ttl: nothing
    ]
    customers = [*ROW_DAYS, *NO_ROWS]
    entities = pd.DataFrame([(c, m) for c in customers for m in moments], columns=KEYS)
    entities = entities.sample(frac=1.0, random_state=0)
    lookups = service_lookups(FEATURE_SERVICE, settings)
    columns = feature_columns(lookups)
    assert lookups[0].ttl == timedelta(days=2) and lookups[0].source == settings.offline_store_dir

    ours = historical_features(entities, lookups)
    feast = _feast(settings, entities)

    assert ours[KEYS].equals(entities.reset_index(drop=True)), "one row per lookup, in the given order"
    answered = _by_key(feast).index
    pd.testing.assert_frame_equal(_by_key(ours).loc[answered, columns], _by_key(feast)[columns])
    # Feast drops the lookups of customers that have rows, but none within the ttl; they come back empty here.
    dropped = _by_key(ours).drop(index=answered)
    assert len(dropped) > 0 and dropped[columns].isna().all(axis=None)
    assert not dropped.index.get_level_values("customer_id").isin(NO_ROWS).any()
    found = _by_key(ours)["sessions_7d"]
    assert found[(1, ttl_edge)] == 1000 + DAYS[-1].day and pd.isna(found[(1, ttl_edge + timedelta(seconds=1))])
    assert found[(3, as_of_timestamp(DAYS[2]))] == 3000 + DAYS[0].day, "a row exactly the ttl old is found"
    assert pd.isna(found[(3, as_of_timestamp(DAYS[3]) - timedelta(seconds=1))]), "one a second older is not"


def test_lookups_that_all_find_a_row_have_feasts_values_and_types_with_the_columns_they_carry(settings):
    entities = pd.DataFrame(
        [(c, as_of_timestamp(day) + timedelta(hours=h)) for c in (1, 5) for day in DAYS for h in (0, 20)], columns=KEYS
    )
    # Label columns travel along; Feast makes a naive datetime among them UTC.
    entities["as_of_date"] = entities["event_timestamp"].dt.tz_localize(None).dt.normalize()
    entities["churned"] = entities["customer_id"] == 5

    ours = historical_features(entities, service_lookups(FEATURE_SERVICE, settings))

    pd.testing.assert_frame_equal(_by_key(ours), _by_key(_feast(settings, entities)))
    odd_days = sum(day.day % 2 for day in DAYS)
    assert ours["region"].isna().sum() == 2 * odd_days, "customer 5's missing regions stay missing"


def test_feature_rows_without_a_timestamp_are_an_error(settings):
    path = settings.offline_store_dir / f"{lake.partition_name(DAYS[0])}.parquet"
    table = pq.read_table(path)
    stamps = table.column("event_timestamp").to_pylist()
    stamps[0] = None
    pq.write_table(table.set_column(1, "event_timestamp", pa.array(stamps, KEY_ARROW["event_timestamp"])), path)
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": [as_of_timestamp(DAYS[1])]})

    with pytest.raises(ValueError, match="1 rows of .* have no event_timestamp"):
        historical_features(entities, service_lookups(FEATURE_SERVICE, settings))


def test_lookups_at_one_moment_as_in_scoring_read_the_file_exactly_the_ttl_old(settings):
    # Only the files that can match are read: for a lookup at the end of DAYS[2], those of DAYS[0] to DAYS[2].
    entities = pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": as_of_timestamp(DAYS[2])})

    ours = historical_features(entities, service_lookups(FEATURE_SERVICE, settings))

    assert ours["sessions_7d"].tolist() == [1000 + DAYS[2].day, 2000 + DAYS[0].day, 3000 + DAYS[0].day]
    pd.testing.assert_frame_equal(_by_key(ours), _by_key(_feast(settings, entities)))
