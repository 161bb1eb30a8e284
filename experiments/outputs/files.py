"""Writing results files: atomically (a reader or a crash never sees half a file) and as strict JSON.

Strict JSON (RFC 8259) has no NaN or Infinity: a non-finite number is written as `null`, and the
record's `status` and `reason` say why (a diverged run's losses). Files written before this
policy hold bare `NaN`; `read_json` still reads them.
"""

import errno
import json
import math
import os
import tempfile

# Errors of a write that a rerun cannot fix by itself: the disk, the quota, the file system.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM)
# TensorFlow reports a failed write of an event file or checkpoint with its own exception
# classes (ResourceExhaustedError, ...), whose message carries the system's words.
WRITE_MESSAGES = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
    "file too large": errno.EFBIG,
}


class WriteError(Exception):
    """Writing results failed for a reason outside the run (a full disk, a read-only file system):
    the sweep stops, what is written stays, and the interrupted run is redone on the next command.
    `cause` is the system's words ("no space left on device"), `path` where the write went."""

    def __init__(self, cause, path=None):
        super().__init__(cause, path)  # both in args: the error crosses process pools by pickle
        self.cause, self.path = cause, path

    def __str__(self):
        return f"{self.cause} (writing {self.path})" if self.path else self.cause


def write_failure(error):
    """The cause in words ("no space left on device") when `error`, or an error it was raised
    from or while handling, is a failed write; else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, WriteError):
            return error.cause
        if isinstance(error, OSError) and error.errno in WRITE_ERRNOS:
            return (error.strerror or os.strerror(error.errno)).lower()
        message = str(error).lower()
        for words in WRITE_MESSAGES:
            if words in message:
                return words
        error = error.__cause__ or error.__context__
    return None


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
