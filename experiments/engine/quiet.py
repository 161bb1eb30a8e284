"""Import TensorFlow without its start-up chatter, keeping anything that could be a real problem.

TensorFlow 2.16+ prints oneDNN and CUDA notices from C++ before its logging is initialised, so
`TF_CPP_MIN_LOG_LEVEL` does not reach them. We capture file descriptor 2 during the import and
re-emit every line except absl INFO lines ("I0000 ...") and the one-line banner that precedes
them; warnings, errors and Python tracebacks pass through unchanged.
"""

import os
import re
import sys
import tempfile

_NOISE = re.compile(r"^(I\d{4} |WARNING: All log messages before absl::InitializeLog\(\))")
# Looking for a GPU on a machine without one logs a CUDA error; with no GPU found it only says
# that TensorFlow runs on the CPU, which every run's record says ("device" in its versions).
_NO_GPU = re.compile(r"^E\d{4} .*failed call to cuInit")


def import_tensorflow_quietly():
    """Imports tensorflow and keras, and lets TensorFlow look for GPUs, with the C++ start-up
    notices filtered out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    has_gpu = False
    # A temporary file, not a pipe: a pipe could fill up and block the import.
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            # Listing every device is what probes CUDA; done here, its notice is captured too.
            has_gpu = any(device.device_type == "GPU" for device in tf.config.list_physical_devices())
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if not (_NOISE.match(line) or (_NO_GPU.match(line) and not has_gpu)):
                    print(line, file=sys.stderr)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].get_logger().addFilter(_drop_retracing_notice)


def _drop_retracing_notice(record):
    # A sweep builds new callbacks, hence new tf.functions, for every run in one process: each
    # traces once, and TensorFlow's counter of "frequent retracing" across them is meaningless.
    return "triggered tf.function retracing" not in record.getMessage()
