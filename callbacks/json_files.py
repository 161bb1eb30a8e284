"""The files the callbacks write: strict JSON (RFC 8259), complete or not there at all.

JSON has no NaN or Infinity: a non-finite number is written as `null`, and the record's own
fields (a status, a reason, the message) say why. Python's `json` would write bare `NaN`,
which strict readers (`JSON.parse`, `json.loads(..., parse_constant=...)`) reject.
"""

import json
import math
import os


def finite_or_none(value):
    """`value` with every non-finite float, at any depth of dicts and lists, replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def json_line(record):
    """One strict-JSON line, newline included."""
    return json.dumps(finite_or_none(record), allow_nan=False) + "\n"


def write_json_atomic(path, data):
    """Writes to a temporary file, fsyncs, then renames: a reader never sees half a file."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(finite_or_none(data), file, indent=2, allow_nan=False)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def append_json_line(path, record):
    """Appends `record` as one line to a JSON-lines file (created with its directory)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(json_line(record))


def check_directory_path(name, value):
    """Returns `value` as a path string, or raises if it is not a non-empty path."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(f"Argument `{name}` must be a directory path. Received: {name}={value!r}")
    return os.fspath(value)
