import gzip
import shutil
import struct

import numpy as np
import pytest

from mnist_core.data import dataset as in_memory
from mnist_core.data import mnist as data

from mnist_core import settings
from mnist_core.data.dataset import DataError, split_validation
from mnist_core.data.kaggle import read_kaggle_csv
from mnist_core.data.mnist import load_mnist


def test_official_files_load_with_expected_shapes_and_ranges(mnist):
    assert mnist.x_train.shape == (60000, 28, 28, 1) and mnist.x_train.dtype == np.float32
    assert mnist.x_test.shape == (10000, 28, 28, 1)
    assert 0.0 == mnist.x_train.min() and mnist.x_train.max() == 1.0
    assert mnist.y_train.dtype == np.int64 and set(np.unique(mnist.y_test)) == set(range(10))
    assert list(mnist.y_train[:5]) == [5, 0, 4, 1, 9]  # the famous first labels


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float64])
def test_float_images_are_exactly_pixels_over_255(dtype):
    # The one-pass conversion must give the very values of the plain formula (saved runs and
    # the bundled model were trained on those), whatever integer or float type comes in.
    pixels = np.arange(256 * 784).reshape(256, 784) % 256
    images = in_memory.to_float_images(pixels.astype(dtype))
    assert images.shape == (256, 28, 28, 1) and images.dtype == np.float32
    assert np.array_equal(images, (pixels.astype(np.float32) / 255.0).reshape(-1, 28, 28, 1))


@pytest.fixture
def idx_copy(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


@pytest.fixture(scope="session")
def mnist_dir():
    from pathlib import Path
    import os

    return Path(os.environ["MNIST_DATA_DIR"])


def test_raw_uncompressed_idx_files_load_too(tmp_path, mnist_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    images = data.read_idx(tmp_path / "t10k-images-idx3-ubyte")
    assert images.shape == (10000, 28, 28)


def test_missing_file_is_named(idx_copy):
    (idx_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing IDX file.*train-labels"):
        load_mnist(idx_copy)


def test_truncated_gzip_is_a_clear_error(idx_copy):
    path = idx_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_mnist(idx_copy)


def test_checksum_mismatch_is_refused(idx_copy):
    path = idx_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # a single wrong label
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="checksum mismatch"):
        load_mnist(idx_copy)


def test_wrong_magic_and_wrong_shape_are_refused(tmp_path):
    bad_magic = tmp_path / "labels.idx"
    bad_magic.write_bytes(struct.pack(">II", 1234, 2) + b"\x01\x02")
    with pytest.raises(DataError, match="wrong magic number"):
        data.read_idx(bad_magic)
    wrong_shape = tmp_path / "images.idx"
    wrong_shape.write_bytes(struct.pack(">IIII", 2051, 1, 32, 32) + bytes(32 * 32))
    with pytest.raises(DataError, match="32x32"):
        data.read_idx(wrong_shape)
    short = tmp_path / "short.idx"
    short.write_bytes(struct.pack(">II", 2049, 10) + bytes(3))
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(short)


def test_keras_npz_loads_and_bad_npz_is_refused(tmp_path, small_mnist):
    pixels = lambda x: (x[..., 0] * 255).round().astype(np.uint8)  # noqa: E731
    np.savez(tmp_path / "mnist.npz", x_train=pixels(small_mnist.x_train), y_train=small_mnist.y_train,
             x_test=pixels(small_mnist.x_test), y_test=small_mnist.y_test)
    loaded = load_mnist(tmp_path)
    assert loaded.x_train.shape == (3000, 28, 28, 1)
    np.testing.assert_allclose(loaded.x_test, small_mnist.x_test, atol=1e-6)
    np.savez(tmp_path / "other.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="missing array"):
        load_mnist(tmp_path / "other.npz")


def test_lookup_order_explicit_then_env_then_project(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setattr(settings, "project_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(data, "keras_cache_file", lambda: tmp_path / "no-cache" / "mnist.npz")
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    assert str(mnist_dir) in load_mnist(allow_download=False).source
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:  # an explicit path is not silently replaced
        load_mnist(empty, allow_download=False)
    assert "the path given" in str(err.value)


def test_nothing_found_lists_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "project_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(data, "keras_cache_file", lambda: tmp_path / "no-cache" / "mnist.npz")
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "env-dir"))
    with pytest.raises(DataError) as err:
        load_mnist(allow_download=False)
    message = str(err.value)
    for place in ("$MNIST_DATA_DIR", "env-dir", "data/ folder", "Keras' cache", "Fix:"):
        assert place in message


def test_failed_download_is_reported_not_raised_raw(tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(settings, "project_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(data, "keras_cache_file", lambda: tmp_path / "no-cache" / "mnist.npz")
    monkeypatch.delenv("MNIST_DATA_DIR")

    def offline():
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="download through keras.*network unreachable"):
        load_mnist()



def test_reading_ahead_gives_the_same_data_and_the_same_errors(idx_copy, monkeypatch):
    """`start_loading_mnist` reads on a thread while the CLI imports TensorFlow; what it returns, and
    how it fails, must be exactly `load_mnist`'s."""
    ahead = data.start_loading_mnist(idx_copy)()
    direct = load_mnist(idx_copy)
    assert np.array_equal(ahead.x_train, direct.x_train) and np.array_equal(ahead.y_test,
                                                                          direct.y_test)
    assert ahead.source == direct.source
    path = idx_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        data.start_loading_mnist(idx_copy)()


def test_reading_ahead_can_keep_the_images_as_uint8(idx_copy):
    """What the server keeps (resources.mnist): uint8 images, a quarter of the memory, that
    `expanded` turns back into exactly `load_mnist`'s floats."""
    direct = load_mnist(idx_copy)
    small = data.start_loading_mnist(idx_copy, as_uint8=True)()
    assert small.x_train.dtype == small.x_test.dtype == np.uint8
    assert small.x_train.shape == direct.x_train.shape and small.source == direct.source
    assert np.array_equal(small.y_train, direct.y_train)
    back = in_memory.expanded(small)
    assert back.x_train.dtype == np.float32
    assert np.array_equal(back.x_train, direct.x_train)
    assert np.array_equal(back.x_test, direct.x_test)
    assert np.array_equal(in_memory.float_images(small.x_test[:5]), direct.x_test[:5])


def test_compact_leaves_images_that_are_not_pixels_over_255_alone(small_mnist):
    assert in_memory.expanded(small_mnist) is small_mnist       # floats already: nothing copied
    odd = in_memory.Dataset(small_mnist.x_train[:4] * np.float32(0.5), small_mnist.y_train[:4],
                       None, None, "halved")
    assert in_memory.compact(odd).x_train is odd.x_train        # not k/255: kept as they are
    assert in_memory.compact(odd).x_test is None


def test_reading_ahead_leaves_the_download_to_the_caller(tmp_path, monkeypatch, small_mnist):
    """The thread never downloads (Keras must not be imported from two threads at once): when
    nothing is on disk, the caller's own `load_mnist` finds nothing too and downloads."""
    import threading

    monkeypatch.setattr(settings, "project_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(data, "keras_cache_file", lambda: tmp_path / "no-cache" / "mnist.npz")
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    calls = []
    real = data.load_mnist

    def recording(path=None, *, allow_download=True):
        calls.append((threading.current_thread().name, allow_download))
        if allow_download:
            return small_mnist   # stands in for the download
        return real(path, allow_download=False)

    monkeypatch.setattr(data, "load_mnist", recording)
    assert data.start_loading_mnist()() is small_mnist
    assert calls == [("mnist-read", False), (threading.current_thread().name, True)]

def test_split_validation_is_reproducible_and_disjoint():
    x = np.arange(100).reshape(100, 1)
    y = np.arange(100)
    a = split_validation(x, y, 0.1, seed=3)
    b = split_validation(x, y, 0.1, seed=3)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert len(a[2]) == 10 and not set(a[1]) & set(a[3])
    with pytest.raises(ValueError):
        split_validation(x, y, 1.0)


# --- Kaggle CSV ---------------------------------------------------------------------------------

HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


def _row(label=3, value=0, n=784):
    return ",".join([str(label)] + [str(value)] * n)


def _csv(tmp_path, text, name="train.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_kaggle_train_csv(tmp_path):
    x, y = read_kaggle_csv(_csv(tmp_path, f"{HEADER}\n{_row(3, 255)}\n{_row(7, 0)}\n"),
                           labelled=True)
    assert x.shape == (2, 28, 28, 1) and list(y) == [3, 7] and x[0].max() == 1.0


def test_valid_kaggle_test_csv_has_no_labels(tmp_path):
    header = ",".join(f"pixel{i}" for i in range(784))
    x, y = read_kaggle_csv(_csv(tmp_path, f"{header}\n{','.join(['9'] * 784)}\n", "test.csv"),
                           labelled=False)
    assert x.shape == (1, 28, 28, 1) and y is None


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    (HEADER + "\n", "no data rows"),
    ("lab," + HEADER[6:] + "\n" + _row() + "\n", "column 1 is 'lab'"),
    (HEADER.rsplit(",", 1)[0] + "\n" + _row(n=783) + "\n", "784 columns, expected 785"),
    (HEADER + ",pixel784\n" + _row(n=785) + "\n", "786 columns, expected 785"),
    (HEADER + "\n" + _row() + "\n" + _row() + ",5\n", "malformed CSV"),
    (HEADER + "\n" + _row() + "\n" + _row().replace(",0,", ",x,", 1) + "\n",
     r"row 2 \(line 3\), column pixel0: 'x' is not a number"),
    (HEADER + "\n" + _row().replace(",0,", ",,", 1) + "\n", "row 1.*pixel0.*empty or NaN"),
    (HEADER + "\n" + _row().replace(",0,", ",NaN,", 1) + "\n", "row 1.*pixel0.*empty or NaN"),
    (HEADER + "\n" + _row(value=256) + "\n", "pixel0: value 256 is outside.*0-255"),
    (HEADER + "\n" + _row().replace(",0,", ",-1,", 1) + "\n", "pixel0: value -1 is outside"),
    (HEADER + "\n" + _row(label=10) + "\n", "column label: value 10 is outside.*0-9"),
    (HEADER + "\n" + _row(value=1.5) + "\n", "value 1.5 is outside"),
], ids=["empty", "header-only", "wrong-header", "783-pixels", "785-pixels", "ragged-row",
        "text-cell", "empty-cell", "nan", "pixel-256", "pixel-minus-1", "label-10", "fraction"])
def test_malformed_kaggle_csv_names_the_problem(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_kaggle_csv(_csv(tmp_path, text), labelled=True)


def test_kaggle_csv_folder_is_a_dataset_without_test_set(tmp_path):
    _csv(tmp_path, f"{HEADER}\n{_row(1, 10)}\n")
    dataset = load_mnist(tmp_path)
    assert dataset.x_test is None and list(dataset.y_train) == [1]
