"""The runner's validation pass gives Keras's numbers bit for bit: against `model.evaluate` on the
same batches, and as `fit`'s history with and without it; EpochSummaries writes its curves."""

import keras
import numpy as np
import pytest

from callbacks import EpochSummaries
from experiments.config.settings import resolve
from experiments.engine import models, training, validation_pass
from tests.test_callbacks_events import read_run, scalars, tags


def _classifier(num_features=12, num_classes=5):
    # Batch norm (moving statistics at inference), dropout (off at inference) and an L2 penalty
    # (a regularization loss, which Keras's val_loss includes).
    return keras.Sequential([
        keras.Input((num_features,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-2)),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def _data(n, seed, num_features=12, num_classes=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, num_features)).astype("float32"), rng.integers(0, num_classes, n).astype("int32")


def test_equals_kerass_evaluate_on_several_batches_with_a_regularization_loss():
    import tensorflow as tf

    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*_data(64, 0), epochs=2, batch_size=16, verbose=0)
    x, y = _data(2500, 1)  # batches of 1024, 1024 and 452
    expected = model.evaluate(tf.data.Dataset.from_tensor_slices((x, y)).batch(1024), verbose=0, return_dict=True)
    loss, accuracy, probabilities = validation_pass.evaluate(model, tf.constant(x), tf.constant(y))
    assert loss == expected["loss"] and accuracy == expected["accuracy"]
    np.testing.assert_array_equal(probabilities, keras.ops.convert_to_numpy(model(x, training=False)))
    assert model.losses  # the penalty was there to be counted


@pytest.mark.parametrize("extra", [{}, {"batch_norm": True}, {"model": "cnn"}])
def test_fit_with_the_pass_has_the_history_of_fit_with_validation_data(extra):
    config = resolve({"epochs": 2, "limit": 300, "width": 8, "seed": 3, **extra})
    dataset = training.get_dataset(config)

    def history(own_pass):
        keras.utils.set_random_seed(3)
        model = models.build_model(config, dataset)
        training.compile_model(model, config, steps_per_epoch=10, dataset=dataset)
        callbacks = [validation_pass.ValidationPass(*training.validation_tensors(dataset))] if own_pass else []
        validation = None if own_pass else training.validation_batches(dataset)
        fitted = model.fit(training.training_batches(dataset, 32, 3), epochs=2, validation_data=validation,
                           callbacks=callbacks, shuffle=False, verbose=0)  # fmt: skip
        return fitted.history

    expected, got = history(False), history(True)
    assert list(got) == list(expected) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert got == expected


def test_train_run_validates_with_the_pass_and_keeps_the_halves(tmp_path):
    config = resolve({"epochs": 2, "limit": 200, "width": 8, "seed": 1})
    record = training.train_run(config, str(tmp_path))
    dataset = training.get_dataset(config)
    assert set(record["history"]) >= {"val_loss", "val_accuracy"} and len(record["history"]["val_loss"]) == 2
    assert record["metrics"]["val_loss"] == record["history"]["val_loss"][-1]
    halves = [record["metrics"][f"val_accuracy_half_{h}"] for h in "ab"]
    # The halves partition the validation set: their accuracies average (weighted) to the whole's.
    middle = len(dataset.x_val) // 2
    whole = (halves[0] * middle + halves[1] * (len(dataset.x_val) - middle)) / len(dataset.x_val)
    assert whole == pytest.approx(record["metrics"]["val_accuracy"], abs=1e-6)


def test_epoch_summaries_write_the_passs_curves_as_for_fits_own_validation(tmp_path):
    config = resolve({"epochs": 2, "limit": 200, "width": 8, "seed": 2})
    dataset = training.get_dataset(config)

    def curves(log_dir, own_pass):
        keras.utils.set_random_seed(2)
        model = models.build_model(config, dataset)
        training.compile_model(model, config, steps_per_epoch=5, dataset=dataset)
        before = [validation_pass.ValidationPass(*training.validation_tensors(dataset))] if own_pass else []
        model.fit(training.training_batches(dataset, 32, 2), epochs=2, verbose=0, shuffle=False,
                  validation_data=None if own_pass else training.validation_batches(dataset),
                  callbacks=[*before, EpochSummaries(str(log_dir))])  # fmt: skip
        run = read_run(str(log_dir), "validation")
        return {tag: scalars(run, tag) for tag in tags(run)}

    expected, got = curves(tmp_path / "fit", False), curves(tmp_path / "pass", True)
    assert got == expected
    assert {"epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations"} <= got.keys()
