"""The vectorized paths of validation (pyarrow text checks, the plain-CSV reader, the sampled column kinds) give the
results of the Python code they replace, on the values where they could plausibly differ: textual NaN with signs,
case and odd whitespace, timestamps with and without offsets, blank values, files that are not plain CSV."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from churn_usecase import ACTIVITY
from driftloop.ingest import validation
from driftloop.ingest.validation import RawFileError, check_table, read_raw_table
from driftloop.quality import dependencies
from driftloop.settings import ValidationSettings, load_settings

DAY = date(2026, 5, 4)
# Whitespace Python's str.strip() removes that a narrower notion of whitespace (RE2's \s, say) would miss.
ODD_SPACE = ["\x0b", "\x0c", "\x1c", "\x1f", "\r\n", "\t"]
TEXTUAL_NAN = ["NaN", " NaN", "+nan", "-NaT", "nat\t", "\x1cNAN\x1f", "\x0b-nan", "+-nan", "--NaT", "nan1", "na n"]
STAMPS = [
    "2026-05-04T08:00:00Z",
    "2026-05-04T08:00:00z",
    "2026-05-04T08:00:00+05:00",
    "2026-05-04T08:00:00-0300",
    "2026-05-04T08:00:00+05",
    "2026-05-04T08:00:00.123456Z",
    "2026-05-04T08:00:00,5-03:00",
    "2026-05-04T08:00:00 +05:00",
    "2026-05-04T08:00:00\x0b+05:00",
    "2026-05-04T08:00:00\x1cZ",
    " 2026-05-04T08:00:00Z\x0c",
    "2026-05-04T08:00:00",
    "2026-05-04T08:00",
    "2026-05-04 08:00:00",
    "2026-05-04",
    "2026-05-04T08:00:00+5",
    "2026-05-04T08:00:00Z1",
]
BLANK = ["", " ", "\t", "\x0b\x1c", None]


def _column(values: list) -> pd.Series:
    """``values`` as a delivered column, on row labels that are not positions."""
    return pd.Series(values, index=range(10, 10 + len(values)), dtype=object)


@pytest.mark.parametrize("offsets", [True, False])
@pytest.mark.parametrize(
    "values",
    [
        TEXTUAL_NAN + STAMPS + BLANK,
        [space + value + space for value in TEXTUAL_NAN + STAMPS for space in ODD_SPACE],
        ["\u00a0nan\u2003", "２０２６-05-04T08:00:00Z", "2026-05-04T08:00:00\u2003Z", "NaN"],  # non-ASCII
        [1.5, "nan", None, np.nan, "2026-05-04T08:00:00Z"],  # not all strings
        BLANK,
    ],
    ids=["ascii", "odd_whitespace", "non_ascii", "mixed_objects", "blank"],
)
def test_the_text_masks_are_those_of_pythons_string_methods(values, offsets):
    column = _column(values)

    text, is_nan, has_offset = validation._text_masks(column, offsets)
    expected_text, expected_nan, expected_offset = validation._python_text_masks(column, offsets)

    pd.testing.assert_series_equal(text, expected_text)
    assert is_nan.tolist() == expected_nan.tolist()
    assert has_offset.tolist() == expected_offset.tolist()


def test_the_python_text_masks_read_signs_case_whitespace_and_offsets():
    text, is_nan, has_offset = validation._python_text_masks(_column(TEXTUAL_NAN + STAMPS), True)

    assert [value for value, nan in zip(text, is_nan, strict=True) if nan] == [
        "NaN", "NaN", "+nan", "-NaT", "nat", "NAN", "-nan", "+-nan", "--NaT",
    ]  # fmt: skip
    stamps, stamp_offsets = text[len(TEXTUAL_NAN) :], has_offset[len(TEXTUAL_NAN) :]
    aware = [value for value, offset in zip(stamps, stamp_offsets, strict=True) if offset]
    # A bare date ends like an offset ("05" then "-04"): UTC_OFFSET has always taken it as one, and still does.
    assert aware == STAMPS[:10] + ["2026-05-04T08:00:00Z", "2026-05-04"]


@pytest.fixture
def settings(data_root):
    """Settings on a fresh data root that sample 3 rows per failure."""
    return replace(load_settings(), validation=replace(ValidationSettings(), sample_rows=3))


def _events(times: list[str | None], minutes: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(times))],
            "customer_id": [str(1 + i % 3) for i in range(len(times))],
            "event_time": times,
            "event_type": ["session"] * len(times),
            "device": ["tv"] * len(times),
            "genre": ["drama"] * len(times),
            "minutes_watched": minutes,
        }
    )


@pytest.mark.parametrize("textual_nan", ["reject", "null"])
@pytest.mark.parametrize("naive_timestamps", ["reject", "utc"])
def test_a_table_fails_the_same_checks_on_the_same_rows_as_with_pythons_string_methods(
    settings, monkeypatch, textual_nan, naive_timestamps
):
    rules = replace(settings.validation, textual_nan=textual_nan, naive_timestamps=naive_timestamps)
    settings = replace(settings, validation=rules)
    stamps = [stamp for stamp in STAMPS if "T" in stamp] * 2
    times = [*stamps, " NaN", "+nan", "-NaT", "\x0bnat", None, " "]
    minute_values = ["1.5", " NaN", "+nan", "-NaT", "NAN\x1c", "2", None, "  ", "inf", "x"]
    minutes = [minute_values[i % len(minute_values)] for i in range(len(times))]
    frame = _events(times, minutes)

    fast = check_table(ACTIVITY, frame, DAY, settings, "activity_events.csv")
    monkeypatch.setattr(validation, "_text_masks", validation._python_text_masks)
    python = check_table(ACTIVITY, frame, DAY, settings, "activity_events.csv")

    assert fast[1] == python[1]
    assert {failure.check for failure in fast[1]} >= {"coercible_to_dtype", "finite_number"}
    if textual_nan == "reject":
        assert "no_textual_nan" in {failure.check for failure in fast[1]}


PLAIN = "a,b,c\n1,x,\n2,,z\n,,\n"
CSV_TEXTS = [
    PLAIN,
    PLAIN.replace("\n", "\r\n"),  # CRLF: the careful reader
    PLAIN + "\n",  # a blank last line
    PLAIN.replace("2,,z", '2,"y, quoted",z'),
    PLAIN.replace("2,,z", "2,z"),  # a short row
    PLAIN.replace("2,,z", "2,,z,"),  # a long row
    PLAIN.rstrip("\n"),  # cut
    "a,b,c\n",  # no rows
    "a\n\n1\n",  # a blank line in a one-column file
    "a\n1\n \n",  # whitespace is a value
    "a,b\nNA,NULL\nnan,n/a\n",  # text pandas or pyarrow might read as missing
    "\ufeffa,b\n1,2\n",
    "a,b\n1,\x0b\n",
]


def _careful(monkeypatch) -> None:
    monkeypatch.setattr(validation, "_plain_body", lambda text, header: None)


def _read(path) -> pd.DataFrame | list:
    try:
        return read_raw_table(path, ["a", "b", "c"])
    except RawFileError as error:
        return error.problems


def _assert_same(fast, careful) -> None:
    if isinstance(careful, pd.DataFrame):
        pd.testing.assert_frame_equal(fast, careful)
        assert fast.attrs == careful.attrs
        assert [type(value) for value in fast.to_numpy().ravel()] == [type(v) for v in careful.to_numpy().ravel()]
    else:
        assert fast == careful


def _random_csv(rng: random.Random) -> str:
    """A small CSV file, mostly plain, now and then with a quote, a CRLF, a blank line, a wrong width or no end."""
    values = ["", "", " ", "1", "x y", "NaN", "\x0b", "é", '"q"', 'a"b']
    width = rng.randint(1, 3)
    rows = [
        ",".join(rng.choice(values[:-2] * 8 + values[-2:]) for _ in range(width + rng.choice([0] * 20 + [-1, 1])))
        for _ in range(rng.randint(0, 6))
    ]
    ending = rng.choice(["\n"] * 10 + ["\r\n", "\n\n", ""])
    return ending.join(["abc"[:width].replace("", ",")[1:-1], *rows]) + rng.choice(["\n"] * 10 + [""])


def test_the_plain_reader_reads_what_the_careful_reader_reads(tmp_path, monkeypatch):
    rng = random.Random(7)
    texts = CSV_TEXTS + [_random_csv(rng) for _ in range(400)]
    plain_reads = []
    plain_body = validation._plain_body

    def counted(text, header):
        frame = plain_body(text, header)
        plain_reads.append(frame is not None)
        return frame

    monkeypatch.setattr(validation, "_plain_body", counted)
    results = []
    for i, text in enumerate(texts):
        path = tmp_path / f"t{i}.csv"
        path.write_bytes(text.encode("utf-8"))
        results.append(_read(path))
    _careful(monkeypatch)
    for i, result in enumerate(results):
        _assert_same(result, _read(tmp_path / f"t{i}.csv"))
    assert sum(plain_reads) > 100 and not all(plain_reads)  # the fuzz reaches the plain reader and its refusals


def test_the_plain_reader_takes_plain_files_and_leaves_the_rest():
    header = ["a", "b", "c"]
    assert validation._plain_body(PLAIN, header) is not None
    for text in CSV_TEXTS[1:7]:
        assert validation._plain_body(text, header) is None


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([None] * 3000 + [" "] * 3000 + [""] * 3000 + ["7"] * 1000 + ["x"], "integer"),  # after 9000 blanks
        ([None] * 5000 + ["7"] * 999 + ["x"], "text"),  # the last sampled value decides
        (["7"] * 999 + [" "] * 20000 + ["2.5"], "number"),  # the sample ends far down the column
        (["7"] * 1000 + ["x"], "integer"),  # a value after the sample does not count
        ([" "] * 50000, "empty"),
        ([], "empty"),
    ],
    ids=["leading_blanks", "last_sampled", "sparse", "after_sample", "all_blank", "empty"],
)
def test_the_kind_of_a_column_is_decided_by_its_first_present_values(values, kind):
    column = pd.Series(values, dtype=object)
    sample = dependencies._sample_values(column)
    expected = column.dropna()
    expected = expected[expected.astype(str).str.strip() != ""].head(dependencies.SAMPLE_VALUES).astype(str)

    pd.testing.assert_series_equal(sample, expected)
    assert dependencies._kind(column) == kind
