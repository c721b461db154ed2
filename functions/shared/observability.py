"""Powertools at module level, configured by the `POWERTOOLS_*` variables of the template Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
