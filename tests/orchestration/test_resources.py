"""Resources: embedded defaults from FP_* variables, and the artefact store on S3 through dagster-aws."""

from __future__ import annotations

import dagster as dg
import pytest

from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.resources import ArtefactStoreResource
from feature_platform.store import open_store
from tests.orchestration.conftest import Platform, check_results, selection


def test_resources_default_to_the_data_dir(platform: Platform) -> None:
    resources = platform.defs().resources or {}
    store = resources["artefact_store"]
    assert type(store) is ArtefactStoreResource
    assert store.url == str(platform.data_dir / "artefacts")
    assert resources["data_locations"].raw_root == str(platform.data_dir / "raw")
    assert resources["data_locations"].tables_root == str(platform.data_dir / "tables")
    assert resources["release_target"].env == "test"
    assert resources["feature_configs"].configs_dir == str(platform.configs_dir)


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_an_s3_store_goes_through_dagster_aws_s3_resource(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, s3_endpoint_url: str, s3_store_url: str
) -> None:
    from dagster_aws.s3 import S3Resource

    monkeypatch.setenv("FP_ARTEFACT_STORE", s3_store_url)
    monkeypatch.setenv("FP_S3_ENDPOINT_URL", s3_endpoint_url)
    defs = platform.defs()
    store_resource = (defs.resources or {})["artefact_store"]
    assert isinstance(store_resource.s3, S3Resource)
    assert store_resource.s3.endpoint_url == s3_endpoint_url

    keys = feature_keys("recent_searches_v1")
    result = platform.run(selection(keys.release), defs=defs)

    assert result.success
    assert all(e.passed for e in check_results(result).values())
    live = open_store(s3_store_url, endpoint_url=s3_endpoint_url).load_live("test", "recent_searches_v1")
    assert live.feature.id == "recent_searches_v1"
    assert not (platform.data_dir / "artefacts").exists()


def test_resource_values_are_visible_and_overridable_config() -> None:
    resource = ArtefactStoreResource(url="/somewhere")
    assert resource.get_store().describe().endswith("/somewhere")
    assert isinstance(resource, dg.ConfigurableResource)
