"""Feast's file registry, written atomically: a reader never sees a half-written registry.

Feast's ``FileRegistryStore`` rewrites the registry file in place (open, truncate, write), so a process that reads it
meanwhile — scoring, the training set, a CLI call while ``features`` applies the repo — gets a truncated file and
``DecodeError: Error parsing message with type 'feast.core.Registry'``. This store writes the new registry beside the
old one and renames it over it; a reader sees the old registry or the new one, whole. ``repo_config_values`` names
it as the file registry's ``registry_store_type``.
"""

from __future__ import annotations

import os
import uuid

from feast.infra.registry.file import FileRegistryStore
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from feast.utils import _utc_now

STORE_TYPE = "driftloop.features.registry_store.AtomicFileRegistryStore"


class AtomicFileRegistryStore(FileRegistryStore):
    """A file registry store whose writes replace the file with a rename."""

    def _write_registry(self, registry_proto: RegistryProto) -> None:
        """Write the registry to a scratch file in the same folder, flush it to disk, then rename it into place."""
        registry_proto.version_id = str(uuid.uuid4())
        registry_proto.last_updated.FromDatetime(_utc_now())
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        scratch = self._filepath.with_name(f".{self._filepath.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(scratch, mode="wb", buffering=0) as handle:
                handle.write(registry_proto.SerializeToString())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(scratch, self._filepath)
        finally:
            scratch.unlink(missing_ok=True)
