"""The tiny learning-rate sweep the runner's tests train: the text of its experiment file, to write
into a specs folder (`--specs-dir`). A few seconds of training on 240 digits."""

EXPLODES_CLAIM = """
[[claims]]
id = "lr-too-large-explodes"
claim = "A learning rate that is too large makes the loss explode"
test = "threshold"
metric = "diverged"
arms = [{ learning_rate = 1000000.0 }]
target = 0.5
direction = "greater"
"""


def tiny_sweep(epochs=3, rates=(0.05, 1000000.0), top="", tables=EXPLODES_CLAIM, batch_size=8):
    """SGD on a width-8 MLP over `rates`, 2 seeds. `top`: more top-level keys (e.g. max_seeds);
    `tables`: the tables after [vary] (by default the claim that the huge rate explodes)."""
    batch = f"batch_size = {batch_size}\n" if batch_size else ""
    return (
        'description = "tiny learning-rate sweep"\n'
        'question = "does a huge rate diverge?"\n'
        f"seeds = 2\n{top}\n"
        "[fixed]\n"
        'optimizer = "sgd"\n'
        f"epochs = {epochs}\n"
        "limit = 240\n"
        "width = 8\n"
        f"{batch}"
        "[vary]\n"
        f"learning_rate = [{', '.join(repr(float(rate)) for rate in rates)}]\n"
        f"{tables}"
    )
