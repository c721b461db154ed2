"""Upload web/ to the stack's bucket and refresh CloudFront: the second half of `make deploy`.

    python web/publish.py --stack ates-dev            # bucket and distribution from the stack outputs
    python web/publish.py --bucket B [--distribution D]

HTML is sent with `no-cache` (a new deploy shows at once), modules and assets with a short cache;
files that are no longer in web/ are deleted from the bucket (versioning keeps them for 30 days).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from pathlib import Path

import boto3

WEB = Path(__file__).resolve().parent
SKIP = {"publish.py", "README.md"}
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".html": "text/html", ".json": "application/json"}  # fmt: skip


def files(root: Path = WEB) -> dict[str, Path]:
    """Bucket key -> file, for everything the front serves."""
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in SKIP and "__pycache__" not in path.parts
    }


def headers(key: str) -> dict[str, str]:
    suffix = Path(key).suffix
    content_type = TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    cache = "no-cache" if suffix == ".html" else "public, max-age=300"
    return {"ContentType": content_type, "CacheControl": cache}


def stack_outputs(stack: str) -> dict[str, str]:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def publish(bucket: str, distribution: str | None, root: Path = WEB) -> dict[str, int]:
    s3 = boto3.client("s3")
    wanted = files(root)
    for key, path in wanted.items():
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **headers(key))
    existing = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])]  # fmt: skip
    stale = [key for key in existing if key not in wanted]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]})
    if distribution:
        boto3.client("cloudfront").create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())},
        )
    return {"uploaded": len(wanted), "deleted": len(stale)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="read WebBucketName and WebDistributionId from this stack's outputs")
    parser.add_argument("--bucket")
    parser.add_argument("--distribution")
    args = parser.parse_args()
    bucket, distribution = args.bucket, args.distribution
    if args.stack:
        outputs = stack_outputs(args.stack)
        bucket, distribution = outputs["WebBucketName"], outputs.get("WebDistributionId")
    if not bucket:
        parser.error("give --stack or --bucket")
    result = publish(bucket, distribution)
    print(f"web/ published to s3://{bucket}: {result['uploaded']} files, {result['deleted']} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
