"""The emulator's S3 listings answer exactly what moto's own answer, on randomized buckets and writes.

devstack/moto_s3_index.py keeps each bucket's live key names sorted so a ListObjects(V2) walks only its
prefix from its start key (SPEC R-LOC-2); moto 5.2.5 walks every name the bucket ever held. Here
hypothesis draws a bucket (versioned or not), writes to it (puts, copies, deletes, batch deletes, and on a
versioned bucket deletes of a version or of a delete marker, which bring a key back), then lists it with
every combination of prefix, delimiter, StartAfter, MaxKeys and Marker, paging to the end, and asks each
question twice on the same data: once answered from the index, once by moto's own listing. The pages must
be equal (keys, ETags, folders, truncation, tokens, errors).

moto runs in this process (mock_aws), patched as the emulator patches it: no server to start.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from devstack import moto_patches, moto_s3_index

NAMES = ["a", "a/b", "a/b/c", "a/c", "ab", "ab/", "b", "b/x/y", "raw/e/day=1/k.json", "raw/e/day=2/k.json",
         "raw/e/day=2/pack-1.json", "é", "é/ü"]  # fmt: skip
PREFIXES = [None, "", "a", "a/", "a/b", "ab", "b/", "raw/", "raw/e/day=2/", "é", "z"]
BUCKETS = itertools.count()  # a bucket of its own per example
STARTS = [None, "", "a", "a/b", "ab/", "raw/e/day=1/", "raw/e/day=2/k.json", "é", "zz"]


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    from moto import mock_aws

    moto_patches.apply()
    with pytest.MonkeyPatch.context() as environment, mock_aws():
        environment.delenv("AWS_ENDPOINT_URL", raising=False)  # this process's moto, not the session's emulator
        yield boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")  # fmt: skip


writes = st.lists(
    st.tuples(st.sampled_from(["put", "put", "copy", "delete", "delete_many", "delete_version"]),
              st.sampled_from(NAMES), st.sampled_from(NAMES), st.integers(0, 3)),
    max_size=30,
)  # fmt: skip
listings = st.lists(
    st.fixed_dictionaries({
        "v2": st.booleans(), "prefix": st.sampled_from(PREFIXES), "delimiter": st.sampled_from([None, "/", "="]),
        "start": st.sampled_from(STARTS), "max_keys": st.sampled_from([None, 0, 1, 2, 5]),
    }),
    min_size=1, max_size=6,
)  # fmt: skip


def _write(s3: Any, bucket: str, action: str, name: str, other: str, pick: int) -> None:
    if action == "put":
        s3.put_object(Bucket=bucket, Key=name, Body=f"{name}{pick}".encode())
    elif action == "copy":
        with contextlib.suppress(ClientError):  # no such source: nothing written
            s3.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": other})
    elif action == "delete":
        s3.delete_object(Bucket=bucket, Key=name)
    elif action == "delete_many":
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": name}, {"Key": other}], "Quiet": True})
    else:  # one version of the key (a delete marker among them): the key may come back
        versions = s3.list_object_versions(Bucket=bucket, Prefix=name)
        held = [v for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []) if v["Key"] == name]
        if held:
            s3.delete_object(Bucket=bucket, Key=name, VersionId=held[pick % len(held)]["VersionId"])


def _pages(s3: Any, bucket: str, listing: dict[str, Any]) -> list[Any]:
    """Every page of one listing, as comparable data (or the error it ended with)."""
    params: dict[str, Any] = {"Bucket": bucket}
    for name, value in (("Prefix", listing["prefix"]), ("Delimiter", listing["delimiter"]),
                        ("MaxKeys", listing["max_keys"])):  # fmt: skip
        if value is not None:
            params[name] = value
    if listing["start"] is not None:
        params["StartAfter" if listing["v2"] else "Marker"] = listing["start"]
    pages = []
    for _ in range(20):
        try:
            page = s3.list_objects_v2(**params) if listing["v2"] else s3.list_objects(**params)
        except ClientError as error:
            return [*pages, error.response["Error"]]
        page.pop("ResponseMetadata", None)
        page["Contents"] = [(c["Key"], c["ETag"], c["Size"]) for c in page.get("Contents", [])]
        pages.append(page)
        if not page.get("IsTruncated") or listing["max_keys"] == 0:
            break
        if listing["v2"]:
            params["ContinuationToken"] = page["NextContinuationToken"]
        else:
            params["Marker"] = page.get("NextMarker") or page["Contents"][-1][0]
    return pages


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(versioned=st.booleans(), writes=writes, listings=listings)
def test_listings_equal_motos_own(s3: Any, versioned: bool, writes: list, listings: list) -> None:
    bucket = f"list-{next(BUCKETS)}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for index, (action, name, other, pick) in enumerate(writes):
        _write(s3, bucket, action, name, other, pick)
        if index % 7 == 3:  # list between writes too: the index is kept, not only built
            assert _pages(s3, bucket, listings[0]) == _asked_moto(s3, bucket, listings[0])
    for listing in listings:
        note(f"listing {listing}")
        assert _pages(s3, bucket, listing) == _asked_moto(s3, bucket, listing)


def _asked_moto(s3: Any, bucket: str, listing: dict[str, Any]) -> list[Any]:
    moto_s3_index.fast_listing = False
    try:
        return _pages(s3, bucket, listing)
    finally:
        moto_s3_index.fast_listing = True


def test_a_listing_walks_its_prefix_not_the_bucket(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 delete markers and 2,000 live keys elsewhere in a versioned bucket: listing a 3-key prefix reads
    the index's 3 names and never walks the bucket's names, where moto's own listing walks all 7,003."""
    from moto.s3.models import FakeDeleteMarker, s3_backends
    from moto.s3.utils import _VersionedKeyStore

    s3.create_bucket(Bucket="lake-walk")
    s3.put_bucket_versioning(Bucket="lake-walk", VersioningConfiguration={"Status": "Enabled"})
    for day in range(3):
        s3.put_object(Bucket="lake-walk", Key=f"raw/e/day={day}/pack.json", Body=b"x")
    store = s3_backends["123456789012"]["aws"].buckets["lake-walk"].keys
    for number in range(2_000):
        s3.put_object(Bucket="lake-walk", Key=f"curated/t/day={number:05d}/part-0.parquet", Body=b"x")
    for number in range(5_000):
        store[f"raw/e/day=1/{number:05d}.json"] = FakeDeleteMarker(key=store["raw/e/day=0/pack.json"])
    walked: list[int] = []
    whole = _VersionedKeyStore._self_iterable
    monkeypatch.setattr(_VersionedKeyStore, "_self_iterable", lambda self: walked.append(len(self)) or whole(self))

    listed = s3.list_objects_v2(Bucket="lake-walk", Prefix="raw/e/")
    assert [c["Key"] for c in listed["Contents"]] == [f"raw/e/day={day}/pack.json" for day in range(3)]
    assert walked == []
    assert moto_s3_index.candidates(store, "raw/e/", "raw/e/day=0/pack.json", 1) == ["raw/e/day=1/pack.json"]
    assert _asked_moto(s3, "lake-walk", {"v2": True, "prefix": "raw/e/", "delimiter": None, "start": None,
                                         "max_keys": None})[0]["Contents"] == [(c["Key"], c["ETag"], c["Size"])
                                                                               for c in listed["Contents"]]  # fmt: skip
    assert walked == [7_003]
