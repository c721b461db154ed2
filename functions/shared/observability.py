"""Powertools at module level, configured by the `POWERTOOLS_*` variables of the template Globals.

The Tracer imports the X-Ray SDK (and with it botocore's session machinery) when it is built, even when
tracing is off, where the SDK is then only switched off: most of a handler's cold import. So where tracing
is off by Powertools' own rule, the Tracer gets a provider that records nothing and the SDK is never
imported; in Lambda with tracing on, the Tracer is Powertools' own, on the X-Ray SDK, as before.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

TRUTHY = {"1", "y", "yes", "t", "true", "on"}  # what Powertools reads as true in an environment variable


def tracing_enabled(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Powertools' rule (`Tracer._is_tracer_disabled`): off when POWERTOOLS_TRACE_DISABLED says so, and off
    outside Lambda (no LAMBDA_TASK_ROOT) or under a local Lambda emulator (SAM CLI, Chalice)."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in TRUTHY:
        return False
    in_lambda = bool(environ.get("LAMBDA_TASK_ROOT"))
    return in_lambda and not environ.get("AWS_SAM_LOCAL") and not environ.get("AWS_CHALICE_CLI_MODE")


class _Unrecorded(BaseSegment):
    """A segment nobody sends: what the disabled Tracer's decorators annotate."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class UntracedProvider(BaseProvider):
    """A Tracer provider for when tracing is off: records nothing, imports nothing."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _Unrecorded()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _Unrecorded()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


logger = Logger()
tracer = Tracer() if tracing_enabled() else Tracer(disabled=True, provider=UntracedProvider())
metrics = Metrics()
