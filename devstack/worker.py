"""One function's runtime, in its own process: `python -m devstack.worker REQUEST_FD RESPONSE_FD`.

It plays the Lambda Python runtime: imports the handler named by `_HANDLER` once (the init phase of a
cold start), then serves invocations one at a time, each with a Lambda-shaped context whose remaining
time counts down to the function's timeout. Requests and responses travel on the two pipe fds, never
on stdout/stderr, which belong to the function's logs.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import traceback
from typing import Any

from devstack import channel


class LambdaContext:
    """The context object handlers receive, with the attributes of the real runtime's."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_of(exception: BaseException) -> dict[str, Any]:
    """The error payload Lambda returns for an unhandled exception."""
    return {
        "errorMessage": str(exception),
        "errorType": type(exception).__name__,
        "stackTrace": traceback.format_tb(exception.__traceback__),
    }


def load_handler(name: str) -> Any:
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {name!r} is not MODULE.FUNCTION")
    return getattr(importlib.import_module(module_name), function_name)


def _report(exception: BaseException) -> None:
    """Uncaught errors go to the function's log the way the Lambda runtime prints them."""
    print(f"[ERROR] {type(exception).__name__}: {exception}", file=sys.stderr)
    traceback.print_exception(exception, file=sys.stderr)
    sys.stderr.flush()


def serve(request_fd: int, response_fd: int) -> int:
    started = time.monotonic()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except BaseException as error:  # the init phase failed: report it, and this sandbox is done
        _report(error)
        payload = error_of(error)
        payload["errorType"] = f"Runtime.{'ImportModuleError' if isinstance(error, ImportError) else 'InitError'}"
        channel.send(response_fd, {"type": "init_error", "error": payload})
        return 1
    channel.send(response_fd, {"type": "ready", "init_ms": (time.monotonic() - started) * 1000})
    while True:
        try:
            request = channel.receive(request_fd)
        except channel.ChannelClosed:
            return 0
        context = LambdaContext(request["request_id"], request["deadline_ms"], request["invoked_function_arn"])
        try:
            result = handler(request["event"], context)
        except Exception as error:
            if error.__traceback__ is not None:  # the user's frames only, as Lambda reports them
                error.__traceback__ = error.__traceback__.tb_next
            _report(error)
            response = channel.encode({"type": "error", "error": error_of(error)})
        else:
            try:
                response = channel.encode({"type": "result", "payload": result})
            except (TypeError, ValueError) as error:
                payload = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {error}"}
                response = channel.encode({"type": "error", "error": payload})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        channel.write_all(response_fd, response)


def main(argv: list[str]) -> int:
    # Ctrl-C in a terminal signals the whole process group; devstack itself stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request_fd, response_fd = int(argv[0]), int(argv[1])
    runtime_root = os.environ.pop("DEVSTACK_RUNTIME_PATH", "")
    if runtime_root and runtime_root in sys.path:  # like /var/runtime: not importable by function code
        sys.path.remove(runtime_root)
    os.environ["PYTHONPATH"] = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    return serve(request_fd, response_fd)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
