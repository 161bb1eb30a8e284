"""Data loaders: digits scalings and split, and MNIST / Fashion-MNIST read from small files the
tests write into a temporary Keras home, plus the clear error when they are missing offline."""

import gzip

import numpy as np
import pytest

from experiments import data


def test_digits_split_is_fixed_and_scalings_do_what_they_say():
    standard = data.load_dataset("digits", "standardize")
    raw = data.load_dataset("digits", "raw")
    assert (len(standard.x_train), len(standard.x_val)) == (1348, 449)
    np.testing.assert_array_equal(standard.y_train, raw.y_train)  # same split whatever the scaling
    assert raw.x_train.max() == 16.0 and raw.x_train.min() == 0.0
    np.testing.assert_allclose(standard.x_train.mean(axis=0), 0.0, atol=1e-5)
    varying = raw.x_train.std(axis=0) > 0
    np.testing.assert_allclose(standard.x_train.std(axis=0)[varying], 1.0, rtol=1e-4)
    assert data.load_dataset("digits", "unit").x_train.max() == 1.0
    skewed = data.load_dataset("digits", "skewed")
    np.testing.assert_allclose(skewed.x_train[:, ::2], 10.0 * standard.x_train[:, ::2], rtol=1e-6)
    np.testing.assert_allclose(skewed.x_train[:, 1::2], standard.x_train[:, 1::2])


def test_bad_arguments_name_the_choices():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'; choose one of digits, mnist, fashion_mnist"):
        data.load_dataset("cifar")
    with pytest.raises(ValueError, match="Unknown input_scaling 'log'"):
        data.load_dataset("digits", "log")


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def test_mnist_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (x_train, y_train), (x_test, y_test) = _images(30, 0), _images(10, 1)
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    dataset = data.load_dataset("mnist", "raw", validation_fraction=0.25)
    assert dataset.num_features == 784 and len(dataset.x_train) + len(dataset.x_val) == 40
    every_image = np.concatenate([x_train, x_test]).reshape(40, -1).astype(np.float32)
    np.testing.assert_array_equal(np.sort(np.concatenate([dataset.x_train, dataset.x_val]), axis=0),
                                  np.sort(every_image, axis=0))
    assert data.load_dataset("mnist", "unit").x_train.max() <= 1.0


def _write_idx(path, array, header_bytes):
    with gzip.open(path, "wb") as f:
        f.write(b"\0" * header_bytes + array.tobytes())


def test_fashion_mnist_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    (x_train, y_train), (x_test, y_test) = _images(20, 2), _images(8, 3)
    for name, array, header in zip(data.FASHION_MNIST_FILES, (y_train, x_train, y_test, x_test), (8, 16, 8, 16)):
        _write_idx(folder / name, array, header)
    dataset = data.load_dataset("fashion_mnist", "raw")
    assert len(dataset.x_train) + len(dataset.x_val) == 28
    labels = np.sort(np.concatenate([dataset.y_train, dataset.y_val]))
    np.testing.assert_array_equal(labels, np.sort(np.concatenate([y_train, y_test])))


def test_missing_download_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data, "_keras_fetch", offline)
    with pytest.raises(data.DatasetUnavailableError) as error:
        data.load_dataset("mnist")
    message = str(error.value)
    assert "'mnist' is not on disk and could not be downloaded (OSError: URL fetch failure" in message
    assert str(tmp_path / "datasets" / "mnist.npz") in message and "--dataset digits" in message


def test_the_runner_stops_before_training_when_the_data_set_is_missing(tmp_path, monkeypatch, capsys):
    from experiments import cli

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(data, "_keras_fetch", lambda name: (_ for _ in ()).throw(OSError("no network")))
    assert cli.main(["learning_rate", "--dataset", "mnist", "--logdir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run.py: error: Dataset 'mnist' is not on disk") and len(err.splitlines()) == 1
    assert not (tmp_path / "logs" / "learning_rate").exists()
