"""Ingestion: every source into the canonical tables, with nothing lost (docs/connectors.md).

The pipeline, module by module:

    readers / encodings   a file opened by DuckDB's own readers, values as text
    mapping / formats     how source columns become a table's columns (known formats built in)
    plan                  the mapping compiled to SQL with the safe expression language
    identity / validity   which account a row belongs to; what makes a row impossible
    staging               typed, checked, de-duplicated and written in one transaction
    runs / quarantine     the run's counts and record; rows that could not be loaded
    files / database      files and globs; PostgreSQL tables and queries by watermark
    sync                  every source declared in vitalsign.yml, incrementally
    http_api / write_keys the Segment-shaped event API and its write key
    commands              the CLI: ingest, sync, quarantine, ingest-key

Every run reports rows read = loaded + duplicates + quarantined.
"""
