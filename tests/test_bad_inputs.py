"""Careless paths and hostile inputs through the real command lines of all six tools (issue 14).

Every case runs ``python bin/<tool>`` as a user would and checks: exit code != 0, exactly one line
on stderr naming the problem (SNPE-style ``- INFO -`` progress lines printed before a failure that
happens while writing are not error lines, see :func:`error_line`), no traceback, no output written,
and every earlier output (the input model, an older DLC/CSV, older ``Result_N`` folders) intact.

Disk-full cases mount a small tmpfs (root only; skipped elsewhere); read-only cases mount a read-only
tmpfs; "file too large" uses RLIMIT_FSIZE (Python ignores SIGXFSZ, so writes fail with EFBIG).
"""
from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers

ONNX = "snpe-onnx-to-dlc"
TF = "snpe-tensorflow-to-dlc"
TFLITE = "snpe-tflite-to-dlc"
TORCH = "snpe-pytorch-to-dlc"
NET_RUN = "snpe-net-run"
INFO = "snpe-dlc-info"
CONVERTERS = [ONNX, TF, TFLITE, TORCH]
NEEDS_DIM = {TF: ["-d", "x", "1,8,8,3"], TORCH: ["-d", "x", "1,3,8,8"], ONNX: [], TFLITE: []}
TIMEOUT = 60          # no case may hang (a FIFO opened for reading blocks forever)


# ---- models and runs ---------------------------------------------------------------------------
def conv_model(path) -> None:
    """input [1,3,8,8] -> Conv(4, 3x3, pad 1) -> Relu -> output [1,4,8,8]."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((4,)).astype(np.float32), "B")]
    nodes = [helper.make_node("Conv", ["input", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["output"], name="relu")]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def weighty_model(path, n: int = 256) -> None:
    """A Gemm with an n x 256 weight (n*1 KiB of weights)."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((n, 256)).astype(np.float32), "G")]
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "G"], ["y"], transB=1, name="fc")], "fc",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def run(tool: str, *args: str, cwd=None, preexec=None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(helpers.BIN, tool), *map(str, args)], cwd=cwd,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, preexec_fn=preexec)


def error_line(proc, *keywords: str, progress_ok: bool = False) -> str:
    """exit != 0, no traceback, exactly one error line on stderr holding every keyword.

    With ``progress_ok`` the SNPE-style ``... - INFO - ...`` progress lines a converter prints before
    the write fails are allowed before it; the error must then be the last line."""
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in (proc.stdout or "")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if progress_ok:
        assert lines and all(" - INFO - " in ln for ln in lines[:-1]), proc.stderr
        lines = lines[-1:]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{proc.stderr}"
    assert "report it as a bug" not in lines[0], lines[0]
    for k in keywords:
        assert k in lines[0], f"{k!r} not in error line: {lines[0]}"
    return lines[0]


def snapshot(folder) -> dict[str, str]:
    """Relative path -> content hash (or 'dir'/'link') of everything under ``folder``."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            elif os.path.isfile(p):
                out[rel] = hashlib.sha256(open(p, "rb").read()).hexdigest()
            else:
                out[rel] = "special"
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A conv ONNX model, its DLC and a good raw input, in a read-only-by-convention folder."""
    d = tmp_path_factory.mktemp("bad_inputs_src")
    conv_model(d / "m.onnx")
    dlc = d / "m.dlc"
    helpers.convert_in_process(str(d / "m.onnx"), str(dlc))
    raw = d / "input.raw"
    np.random.default_rng(4).standard_normal((1, 8, 8, 3)).astype(np.float32).tofile(raw)
    return {"onnx": d / "m.onnx", "dlc": dlc, "raw": raw, "dir": d}


@pytest.fixture
def work(tmp_path, model):
    """tmp_path holding a copy of the model, a DLC from an earlier run and an earlier CSV."""
    shutil.copy(model["onnx"], tmp_path / "m.onnx")
    shutil.copy(model["dlc"], tmp_path / "earlier.dlc")
    (tmp_path / "earlier.csv").write_text("Id,Name\n0,old\n")
    return tmp_path


def fails_unchanged(folder, tool, *args, keywords=(), progress_ok=False, cwd=None, preexec=None) -> str:
    """Run ``tool``; it must fail with one line and leave ``folder`` byte-for-byte as it was."""
    before = snapshot(folder)
    proc = run(tool, *args, cwd=cwd, preexec=preexec)
    line = error_line(proc, *keywords, progress_ok=progress_ok)
    assert snapshot(folder) == before, "the folder changed"
    return line


@pytest.fixture
def fifo(tmp_path):
    p = tmp_path / "pipe"
    os.mkfifo(p)
    return p


def _mount(folder, *opts: str) -> bool:
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(folder)],
                          capture_output=True)
    return proc.returncode == 0


def _umount(folder) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs (a disk that fills up quickly)."""
    mnt = tmp_path / "small"
    if not _mount(mnt, "size=64k", "mode=0777"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    _umount(mnt)


@pytest.fixture
def ro_fs(tmp_path):
    """A read-only tmpfs holding earlier.dlc and Result_0/y.raw."""
    mnt = tmp_path / "ro"
    if not _mount(mnt, "size=256k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    (mnt / "earlier.dlc").write_bytes(b"earlier")
    (mnt / "Result_0").mkdir()
    (mnt / "Result_0" / "y.raw").write_bytes(b"\0" * 16)
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    yield mnt
    _umount(mnt)


def fsize_limit(nbytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def memory_limit():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


# ---- converters: output safety -------------------------------------------------------------------
@pytest.mark.parametrize("tool", CONVERTERS)
def test_output_same_as_input(work, tool):
    src = work / "m.onnx"
    fails_unchanged(work, tool, "-i", src, "-o", src, *NEEDS_DIM[tool], keywords=("same file", str(src)))


@pytest.mark.parametrize("how", ["symlink", "hardlink", "dotdot"])
def test_output_links_to_input(work, how):
    src = work / "m.onnx"
    if how == "symlink":
        out = work / "link.dlc"
        os.symlink(src, out)
    elif how == "hardlink":
        out = work / "hard.dlc"
        os.link(src, out)
    else:
        (work / "sub").mkdir()
        out = work / "sub" / ".." / "m.onnx"
    fails_unchanged(work, ONNX, "-i", src, "-o", out, keywords=("same file",))


def test_default_output_is_the_input(work):
    """``-i model.dlc`` (an ONNX file named .dlc) without -o: the default output is the input itself."""
    src = work / "model.dlc"
    shutil.copy(work / "m.onnx", src)
    fails_unchanged(work, ONNX, "-i", src, keywords=("same file", "default output path"))


def test_output_is_the_copyright_file(work):
    c = work / "copyright.txt"
    c.write_text("(c) me\n")
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "--copyright_file", c, "-o", c, keywords=("same file",))


def test_output_is_external_data_file(work):
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((64, 256)).astype(np.float32), "G")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "G"], ["y"], transB=1)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, str(work / "ext.onnx"), save_as_external_data=True, location="ext.bin", size_threshold=0)
    fails_unchanged(work, ONNX, "-i", work / "ext.onnx", "-o", work / "ext.bin", keywords=("external-data",))


@pytest.mark.parametrize("tool", CONVERTERS)
def test_output_is_a_device(work, tool):
    line = fails_unchanged(work, tool, "-i", work / "m.onnx", "-o", "/dev/null", *NEEDS_DIM[tool],
                           keywords=("/dev/null", "character device"))
    assert "regular file" in line
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("tool", CONVERTERS)
def test_output_is_a_directory(work, tool):
    (work / "outdir").mkdir()
    fails_unchanged(work, tool, "-i", work / "m.onnx", "-o", work / "outdir", *NEEDS_DIM[tool],
                    keywords=("is a directory", "file name"))


def test_output_is_a_fifo(work, fifo):
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "-o", fifo, keywords=("FIFO",))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("tool", CONVERTERS)
def test_output_folder_missing_is_not_created(work, tool):
    out = work / "no" / "such" / "m.dlc"
    fails_unchanged(work, tool, "-i", work / "m.onnx", "-o", out, *NEEDS_DIM[tool],
                    keywords=("does not exist", str(work / "no" / "such")))
    assert not (work / "no").exists()


def test_output_under_a_file(work):
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "-o", work / "m.onnx" / "x.dlc",
                    keywords=("is a file, not a folder",))


def test_output_dangling_symlink(work):
    os.symlink(work / "nowhere.dlc", work / "dangling.dlc")
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "-o", work / "dangling.dlc", keywords=("symbolic link",))


def test_output_read_only(work, ro_fs):
    before = snapshot(ro_fs)
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "-o", ro_fs / "earlier.dlc", keywords=("read-only",))
    assert snapshot(ro_fs) == before


def test_output_disk_full_keeps_earlier_dlc(work, small_fs):
    weighty_model(work / "big.onnx", n=256)                 # a 256 KiB weight: never fits in 64 KiB
    (small_fs / "out.dlc").write_bytes(b"earlier DLC")
    before = snapshot(small_fs)
    proc = run(ONNX, "-i", work / "big.onnx", "-o", small_fs / "out.dlc")
    error_line(proc, "disk is full", "nothing was written", progress_ok=True)
    assert snapshot(small_fs) == before


def test_output_file_too_large_keeps_earlier_dlc(work, model):
    weighty_model(work / "big.onnx", n=256)
    before = snapshot(work)
    proc = run(ONNX, "-i", work / "big.onnx", "-o", work / "earlier.dlc", preexec=fsize_limit(64 << 10))
    error_line(proc, "too large", progress_ok=True)
    assert snapshot(work) == before
    assert (work / "earlier.dlc").read_bytes() == model["dlc"].read_bytes()


# ---- converters: inputs -------------------------------------------------------------------------
@pytest.mark.parametrize("tool", CONVERTERS)
def test_input_dev_zero(work, tool):
    t0 = time.monotonic()
    fails_unchanged(work, tool, "-i", "/dev/zero", "-o", work / "o.dlc", *NEEDS_DIM[tool],
                    keywords=("/dev/zero", "not a regular file"))
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("tool", CONVERTERS)
def test_input_fifo_does_not_hang(work, fifo, tool):
    fails_unchanged(work, tool, "-i", fifo, "-o", work / "o.dlc", *NEEDS_DIM[tool], keywords=("FIFO",))


@pytest.mark.parametrize("tool", [ONNX, TFLITE, TORCH])
def test_input_directory(work, tool):
    (work / "d").mkdir()
    fails_unchanged(work, tool, "-i", work / "d", "-o", work / "o.dlc", *NEEDS_DIM[tool],
                    keywords=("is a directory",))


def test_savedmodel_output_inside_model(work):
    sm = work / "saved"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(b"\x08\x01")
    fails_unchanged(work, TF, "-i", sm, "-o", sm / "saved_model.pb", *NEEDS_DIM[TF], keywords=("SavedModel",))


def test_checkpoint_output_is_a_checkpoint_file(work):
    (work / "model.ckpt.meta").write_bytes(b"meta")
    (work / "model.ckpt.index").write_bytes(b"index")
    fails_unchanged(work, TF, "-i", work / "model.ckpt.meta", "-o", work / "model.ckpt.index", *NEEDS_DIM[TF],
                    keywords=("same file", "model.ckpt.index"))


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00binary\x00" * 10])
def test_copyright_file_not_text(work, content):
    c = "/dev/zero" if content is None else work / "c.bin"
    if content is not None:
        c.write_bytes(content)
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "--copyright_file", c, "-o", work / "o.dlc",
                    keywords=("--copyright_file",))


# ---- converters: unclear errors -------------------------------------------------------------------
@pytest.mark.parametrize("tool", [ONNX, TORCH])
def test_negative_dim_without_quotes_is_one_line(work, tool):
    a = fails_unchanged(work, tool, "-i", work / "m.onnx", "-d", "x", "-1,3,8,8", "-o", work / "o.dlc",
                        keywords=("-d/--input_dim", "-1,3,8,8", "positive integer"))
    b = fails_unchanged(work, tool, "-i", work / "m.onnx", "-d", "x", " -1,3,8,8", "-o", work / "o.dlc")
    assert a == b


def test_input_dim_missing_value_is_one_line(work):
    proc = run(ONNX, "-i", work / "m.onnx", "-d", "x=-1,3,8,8", "-o", work / "o.dlc")
    assert proc.returncode == 2
    error_line(proc, "--input_dim", "INPUT_NAME INPUT_DIM", "--help")
    assert "usage:" not in proc.stderr


def test_unknown_option_is_one_line(work):
    proc = run(ONNX, "-i", work / "m.onnx", "--frobnicate")
    error_line(proc, "unrecognized arguments: --frobnicate")


def test_negative_symbol_value(work):
    fails_unchanged(work, ONNX, "-i", work / "m.onnx", "-s", "N", "-1", "-o", work / "o.dlc",
                    keywords=("--define_symbol", "positive"))


# ---- temp files ----------------------------------------------------------------------------------
def test_stale_temp_files_are_removed_by_the_next_write(work):
    old = work / ".snpe-tools-killed1.dlc.tmp"
    old_csv = work / ".snpe-tools-killed2.csv.tmp"
    young = work / ".snpe-tools-running.dlc.tmp"
    other = work / ".snpe-tools-notes.txt"
    for p in (old, old_csv, young, other):
        p.write_bytes(b"x" * 100)
    two_hours_ago = time.time() - 7200
    for p in (old, old_csv, other):
        os.utime(p, (two_hours_ago, two_hours_ago))
    run(ONNX, "-i", work / "m.onnx", "-o", work / "new.dlc").check_returncode()
    assert not old.exists() and not old_csv.exists()
    assert young.exists() and other.exists()          # maybe a run still going; not ours


SLOW_WRITE = textwrap.dedent("""
    import sys, time
    import snpe_tools.dlc.writer as w
    from snpe_tools.tools.common import run_main
    from snpe_tools.tools.onnx_to_dlc import main
    real = w._zip_member
    def slow(zf, name, data):
        real(zf, name, data)
        if name == "model":
            open(sys.argv[1], "w").close()
            time.sleep(60)
    w._zip_member = slow
    sys.exit(run_main(main, sys.argv[2:]))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_write_removes_temp_file(work, sig):
    marker = work / "writing"
    before = snapshot(work)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(marker), "-i", str(work / "m.onnx"), "-o",
                             str(work / "earlier.dlc")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=helpers.ROOT)
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert marker.exists(), proc.communicate()
    assert [n for n in os.listdir(work) if n.startswith(".snpe-tools-")]       # the temp file is there
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 128 + sig or (sig == signal.SIGINT and proc.returncode == 130)
    error_line(subprocess.CompletedProcess([], proc.returncode, out, err), "temporary files were removed",
               progress_ok=True)
    marker.unlink()
    assert snapshot(work) == before


# ---- snpe-net-run --------------------------------------------------------------------------------
def net_run(lst, out, container, *extra, preexec=None, cwd=None):
    return run(NET_RUN, "--container", container, "--input_list", lst, "--output_dir", out, *extra,
               preexec=preexec, cwd=cwd)


def good_run(work, model, out, lines: int = 1):
    lst = work / "good.txt"
    lst.write_text(f"{model['raw']}\n" * lines)
    net_run(lst, out, model["dlc"]).check_returncode()


@pytest.fixture
def earlier(work, model):
    """An output folder holding Result_0..Result_2 of an earlier run."""
    out = work / "output"
    good_run(work, model, out, lines=3)
    return out


def test_net_run_binary_input_list(work, model, earlier):
    lst = work / "list.bin"
    lst.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", earlier,
                    keywords=("not UTF-8", str(lst)))


@pytest.mark.parametrize("what", ["dev_zero", "fifo", "directory"])
def test_net_run_input_list_not_a_file(work, model, earlier, fifo, what):
    lst = {"dev_zero": "/dev/zero", "fifo": fifo, "directory": work}[what]
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", earlier,
                    keywords=(str(lst),))


@pytest.mark.parametrize("what", ["dev_zero", "fifo", "directory"])
def test_net_run_raw_input_not_a_file(work, model, earlier, fifo, what):
    raw = {"dev_zero": "/dev/zero", "fifo": fifo, "directory": work}[what]
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n{raw}\n")
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", earlier,
                    keywords=(str(raw),))


def test_net_run_bad_later_line_writes_nothing(work, model, earlier):
    """Line 3 has a wrong-size file: checked before the first inference, nothing is written."""
    short = work / "short.raw"
    short.write_bytes(b"\0" * 12)
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n{model['raw']}\n{short}\n")
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", earlier,
                    keywords=(str(short), "expects"))


def test_net_run_failed_run_does_not_create_output_dir(work, model):
    lst = work / "list.txt"
    lst.write_text(f"{work / 'missing.raw'}\n")
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir",
                    work / "new" / "out", keywords=("not found",))
    assert not (work / "new").exists()


@pytest.mark.parametrize("what", ["file", "under_file", "dev_null"])
def test_net_run_output_dir_not_a_folder(work, model, what):
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n")
    out = {"file": work / "m.onnx", "under_file": work / "m.onnx" / "out", "dev_null": "/dev/null"}[what]
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", out,
                    keywords=("--output_dir",))


def test_net_run_result_is_a_file(work, model):
    out = work / "out"
    out.mkdir()
    (out / "Result_0").write_text("not a folder")
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n")
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", out,
                    keywords=("Result_0", "not a folder"))


def test_net_run_read_only_output(work, model, ro_fs):
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n")
    before = snapshot(ro_fs)
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", ro_fs,
                    keywords=("read-only",))
    assert snapshot(ro_fs) == before


def test_net_run_disk_full_keeps_earlier_results(work, model, small_fs):
    out = small_fs / "output"
    good_run(work, model, out, lines=1)
    before = snapshot(small_fs)
    lst = work / "list.txt"
    lst.write_text(f"{model['raw']}\n" * 40)          # 40 x 4 KiB pages: more than 64 KiB
    proc = net_run(lst, out, model["dlc"])
    error_line(proc, "disk is full", "left as it was")
    assert snapshot(small_fs) == before


def test_net_run_file_too_large(work, model, earlier):
    before = snapshot(work)
    proc = net_run(work / "good.txt", earlier, model["dlc"], preexec=fsize_limit(100))
    error_line(proc, "too large")
    assert snapshot(work) == before


def test_net_run_success_replaces_results_and_keeps_others(work, model, earlier):
    """Documented behaviour: a successful run replaces the Result_N it writes, and only those."""
    (earlier / "Result_0" / "stale.raw").write_bytes(b"old")
    good_run(work, model, earlier, lines=1)
    assert not (earlier / "Result_0" / "stale.raw").exists()
    assert (earlier / "Result_2" / "output.raw").exists()
    assert not [n for n in os.listdir(earlier) if n.startswith(".snpe-tools-")]


@pytest.mark.parametrize("what", ["dev_zero", "fifo"])
def test_net_run_container_not_a_file(work, model, earlier, fifo, what):
    c = {"dev_zero": "/dev/zero", "fifo": fifo}[what]
    fails_unchanged(work, NET_RUN, "--container", c, "--input_list", work / "good.txt", "--output_dir", earlier,
                    keywords=(str(c), "not a regular file"))


def test_net_run_unknown_output_tensor(work, model, earlier):
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", work / "good.txt",
                    "--output_dir", earlier, "--set_output_tensors", "nope", keywords=("'nope'",))


def test_net_run_debug_flag_shows_no_traceback(work, model, earlier):
    """--debug is SNPE's layer dump here, not a traceback switch."""
    lst = work / "list.txt"
    lst.write_text(f"{work / 'missing.raw'}\n")
    fails_unchanged(work, NET_RUN, "--container", model["dlc"], "--input_list", lst, "--output_dir", earlier,
                    "--debug", keywords=("not found",))


SLOW_RUN = textwrap.dedent("""
    import sys, time
    import snpe_tools.tools.net_run as nr
    from snpe_tools.tools.common import run_main
    real = nr.execute
    calls = []
    def slow(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            open(sys.argv[1], "w").close()
            time.sleep(60)
        return real(*a, **k)
    nr.execute = slow
    sys.exit(run_main(nr.main, sys.argv[2:], debug_traces=False))
""")


def test_net_run_sigterm_keeps_earlier_results(work, model, earlier):
    marker = work / "running"
    before = snapshot(work)
    lst = work / "good.txt"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(marker), "--container", str(model["dlc"]),
                             "--input_list", str(lst), "--output_dir", str(earlier)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=helpers.ROOT)
    lst.write_text(f"{model['raw']}\n" * 3)
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert marker.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 143
    error_line(subprocess.CompletedProcess([], proc.returncode, out, err), "SIGTERM")
    marker.unlink()
    after = snapshot(work)
    assert {k: v for k, v in after.items() if k != "good.txt"} == {k: v for k, v in before.items()
                                                                  if k != "good.txt"}


# ---- hostile DLC containers (snpe-dlc-info and snpe-net-run) ---------------------------------------
def _patch_member_sizes(src, dst, member: str, method: int | None = None, declared: int | None = None,
                        stream: bytes | None = None) -> None:
    """Rebuild ``src`` with ``member`` deflated (or its raw bytes replaced by ``stream``) and headers
    claiming ``declared`` inflated bytes and compression ``method``."""
    with zipfile.ZipFile(src) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name == member else zipfile.ZIP_STORED
            zout.writestr(info, data)
    blob = bytearray(open(dst, "rb").read())
    with zipfile.ZipFile(dst) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    central = [i for i in range(len(blob)) if blob[i:i + 4] == b"PK\x01\x02"
               and blob[i + 46:i + 46 + len(member)] == member.encode()][0]
    if stream is not None:
        nlen, xlen = int.from_bytes(blob[local + 26:local + 28], "little"), \
            int.from_bytes(blob[local + 28:local + 30], "little")
        start = local + 30 + nlen + xlen
        assert len(stream) <= info.compress_size
        blob[start:start + len(stream)] = stream
    for base, off_method, off_size in ((local, 8, 22), (central, 10, 24)):
        if method is not None:
            blob[base + off_method:base + off_method + 2] = method.to_bytes(2, "little")
        if declared is not None:
            blob[base + off_size:base + off_size + 4] = declared.to_bytes(4, "little")
    open(dst, "wb").write(bytes(blob))


def test_metadata_bomb_declared_size_refused_quickly(work, model):
    bomb = work / "bomb.dlc"
    _patch_member_sizes(model["dlc"], bomb, "dlc.metadata", declared=3 << 30)
    t0 = time.monotonic()
    fails_unchanged(work, INFO, "-i", bomb, keywords=("dlc.metadata", "MiB"), preexec=memory_limit)
    fails_unchanged(work, NET_RUN, "--container", bomb, "--input_list", model["dir"] / "none.txt",
                    "--output_dir", work / "o", keywords=("dlc.metadata", "MiB"), preexec=memory_limit)
    assert time.monotonic() - t0 < 30


def test_metadata_bomb_that_lies_about_its_size(work, model):
    """The deflate stream inflates to 64 MiB while the headers claim 1,000 bytes: read stops at 1,001."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = b"".join(c.compress(b"\0" * (1 << 20)) for _ in range(64)) + c.flush()
    big = work / "big_meta.dlc"
    with zipfile.ZipFile(model["dlc"]) as zin, zipfile.ZipFile(big, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "dlc.metadata":
                data = os.urandom(len(stream) + 64)         # incompressible: room for the stream
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED if info.filename == "dlc.metadata" else zipfile.ZIP_STORED
            zout.writestr(zi, data)
    bomb = work / "liar.dlc"
    _patch_member_sizes(big, bomb, "dlc.metadata", declared=1000, stream=stream)
    big.unlink()
    fails_unchanged(work, INFO, "-i", bomb, keywords=(str(bomb), "dlc.metadata"), preexec=memory_limit)


def test_unknown_compression_method(work, model):
    bad = work / "method.dlc"
    _patch_member_sizes(model["dlc"], bad, "model", method=99)
    fails_unchanged(work, INFO, "-i", bad, keywords=(str(bad),))


def test_stored_member_with_two_sizes(work, model):
    bad = work / "sizes.dlc"
    shutil.copy(model["dlc"], bad)
    blob = bytearray(bad.read_bytes())
    i = max(i for i in range(len(blob)) if blob[i:i + 4] == b"PK\x01\x02")
    blob[i + 24:i + 28] = (0x7FFFFFFF).to_bytes(4, "little")     # uncompressed size of the last member
    bad.write_bytes(bytes(blob))
    fails_unchanged(work, INFO, "-i", bad, keywords=(str(bad),))


# ---- snpe-dlc-info ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["same", "hardlink", "symlink"])
def test_dlc_info_save_onto_the_dlc(work, how):
    dlc = work / "earlier.dlc"
    target = {"same": dlc, "hardlink": work / "h.csv", "symlink": work / "s.csv"}[how]
    if how == "hardlink":
        os.link(dlc, target)
    elif how == "symlink":
        os.symlink(dlc, target)
    fails_unchanged(work, INFO, "-i", dlc, "-s", target, keywords=("same file",))


@pytest.mark.parametrize("what", ["directory", "dev_null", "missing_folder", "under_file"])
def test_dlc_info_bad_save_target(work, what):
    target = {"directory": work, "dev_null": "/dev/null", "missing_folder": work / "no" / "x.csv",
              "under_file": work / "earlier.csv" / "x.csv"}[what]
    fails_unchanged(work, INFO, "-i", work / "earlier.dlc", "-s", target, keywords=("-s/--save",))


@pytest.mark.parametrize("what", ["dev_zero", "fifo"])
def test_dlc_info_input_not_a_file(work, fifo, what):
    src = {"dev_zero": "/dev/zero", "fifo": fifo}[what]
    fails_unchanged(work, INFO, "-i", src, keywords=(str(src), "not a regular file"))


def test_dlc_info_save_disk_full_keeps_earlier_csv(work, small_fs, model):
    (small_fs / "filler").write_bytes(b"\0" * (60 << 10))
    (small_fs / "t.csv").write_text("earlier\n")
    before = snapshot(small_fs)
    proc = run(INFO, "-i", model["dlc"], "-s", small_fs / "t.csv")
    if proc.returncode == 0:
        pytest.skip("the CSV fitted in the remaining space")
    error_line(proc, "disk is full")
    assert snapshot(small_fs) == before


def test_dlc_info_stdout_full(work):
    proc = run(INFO, "-i", work / "earlier.dlc", stdout=open("/dev/full", "w"))
    error_line(proc, "disk is full")


def test_dlc_info_closed_pipe_exits_quietly(work):
    """``snpe-dlc-info ... | head``: no 'BrokenPipeError' noise, the exit status of a SIGPIPE'd tool."""
    proc = subprocess.Popen([sys.executable, os.path.join(helpers.BIN, INFO), "-i", str(work / "earlier.dlc"),
                             "-m"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # the reader went away before the tool printed anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=TIMEOUT) == 141
    assert err == ""
