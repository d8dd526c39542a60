"""Parse source text into typed values in SQL: timestamps with their offsets, numbers.

Every parse is total: text that is not a value of the type becomes NULL, and the caller
quarantines the row with the text it had.
"""

from __future__ import annotations

from vitalsign.model.canonical import SQL_TYPES

__all__ = ["parse_sql", "timestamp_sql"]

# ISO 8601 with a UTC offset in any of its forms: +02, +0200, +02:00 (Z is read as UTC by
# the plain cast). Text with a sign after the date that is not this is quarantined.
ISO_OFFSET = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)? ?"
    r"[+-][0-9]{2}(:?[0-9]{2})?"
)


def timestamp_sql(text: str) -> str:
    """SQL parsing text to a UTC timestamp: ISO 8601 (with offsets), or epoch seconds/ms.

    An offset converts the time to UTC; a named zone or an offset in another form makes
    the value invalid (quarantined), never silently dropped.
    """
    after_date = f"substr({text}, 11)"
    offset = f"(strpos({after_date}, '+') > 0 OR strpos({after_date}, '-') > 0)"
    with_seconds = (  # DuckDB reads an offset only after the seconds
        f"regexp_replace(replace({text}, ',', '.'), "
        "'^([0-9-]{10}[T ][0-9]{2}:[0-9]{2})( ?[+-])', '\\1:00\\2')"
    )
    epoch = (
        f"CASE WHEN regexp_full_match({text}, '[0-9]{{9,10}}(\\.[0-9]+)?') "
        f"THEN timezone('UTC', to_timestamp(CAST({text} AS DOUBLE))) "
        f"WHEN regexp_full_match({text}, '[0-9]{{12,13}}') "
        f"THEN epoch_ms(CAST({text} AS BIGINT)) END"
    )
    return (
        f"CASE WHEN {offset} THEN CASE WHEN regexp_full_match({text}, '{ISO_OFFSET}') "
        f"THEN timezone('UTC', TRY_CAST({with_seconds} AS TIMESTAMPTZ)) END "
        f"ELSE coalesce(TRY_CAST({text} AS TIMESTAMP), {epoch}) END"
    )


def parse_sql(column_type: str, value: str) -> str:
    """SQL typing the text `value` as a canonical column type (NULL when it does not parse)."""
    text = f"NULLIF(CAST({value} AS VARCHAR), '')"
    if column_type == "string":
        return text
    if column_type == "timestamp":
        return timestamp_sql(text)
    if column_type == "date":
        return f"coalesce(TRY_CAST({text} AS DATE), CAST({timestamp_sql(text)} AS DATE))"
    if column_type == "float":  # NaN, inf and overflowing numbers (1e400) are not values
        number = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    return f"TRY_CAST({text} AS {SQL_TYPES[column_type]})"  # type: ignore[index]
