"""`make deploy`'s web upload (web/publish.py) against the emulator's S3: every file the front serves
lands with the content type a browser needs for ES modules, and files gone from web/ are removed."""

import uuid

from shared.aws import client
from web.publish import files, publish


def test_publish_uploads_the_front_with_module_types_and_removes_stale_files(emulator, tmp_path):
    bucket = f"web-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="old-page.js", Body=b"gone")

    result = publish(bucket, distribution=None)

    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == set(files()) and "index.html" in keys and "app.js" in keys
    assert "publish.py" not in keys and result["deleted"] == 1
    app = client("s3").get_object(Bucket=bucket, Key="app.js")
    assert app["ContentType"] == "text/javascript"
    assert client("s3").get_object(Bucket=bucket, Key="index.html")["CacheControl"] == "no-cache"
