"""Run ids as the code computed them before results version 2 (no `threads` field, no version
in the hash), for the tests that pin what a grid ran then."""
from __future__ import annotations

import hashlib
import json


def legacy_id(config) -> str:
    """The pre-version-2 run id of `config`, which must use one thread (the old code had no field)."""
    fields = config.to_dict()
    assert fields.pop("threads") == 1, "the old code had no threads field: only 1-thread configs have a legacy id"
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
