"""Bounded fuzz test of the DLC reader: damaged DLCs raise :class:`DLCError` and nothing else.

Seeds: a DLC converted from ``models/resnet_small.onnx`` and, when present, the real Qualcomm files in
``shared/reference/dlc-real`` (``*.dlc`` and ``third_party/**/*.dlc``).  Each iteration applies one
mutation chosen with a fixed seed:

* byte flips or interesting 32/64-bit values written anywhere in the file (mostly caught by the ZIP CRC);
* truncation of the file;
* the same inside one ZIP member with the CRC recomputed, so the flatbuffer parser sees the damage;
* member swaps, drops, duplicates and renames;
* hostile ZIP headers: deflated members (small and bombs), declared sizes that lie, unknown methods.

Every ``read_dlc`` must either return or raise ``DLCError`` (a message quoting a damaged name with a
newline is reported as a warning: the tools print it escaped on one line); any other exception, a read slower than
:data:`MAX_SECONDS`, or a Python-heap peak above :data:`MAX_PEAK` (tracemalloc, checked on one read
in :data:`TRACE_EVERY`) fails the test, as does the process's peak RSS growing past :data:`MAX_RSS_GROWTH`.

The CI run is time-boxed to 20 s.  A longer run (the issue asks for 10 minutes), with another seed::

    SNPE_FUZZ_SECONDS=600 SNPE_FUZZ_SEED=7 /work/venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/test_dlc_fuzz.py

Failing cases are copied to ``$SNPE_FUZZ_KEEP`` (a folder) when that variable is set.
"""
from __future__ import annotations

import io
import os
import random
import resource
import shutil
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.errors import DLCError

SECONDS = float(os.environ.get("SNPE_FUZZ_SECONDS", "20"))
SEED = int(os.environ.get("SNPE_FUZZ_SEED", "20240614"))
MAX_SECONDS = 10.0                 # one read of a file of a few hundred KB
MAX_PEAK = 256 << 20               # Python-heap peak of one read (the seeds are < 200 KB)
MAX_RSS_GROWTH = 768 << 20         # growth of the whole process's peak RSS during the run
TRACE_EVERY = 10
REAL_DIR = Path(__file__).resolve().parents[2] / "shared/reference/dlc-real"
INTERESTING = [0, 1, 2, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFF, 0xFFFFFFF0]


# ---- seeds --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    out = []
    d = tmp_path_factory.mktemp("fuzz_seed")
    dlc = str(d / "resnet_small.dlc")
    helpers.convert_in_process(os.path.join(helpers.ROOT, "models", "resnet_small.onnx"), dlc)
    out.append(("resnet_small.dlc", open(dlc, "rb").read()))
    if REAL_DIR.is_dir():
        for p in sorted(REAL_DIR.glob("*.dlc")) + sorted(REAL_DIR.glob("third_party/**/*.dlc")):
            out.append((p.name, p.read_bytes()))
    return out


# ---- ZIP helpers --------------------------------------------------------------------------------
def members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """The members of a sound seed, read without CRC checks (QAIRT 4.1 files have CRC 0)."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            h = info.header_offset
            nlen, xlen = struct.unpack_from("<HH", data, h + 26)
            start = h + 30 + nlen + xlen
            out.append((info, data[start:start + info.compress_size]))
    return out


def build(items: list[tuple[str, bytes]], deflate: set[str] = frozenset()) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", allowZip64=True) as zf:
        warnings.simplefilter("ignore")           # duplicate names are one of the mutations
        for name, payload in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            zf.writestr(info, payload)
    return buf.getvalue()


def central_entries(data: bytes) -> list[int]:
    """Offsets of the central-directory headers."""
    out, i = [], data.find(b"PK\x01\x02")
    while i >= 0:
        out.append(i)
        i = data.find(b"PK\x01\x02", i + 4)
    return out


# ---- mutations ----------------------------------------------------------------------------------
def flip_bytes(rng: random.Random, blob: bytes) -> bytes:
    b = bytearray(blob)
    if not b:
        return bytes(b)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
    return bytes(b)


def put_word(rng: random.Random, blob: bytes) -> bytes:
    b = bytearray(blob)
    if len(b) < 8:
        return bytes(b)
    v = rng.choice(INTERESTING)
    if rng.random() < 0.3:
        v = (struct.unpack_from("<I", b, (rng.randrange(len(b) - 4)))[0] + rng.choice([-4, -1, 1, 4, 1 << 16])) \
            & 0xFFFFFFFF
    i = rng.randrange(len(b) - 8)
    if rng.random() < 0.2:
        struct.pack_into("<Q", b, i, v if rng.random() < 0.5 else (v << 32) | v)
    else:
        struct.pack_into("<I", b, i, v)
    return bytes(b)


def splice(rng: random.Random, blob: bytes) -> bytes:
    if len(blob) < 2:
        return blob
    i, j = sorted(rng.randrange(len(blob)) for _ in range(2))
    op = rng.randrange(3)
    if op == 0:
        return blob[:i] + blob[j:]                      # delete
    if op == 1:
        return blob[:i] + blob[i:j] + blob[i:]          # duplicate a span
    return blob[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))) + blob[i:]


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["file_flip", "file_word", "truncate", "member_flip", "member_flip", "member_word",
                       "member_word", "member_word", "member_splice", "member_truncate", "swap", "drop",
                       "dup", "rename", "deflate", "declared_size", "method", "bomb"])
    if kind == "file_flip":
        return kind, flip_bytes(rng, data)
    if kind == "file_word":
        return kind, put_word(rng, data)
    if kind == "truncate":
        return kind, data[:rng.randrange(len(data))]
    items = [(i.filename, payload) for i, payload in members(data)]
    names = [n for n, _ in items]
    k = rng.randrange(len(items))
    name, payload = items[k]
    if kind == "member_flip":
        items[k] = (name, flip_bytes(rng, payload))
    elif kind == "member_word":
        for _ in range(rng.choice([1, 1, 2, 3])):
            payload = put_word(rng, payload)
        items[k] = (name, payload)
    elif kind == "member_splice":
        items[k] = (name, splice(rng, payload))
    elif kind == "member_truncate":
        items[k] = (name, payload[:rng.randrange(len(payload) + 1)])
    elif kind == "swap" and len(items) > 1:
        j = rng.choice([x for x in range(len(items)) if x != k])
        items[k], items[j] = (name, items[j][1]), (items[j][0], payload)
    elif kind == "drop":
        del items[k]
    elif kind == "dup":
        items.append((name, flip_bytes(rng, payload)))
    elif kind == "rename":
        items[k] = (rng.choice(names + ["dlc.metadata2.1.0", "model.params.bin", "x"]), payload)
    elif kind == "deflate":
        return kind, build(items, deflate={rng.choice(names)})
    elif kind == "declared_size":
        out = bytearray(build(items))
        cd = central_entries(bytes(out))
        if cd:
            h = rng.choice(cd)
            field = rng.choice([20, 24])                # compressed / uncompressed size
            struct.pack_into("<I", out, h + field, rng.choice(INTERESTING))
        return kind, bytes(out)
    elif kind == "method":
        out = bytearray(build(items, deflate={rng.choice(names)}))
        cd = central_entries(bytes(out))
        if cd:
            struct.pack_into("<H", out, rng.choice(cd) + 10, rng.choice([1, 9, 12, 14, 93, 95, 98, 99]))
        return kind, bytes(out)
    elif kind == "bomb":
        # a deflated member whose real inflated size (64 MiB of zeros) is far above what it declares,
        # or whose declared size is huge: the reader must stop at the declared size / refuse the claim
        target = rng.choice(names)
        kept = [(n, p) for n, p in items if n != target or rng.random() < 0.5]
        # appended by hand: local header + data + central entry + new end record
        return kind, _append_raw_member(build(kept), target + rng.choice(["", "", "x"]), _bomb_stream(),
                                        declared=rng.choice([1000, 1 << 26, 3 << 30]))
    return kind, build(items)


_BOMB: list[bytes] = []


def _bomb_stream() -> bytes:
    """A raw deflate stream of 64 MiB of zeros (64 KB), made once."""
    if not _BOMB:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        _BOMB.append(b"".join(c.compress(b"\0" * (1 << 20)) for _ in range(64)) + c.flush())
    return _BOMB[0]


def _append_raw_member(data: bytes, name: str, stream: bytes, declared: int) -> bytes:
    """Rebuild ``data`` with one more deflated member whose header claims ``declared`` bytes."""
    eocd = data.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack_from("<II", data, eocd + 12)
    body, central = data[:cd_off], data[cd_off:cd_off + cd_size]
    nb = name.encode()
    crc = zlib.crc32(b"\0" * min(declared, 1 << 26)) if declared <= 1 << 26 else 0
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(stream),
                        min(declared, 0xFFFFFFFF), len(nb), 0) + nb
    offset = len(body)
    cent = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(stream),
                       min(declared, 0xFFFFFFFF), len(nb), 0, 0, 0, 0, 0, offset) + nb
    new_body = body + local + stream
    new_central = central + cent
    count = struct.unpack_from("<H", data, eocd + 10)[0] + 1
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(new_central), len(new_body), 0)
    return new_body + new_central + end


# ---- the test -----------------------------------------------------------------------------------
def test_damaged_dlcs_raise_only_dlcerror(seeds, tmp_path):
    for name, data in seeds:          # the seeds themselves are readable or cleanly refused
        p = tmp_path / "seed.dlc"
        p.write_bytes(data)
        try:
            read_dlc(str(p))
        except DLCError:
            pass
    rng = random.Random(SEED)
    keep = os.environ.get("SNPE_FUZZ_KEEP")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    failures: dict[str, str] = {}
    multi_line: dict[str, str] = {}
    deadline = time.monotonic() + SECONDS
    n = 0
    target = tmp_path / "fuzz.dlc"
    while time.monotonic() < deadline:
        seed_name, data = rng.choice(seeds)
        kind, blob = mutate(rng, data)
        tmp = tmp_path / "next.dlc"
        tmp.write_bytes(blob)
        os.replace(tmp, target)
        trace = n % TRACE_EVERY == 0
        if trace:
            tracemalloc.start()
        t0 = time.monotonic()
        try:
            dlc = read_dlc(str(target))
            del dlc
        except DLCError as exc:
            if "\n" in str(exc):       # the tools print it escaped on one line; worth knowing, not a failure
                multi_line.setdefault(kind, f"{seed_name}: {str(exc)!r}"[:200])
        except Exception as exc:  # noqa: BLE001 - the point of the test
            key = f"{type(exc).__name__} ({kind})"
            failures.setdefault(key, f"{seed_name} iteration {n}: {exc!r}"[:300])
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(target, os.path.join(keep, f"fail_{n}_{type(exc).__name__}.dlc"))
        finally:
            elapsed = time.monotonic() - t0
            if trace:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                if peak > MAX_PEAK:
                    failures.setdefault(f"memory ({kind})", f"{seed_name} iteration {n}: peak {peak >> 20} MiB")
        if elapsed > MAX_SECONDS:
            failures.setdefault(f"slow ({kind})", f"{seed_name} iteration {n}: {elapsed:.1f} s")
        n += 1
    print(f"fuzz: {n} reads in {SECONDS:g} s, seed {SEED}")
    if multi_line:
        warnings.warn("DLCError messages quoting a newline (printed escaped by the tools): "
                      + "; ".join(f"{k}: {v}" for k, v in multi_line.items()))
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    assert growth < MAX_RSS_GROWTH, f"peak RSS grew by {growth >> 20} MiB during the fuzz run"
    assert n >= 50, f"only {n} reads in {SECONDS} s"
    assert not failures, f"{len(failures)} kind(s) of failure in {n} reads:\n" + "\n".join(
        f"{k}: {v}" for k, v in failures.items())
