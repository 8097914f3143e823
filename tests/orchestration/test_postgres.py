"""The pipeline with the Dagster instance on PostgreSQL (dagster-postgres), as a deployment runs it.

Uses the local server at 127.0.0.1:5432 (trust auth, user postgres) and a database of its own, created
and dropped by the test. Skips when the server is absent, fails instead with FP_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
import pytest

from feature_platform.orchestration import feature_keys
from tests.conftest import require_service
from tests.orchestration.conftest import Platform, check_results, selection

PG = {"hostname": "127.0.0.1", "port": 5432, "username": "postgres", "password": "",
      # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; dagster-postgres installs psycopg2
      "scheme": "postgresql+psycopg2"}


@pytest.fixture
def pg_database() -> Iterator[str]:
    import psycopg2

    try:
        admin = psycopg2.connect(host=PG["hostname"], port=PG["port"], user=PG["username"], dbname="postgres",
                                 connect_timeout=3)
    except psycopg2.OperationalError as exc:
        require_service("PostgreSQL", f"cannot connect to 127.0.0.1:5432 as postgres: {exc}".strip())
        raise
    admin.autocommit = True
    name = f"fp_dagster_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.mark.services
@pytest.mark.xdist_group("postgres")  # the shared server at 127.0.0.1:5432 (a database of its own per test)
def test_the_pipeline_runs_with_postgres_instance_storage(batch_platform: Platform, pg_database: str) -> None:
    import psycopg2

    storage = {"postgres": {"postgres_db": {**PG, "db_name": pg_database}}}
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        platform = replace(batch_platform, instance=instance)
        keys = feature_keys("recent_searches_v1")
        defs = platform.defs()

        release = platform.run(selection(keys.release), defs=defs)
        day = platform.run(selection(keys.batch), partition_key="2026-11-01", defs=defs)

        assert release.success and day.success
        assert all(e.passed for e in [*check_results(release).values(), *check_results(day).values()])
        assert instance.get_latest_materialization_event(keys.watermark) is not None

    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        assert cur.fetchone() == (2,)
        cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_CHECK_EVALUATION'")
        (evaluations,) = cur.fetchone() or (0,)
        assert evaluations == 5  # config_valid, release_allowed, artefact_integrity, 2 data contracts
