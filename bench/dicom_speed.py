"""DICOM speed: how long the import takes per file (parse, decode, render, de-identify), and
how long one windowed rendition takes (what a window drag waits for), on pydicom-data's files.

    .venv/bin/python bench/dicom_speed.py [--repeat 3]

No database: it times ``labeler.dicom``'s reading and rendering functions directly, single
threaded, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labeler.dicom.reading import DicomOptions, DicomRejected, dicom_file, read_dataset  # noqa: E402
from labeler.dicom.rendering import PRESETS, Window, frame_count, png_bytes, render  # noqa: E402

RENDER_CASES = [
    ("693_J2KR.dcm", "CT 512×512, JPEG 2000"),
    ("MR2_UNCR.dcm", "MR 1024×1024"),
    ("RG1_UNCR.dcm", "CR 1841×1955, MONOCHROME1"),
    ("color3d_jpeg_baseline.dcm", "US 640×480×120 frames, JPEG baseline"),
]


def best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import data_store

    folder = Path(data_store.__file__).parent / "data"
    options = DicomOptions(uid_secret="bench" * 8)
    per_file = []
    for path in sorted(folder.glob("*.dcm")):
        data = path.read_bytes()

        def import_one(data=data):
            with contextlib.suppress(DicomRejected):
                dicom_file(data, options, max_pixels=200_000_000)

        per_file.append((best(import_one, args.repeat), path.name, len(data)))
    seconds = [s for s, _, _ in per_file]
    median = statistics.median(seconds) * 1000
    slowest = max(per_file)
    print(
        f"import, per file ({len(per_file)} files): median {median:.0f} ms, total "
        f"{sum(seconds):.1f} s, slowest {slowest[1]} {slowest[0] * 1000:.0f} ms"
    )
    print("| file | what | first open (ms) | preset rendition (ms) | dragged window (ms) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, what in RENDER_CASES:
        data = (folder / name).read_bytes()
        stored = dicom_file(data, options, max_pixels=200_000_000).dicom
        opened = best(lambda stored=stored: read_dataset(stored), args.repeat)
        dataset = read_dataset(stored)
        middle = frame_count(dataset) // 2
        render(dataset, frame=middle)  # the viewer's process keeps the parsed file

        def view(window, dataset=dataset, middle=middle):
            return png_bytes(render(dataset, frame=middle, window=window), fast=True)

        preset = best(lambda: view(PRESETS["lung"]), args.repeat)
        drag = best(lambda: view(Window(55.5, 431.0)), args.repeat)
        print(
            f"| {name} | {what} | {opened * 1000:.0f} | {preset * 1000:.0f} | {drag * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
