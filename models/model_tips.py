"""Pre- and post-processing for the two TensorFlow model tips (docs/model-tips.rst), numpy only.

Both DLCs start after the graph's own preprocessing (``-d Preprocessor/sub`` / ``-d sub_7`` cut it
away), so an application does that part itself; this script does it the way the exported graphs do.

DeepLabv3 (``deeplabv3.dlc``, input ``sub_7:0`` [1,513,513,3], output ``ArgMax:0`` [1,513,513])::

    python models/model_tips.py deeplab-pre photo.ppm input.raw
    snpe-net-run --container deeplabv3.dlc --input_list list.txt        # list.txt: input.raw
    python models/model_tips.py deeplab-post photo.ppm output/Result_0/ArgMax:0.raw labels.npy

  pre: resize (bilinear, align corners) so the long side is 513 (ratio ``513 / max(h, w)``), pad the
  bottom/right with 128 up to 513x513, then ``x * 0.00784313771874 - 1``.  post: crop the label map to
  the resized size, resize it back to the photo's size (nearest neighbour, align corners).

MobilenetSSD (``mobilenet_ssd.dlc``, input ``Preprocessor/sub:0`` [1,300,300,3])::

    python models/model_tips.py ssd-pre photo.ppm input.raw
    snpe-net-run --container mobilenet_ssd.dlc --input_list list.txt
    python models/model_tips.py ssd-post output/Result_0 [--threshold 0.5]

  pre: resize to 300x300 (bilinear, TF1's corner convention), ``x * 2/255 - 1``.  post: reads
  ``Postprocessor/BatchMultiClassNonMaxSuppression_boxes`` / ``_scores`` and ``detection_classes:0``
  (labels already +1, COCO's 1-based ids); rows past the detections are zero, so a detection is a row
  whose score is above the threshold.  Boxes are ``(ymin, xmin, ymax, xmax)`` normalised to [0, 1]:
  multiply by the photo's height/width.

Images: ``.npy`` (HxWx3 uint8), binary ``.ppm``; PNG/JPEG when TensorFlow is installed.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

DEEPLAB_SIZE, DEEPLAB_PAD = 513, 128.0
DEEPLAB_SCALE = np.float32(0.00784313771874)
SSD_SIZE = 300
SSD_PREFIX = "Postprocessor/BatchMultiClassNonMaxSuppression"


def read_image(path: str) -> np.ndarray:
    """HxWx3 uint8 RGB."""
    if path.endswith(".npy"):
        img = np.load(path)
    elif path.endswith(".ppm"):
        with open(path, "rb") as fh:
            data = fh.read()
        fields, pos = [], 0
        while len(fields) < 4:                       # magic, width, height, maxval (comments skipped)
            while data[pos:pos + 1].isspace():
                pos += 1
            if data[pos:pos + 1] == b"#":
                pos = data.index(b"\n", pos)
                continue
            end = pos
            while not data[end:end + 1].isspace():
                end += 1
            fields.append(data[pos:end])
            pos = end
        if fields[0] != b"P6" or int(fields[3]) != 255:
            raise SystemExit(f"{path}: only binary 8-bit PPM (P6, maxval 255) is read")
        w, h = int(fields[1]), int(fields[2])
        img = np.frombuffer(data[pos + 1:pos + 1 + w * h * 3], np.uint8).reshape(h, w, 3)
    else:
        try:
            import tensorflow as tf
        except ImportError:
            raise SystemExit(f"{path}: PNG/JPEG need TensorFlow; convert the photo to .ppm or .npy") from None
        img = tf.io.decode_image(tf.io.read_file(path), channels=3).numpy()
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise SystemExit(f"{path}: expected an HxWx3 uint8 image, got {img.shape} {img.dtype}")
    return img


def write_ppm(path: str, img: np.ndarray) -> None:
    with open(path, "wb") as fh:
        fh.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + np.ascontiguousarray(img, np.uint8).tobytes())


def resize_bilinear(img: np.ndarray, h: int, w: int, align_corners: bool) -> np.ndarray:
    """TF1 ``resize_bilinear`` (float32) of an HxWxC array."""
    x = img.astype(np.float32)

    def axis(n_in: int, n_out: int):
        if align_corners and n_out > 1:
            scale = np.float32((n_in - 1) / (n_out - 1))
        else:
            scale = np.float32(n_in / n_out)
        src = np.arange(n_out, dtype=np.float32) * scale
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo).astype(np.float32)

    y0, y1, fy = axis(x.shape[0], h)
    x0, x1, fx = axis(x.shape[1], w)
    top = x[y0][:, x0] + (x[y0][:, x1] - x[y0][:, x0]) * fx[None, :, None]
    bottom = x[y1][:, x0] + (x[y1][:, x1] - x[y1][:, x0]) * fx[None, :, None]
    return top + (bottom - top) * fy[:, None, None]


def resize_nearest_align(labels: np.ndarray, h: int, w: int) -> np.ndarray:
    """TF1 ``resize_nearest_neighbor(align_corners=True)`` of an HxW label map."""
    def index(n_in: int, n_out: int):
        scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0)
        return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * scale + np.float32(0.5)).astype(np.int64),
                          n_in - 1)
    return labels[index(labels.shape[0], h)][:, index(labels.shape[1], w)]


def deeplab_resized_size(h: int, w: int) -> tuple[int, int]:
    ratio = np.float32(DEEPLAB_SIZE) / np.float32(max(h, w))
    return int(np.round(np.float32(h) * ratio)), int(np.round(np.float32(w) * ratio))


def deeplab_pre(img: np.ndarray) -> np.ndarray:
    """[1,513,513,3] float32: the input of ``sub_7``'s DLC."""
    nh, nw = deeplab_resized_size(*img.shape[:2])
    x = resize_bilinear(img, nh, nw, align_corners=True)
    out = np.full((DEEPLAB_SIZE, DEEPLAB_SIZE, 3), DEEPLAB_PAD, np.float32)
    out[:nh, :nw] = x
    return (out * DEEPLAB_SCALE - np.float32(1.0))[None]


def deeplab_post(argmax: np.ndarray, h: int, w: int) -> np.ndarray:
    """HxW class map of the photo from the DLC's [1,513,513] ArgMax."""
    nh, nw = deeplab_resized_size(h, w)
    labels = np.asarray(argmax).reshape(DEEPLAB_SIZE, DEEPLAB_SIZE)[:nh, :nw]
    return resize_nearest_align(np.rint(labels).astype(np.int32), h, w)


def ssd_pre(img: np.ndarray) -> np.ndarray:
    x = resize_bilinear(img, SSD_SIZE, SSD_SIZE, align_corners=False)
    return (x * np.float32(2.0 / 255.0) - np.float32(1.0))[None]


def ssd_post(result_dir: str, threshold: float = 0.5) -> list[tuple[int, float, list[float]]]:
    """(COCO label, score, [ymin, xmin, ymax, xmax]) of each detection above ``threshold``."""
    def raw(name: str) -> np.ndarray:
        return np.fromfile(os.path.join(result_dir, *name.split("/")) + ".raw", np.float32)

    scores, boxes = raw(f"{SSD_PREFIX}_scores"), raw(f"{SSD_PREFIX}_boxes").reshape(-1, 4)
    labels = raw("detection_classes:0")
    return [(int(labels[i]), float(scores[i]), boxes[i].tolist()) for i in range(len(scores)) if scores[i] > threshold]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("deeplab-pre", "ssd-pre"):
        s = sub.add_parser(name)
        s.add_argument("image")
        s.add_argument("output_raw")
    s = sub.add_parser("deeplab-post")
    s.add_argument("image", help="the original photo (for its size)")
    s.add_argument("argmax_raw", help="ArgMax:0.raw written by snpe-net-run")
    s.add_argument("output", help=".npy (class ids) or .ppm (ids as grey levels x 10)")
    s = sub.add_parser("ssd-post")
    s.add_argument("result_dir", help="snpe-net-run's output/Result_N folder")
    s.add_argument("--threshold", type=float, default=0.5)
    a = p.parse_args(argv)
    if a.cmd in ("deeplab-pre", "ssd-pre"):
        x = (deeplab_pre if a.cmd == "deeplab-pre" else ssd_pre)(read_image(a.image))
        x.astype(np.float32).tofile(a.output_raw)
    elif a.cmd == "deeplab-post":
        h, w = read_image(a.image).shape[:2]
        labels = deeplab_post(np.fromfile(a.argmax_raw, np.float32), h, w)
        if a.output.endswith(".ppm"):
            write_ppm(a.output, np.repeat(np.clip(labels * 10, 0, 255).astype(np.uint8)[..., None], 3, 2))
        else:
            np.save(a.output, labels)
    else:
        for label, score, box in ssd_post(a.result_dir, a.threshold):
            print(f"class {label} score {score:.3f} box {' '.join(f'{v:.4f}' for v in box)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
