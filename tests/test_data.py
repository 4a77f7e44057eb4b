import functools
import gzip
import hashlib
import http.server
import socketserver
import struct
import threading

import numpy as np
import pooch
import pytest
import torch

from aelib import data


def write_idx(path, array, compress=True, magic_type=0x08, truncate=0):
    header = struct.pack(">HBB", 0, magic_type, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if truncate:
        payload = payload[:-truncate]
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(payload)
    return path


def test_read_idx_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        out = data.read_idx(write_idx(tmp_path / f"x{compress}", images, compress))
        np.testing.assert_array_equal(out, images)


def test_read_idx_truncated_file_is_named(tmp_path):
    path = write_idx(tmp_path / "short.gz", np.zeros((5, 4, 4)), truncate=3)
    with pytest.raises(data.CorruptFileError, match=r"short\.gz.*truncated"):
        data.read_idx(path)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(data.CorruptFileError, match="magic"):
        data.read_idx(path)


def test_read_idx_trailing_bytes_and_broken_gzip(tmp_path):
    good = write_idx(tmp_path / "g", np.zeros((2, 2)), compress=False)
    good.write_bytes(good.read_bytes() + b"xx")
    with pytest.raises(data.CorruptFileError, match="trailing"):
        data.read_idx(good)
    gz = write_idx(tmp_path / "c.gz", np.zeros((50, 50)))
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(data.CorruptFileError, match="c.gz"):
        data.read_idx(gz)


def test_download_verifies_checksum_and_leaves_no_partial_file(tmp_path, server):
    url, handler = server
    handler.payload = b"hello autoencoders"
    digest = hashlib.sha256(b"hello autoencoders").hexdigest()
    dest = tmp_path / "cache" / "file.bin"
    assert data.download_file(url + "file.bin", dest, digest).read_bytes() == b"hello autoencoders"
    bad_dest = tmp_path / "cache" / "bad.bin"
    with pytest.raises(data.CorruptFileError, match="SHA-256 mismatch"):
        data.download_file(url + "bad.bin", bad_dest, "0" * 64)
    assert not bad_dest.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]  # no *.part left behind


def test_download_content_checksum_of_gzip(tmp_path, server, capfd):
    url, handler = server
    handler.payload = gzip.compress(b"payload")
    dest = tmp_path / "out" / "a.gz"
    level = pooch.get_logger().level
    data.download_file(url + "a.gz", dest, content_sha256=hashlib.sha256(b"payload").hexdigest())
    assert dest.exists()
    assert "known_hash" not in capfd.readouterr().err     # pooch's note on a download without a hash
    assert pooch.get_logger().level == level              # and its logger as it was
    wrong = tmp_path / "out" / "b.gz"
    with pytest.raises(data.CorruptFileError, match="content does not match"):
        data.download_file(url + "b.gz", wrong, content_sha256="0" * 64)
    assert not wrong.exists()


def test_download_network_failure_retries_then_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(data.time, "sleep", lambda s: None)
    dest = tmp_path / "never.bin"
    with pytest.raises(ConnectionError, match="after 2 attempt"):
        data.download_file("http://127.0.0.1:9/missing", dest, retries=2)  # port 9: nothing listens
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def _fake_fashion(root, n_train=40, n_test=20):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return root


def test_loader_reads_from_data_dir_and_subsamples_stratified(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _fake_fashion(tmp_path / "fm")
    ds = data.load_fashion_mnist(n_train=20, n_test=10, data_dir=root, download=False)
    assert ds.x_train.shape == (20, 784) and ds.x_train.dtype == torch.float32
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert torch.bincount(ds.y_train).tolist() == [2] * 10
    assert ds.image_shape == (1, 28, 28) and ds.class_names[0] == "T-shirt/top"
    again = data.load_fashion_mnist(n_train=20, n_test=10, data_dir=root, download=False)
    assert torch.equal(ds.x_train, again.x_train)


def test_sizes_are_checked_before_any_file_is_looked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_search_dirs", lambda *a: pytest.fail("looked for files"))
    for bad in ({"n_train": 0}, {"n_test": 10_001}, {"n_train": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            data.load_fashion_mnist(**bad)


def test_data_dir_variable_names_a_folder_per_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("AELIB_DATA_DIR", str(tmp_path))
    dirs = data._search_dirs(data._MNIST, None)
    assert tmp_path / "mnist" in dirs and tmp_path not in dirs  # flat files could be either dataset


def test_offline_without_copy_lists_the_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(data._MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/"])
    monkeypatch.setitem(data._MNIST, "system_dirs", [])
    with pytest.raises(data.DataNotFoundError, match="AELIB_DATA_DIR") as err:
        data.load_mnist(data_dir=tmp_path / "empty")
    assert "Ways to get the data" in str(err.value)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_fallback_from_local_mirror(tmp_path, monkeypatch):
    """The loader downloads from a (fake, local) mirror into the cache when nothing is local."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mirror = _fake_fashion(tmp_path / "mirror")
    handler = functools.partial(_QuietFiles, directory=str(mirror))
    httpd = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    spec = dict(data._FASHION, mirrors=["http://127.0.0.1:9/", url], system_dirs=[], checksum_of="content")
    spec["files"] = {key: (stem, hashlib.sha256(gzip.open(mirror / f"{stem}.gz").read()).hexdigest())
                     for key, (stem, _) in data._FASHION["files"].items()}
    monkeypatch.setattr(data.time, "sleep", lambda s: None)
    try:  # the first mirror refuses the connection: the loader falls back to the second
        ds = data._load_idx_dataset(spec, None, None, 0, None, True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(ds.x_train) == 40
    assert (tmp_path / "cache" / "aelib" / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists()


def test_bad_subsample_sizes(tmp_path):
    root = _fake_fashion(tmp_path / "fm")
    for bad in (0, -3, 41, 2.5, True):
        with pytest.raises(ValueError, match="n_train"):
            data.load_fashion_mnist(n_train=bad, data_dir=root, download=False)


def test_stratified_indices_keep_class_shares():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    idx = data.stratified_indices(labels, 10, seed=1)
    assert len(set(idx)) == 10
    assert np.bincount(labels[idx]).tolist() == [5, 3, 2]


def test_load_digits_offline():
    ds = data.load_digits(n_train=500)
    assert ds.x_train.shape == (500, 64) and ds.image_shape == (1, 8, 8)
    assert float(ds.x_train.max()) == 1.0


def test_digits_train_and_test_do_not_overlap():
    ds = data.load_digits()
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert len(ds.x_test) == 449


def test_image_patches_are_normalised():
    patches = data.image_patches(size=6, n=500, seed=3)
    assert patches.shape == (500, 36)
    assert torch.allclose(patches.mean(1), torch.zeros(500), atol=1e-5)
    assert abs(float(patches.std()) - 1) < 1e-3
    assert torch.equal(patches, data.image_patches(size=6, n=500, seed=3))
    with pytest.raises(ValueError, match="size"):
        data.image_patches(size=1)


def test_resize_images_keeps_constant_images_constant():
    x = torch.full((3, 64), 0.25)
    out = data.resize_images(x, (1, 8, 8), (28, 28))
    assert out.shape == (3, 784) and torch.allclose(out, torch.full_like(out, 0.25))
    with pytest.raises(ValueError, match="shape"):
        data.resize_images(torch.zeros(3, 10), (1, 8, 8), (28, 28))
