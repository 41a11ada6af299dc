"""Feast definitions of the flights use case: the features of the daily view ``route_daily_features``.

This is the one declaration of the features; ``features.py`` computes exactly these columns and driftloop refuses a
partition that differs. Names, the ``route`` entity, its join key, the ttl and the offline folder come from
``usecase.toml`` through ``declare``.
"""

from feast import Field
from feast.types import Float64, Int64, String

from driftloop.usecase.feast_objects import declare

project, route, route_daily_source, route_daily_features, route_delay_v1 = declare(
    __file__,
    tags={"team": "flights"},
    schema=[
        Field(name="origin", dtype=String, description="Airport of departure: EWR, JFK or LGA."),
        Field(name="carrier_top", dtype=String, description="Carrier with the most flights on the route that day."),
        Field(name="distance", dtype=Float64, description="Distance of the route in miles."),
        Field(
            name="weekday", dtype=Int64, description="Day of the week, 0 = Monday (the same for every row of a day)."
        ),
        Field(name="flights_1d", dtype=Int64, description="Flights scheduled on the route that day."),
        Field(name="cancel_rate_1d", dtype=Float64, description="Share of the day's flights that were cancelled."),
        Field(name="dep_delay_mean_1d", dtype=Float64, description="Mean departure delay (min) of departed flights."),
        Field(name="share_delayed15_1d", dtype=Float64, description="Share of departed flights over 15 min late."),
        Field(name="flights_7d", dtype=Int64, description="Flights scheduled on the route in the last 7 days."),
        Field(name="cancel_rate_7d", dtype=Float64, description="Share cancelled in the last 7 days."),
        Field(name="dep_delay_mean_7d", dtype=Float64, description="Mean departure delay (min), last 7 days."),
        Field(
            name="origin_dep_delay_mean_1d",
            dtype=Float64,
            description="Mean departure delay (min) of every departed flight from the origin that day.",
        ),
        Field(name="temp_mean_1d", dtype=Float64, description="Mean temperature (F) at the origin that day."),
        Field(name="temp_range_1d", dtype=Float64, description="Highest minus lowest temperature (F) that day."),
        Field(name="humid_mean_1d", dtype=Float64, description="Mean relative humidity (%) at the origin."),
        Field(name="precip_sum_1d", dtype=Float64, description="Precipitation (in) at the origin that day."),
        Field(name="wind_speed_max_1d", dtype=Float64, description="Highest hourly wind speed (mph) that day."),
        Field(name="visib_min_1d", dtype=Float64, description="Lowest visibility (miles) at the origin that day."),
        Field(name="precip_sum_7d", dtype=Float64, description="Precipitation (in) at the origin, last 7 days."),
    ],
)
