"""devstack's own progress next to the emulator's state: where each stream poller stopped, when each
schedule last fired. A small JSON object per file, replaced atomically (write, rename), so a kill -9 leaves
the previous version or the new one, never half of one.

Saved after the work it describes (a stream batch delivered, a schedule's invocation done): a crash in
between repeats that work after the restart (the batch is delivered again, the firing is run again), which
the consumers' inbox markers and the jobs' own checks make harmless; the other order would lose it.
Not fsynced: after a power cut a position may lag, which again only repeats work.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class ProgressFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            loaded = json.loads(path.read_text())
            self._data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self._data = {}

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if self._data.get(key) == value:
                return
            self._data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f"{self.path.name}.{threading.get_ident()}.tmp")
            temporary.write_text(json.dumps(self._data, indent=1, sort_keys=True))
            os.replace(temporary, self.path)
