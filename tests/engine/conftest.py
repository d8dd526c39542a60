"""Fixtures of the engine tests: one shared Spark session and a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from postgres_server import postgres_bin, running_postgres

REMOTE_SPARK = "VITALSIGN_TEST_SPARK_REMOTE"
REMOTE_POSTGRES = "VITALSIGN_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Spark session for every engine test (starting one costs seconds).

    Local unless VITALSIGN_TEST_SPARK_REMOTE names a Spark Connect URL (docs/scaling.md).
    """
    pytest.importorskip("pyspark")
    remote = os.environ.get(REMOTE_SPARK)
    if remote:
        from pyspark.sql import SparkSession

        yield SparkSession.builder.remote(remote).getOrCreate()
        return
    if shutil.which("java") is None:  # pragma: no cover - Java 17 is on every machine we run on
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("vitalsign-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def engine_postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the engine matrix, started once per test session.

    VITALSIGN_TEST_POSTGRES_URL names an existing database to use instead (docs/scaling.md).
    """
    given = os.environ.get(REMOTE_POSTGRES)
    if given:
        yield given
        return
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not installed (scripts/install-system-deps.sh)")
    with running_postgres(bindir) as url:
        yield url
