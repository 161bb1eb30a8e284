"""Writing results files: atomically (a reader or a crash never sees half a file) and as strict JSON.

Strict JSON (RFC 8259) has no NaN or Infinity: a non-finite number is written as `null`, and the
record's `status` and `reason` say why (a diverged run's losses). Files written before this
policy hold bare `NaN`; `read_json` still reads them.
"""

import json
import math
import os
import tempfile


def write_bytes_atomic(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path, text):
    write_bytes_atomic(path, text.encode())


def to_strict_json(value):
    """`value` with numpy scalars and arrays as Python numbers and lists, non-finite floats as None."""
    if isinstance(value, dict):
        return {key: to_strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_strict_json(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (bool, int, float, str)):
        return to_strict_json(value.tolist())  # numpy scalar (.tolist() gives a Python number) or array
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(data, indent=2):
    return json.dumps(to_strict_json(data), indent=indent, sort_keys=True, allow_nan=False)


def write_json_atomic(path, data):
    write_text_atomic(path, dumps_strict(data) + "\n")


def write_csv_atomic(path, frame):
    write_text_atomic(path, frame.to_csv(index=False))


def write_figure_atomic(path, figure, **savefig_options):
    """A matplotlib figure saved under a temporary name, then renamed into place."""
    root, extension = os.path.splitext(path)
    tmp = f"{root}.tmp-{os.getpid()}{extension}"  # savefig picks the format from the extension
    try:
        figure.savefig(tmp, **savefig_options)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path):
    """The parsed file, or None if it is missing or not JSON. Bare NaN / Infinity (older files) read
    as floats, as Python's json module allows."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
