"""TensorBoard event files written without TensorFlow: Markdown for the Text dashboard and PNG
files for the Images dashboard, through TensorBoard's own protos and record framing (the sweep's
main process never imports TensorFlow).

One call writes one TensorBoard run: `write_run(directory, texts, images)` replaces whatever
event files the directory held (a rerun shows one set, not two).
"""

import os
import struct
import time

EVENT_PREFIX = "events.out.tfevents."


def png_size(png):
    """(width, height) from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", png[16:24])


def text_summary(tag, markdown):
    from tensorboard.plugins.text.summary_v2 import text_pb

    return text_pb(tag, markdown)


def image_summary(tag, png, description=""):
    """The image plugin's format: a string tensor [width, height, encoded PNG]."""
    import numpy as np
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.image import metadata
    from tensorboard.util import tensor_util

    width, height = png_size(png)
    tensor = tensor_util.make_tensor_proto(np.array([str(width).encode(), str(height).encode(), png], dtype=object))
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, tensor=tensor, metadata=metadata.create_summary_metadata(display_name=tag, description=description)
    )
    return summary


def write_run(directory, texts=(), images=(), suffix="report"):
    """One TensorBoard run in `directory`: `texts` [(tag, markdown)] and `images` [(tag, png path)]
    at step 0. Returns the event file's path."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter  # pure Python framing

    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.startswith(EVENT_PREFIX):
            os.remove(os.path.join(directory, name))
    summaries = [text_summary(tag, markdown) for tag, markdown in texts]
    for tag, path in images:
        with open(path, "rb") as f:
            summaries.append(image_summary(tag, f.read()))
    path = os.path.join(directory, f"{EVENT_PREFIX}{int(time.time())}.{suffix}")
    temporary = os.path.join(directory, f".tmp-{os.getpid()}-{suffix}")  # TensorBoard never reads half a file
    try:
        with open(temporary, "wb") as f:
            records = RecordWriter(f)
            records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            for summary in summaries:
                records.write(event_pb2.Event(wall_time=time.time(), step=0, summary=summary).SerializeToString())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
