"""Create the demo: an admin user and four projects with real data that ships offline."""

import dataclasses
import io
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from PIL import Image

from labeler import importing, services
from labeler.dicom.options import dicom_options
from labeler.models import Item, Project

DIGITS_NAME = "Handwritten digits"
PACKAGES_NAME = "Debian package descriptions"
DEBTAGS_NAME = "Debian package tags (findings)"
RADIOLOGY_NAME = "Radiology samples (DICOM)"
RADIOLOGY_SERIES_NAME = "Radiology series (DICOM, one item per series)"
# The modalities of pydicom-data's samples; OT is "other" (mostly secondary-capture test images).
RADIOLOGY_CLASSES = ["CT", "MR", "CR", "US", "NM", "OT", "SEG"]
# Printed in the README: it may exist only in a demo, never on a server that holds real data.
DEMO_PASSWORD = "tweezers-demo"
PACKAGES_CSV = Path(settings.BASE_DIR) / "demo_data" / "debian_packages.csv"
# all-MiniLM-L6-v2 embeddings of the CSV's rows, shipped so the demo need not spend minutes of
# CPU computing them (demo_data/make_minilm_embeddings.py makes it).
PACKAGES_EMBEDDINGS = PACKAGES_CSV.with_suffix(".minilm.npy")
# The same texts with their packages' debtags as findings (demo_data/make_debtags_csv.py).
DEBTAGS_CSV = PACKAGES_CSV.with_name("debian_debtags.csv")


def digit_png(pixels: np.ndarray) -> bytes:
    """An 8×8 digit (values 0..16) as a dark-on-light grayscale PNG."""
    gray = (255 - np.asarray(pixels, dtype=np.float64) * (255 / 16)).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo admin user and the demo projects (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument(
            "--digits-limit", type=int, default=None, help="import only the first N digits"
        )
        parser.add_argument(
            "--texts-limit", type=int, default=None, help="import only the first N texts"
        )
        parser.add_argument(
            "--dicom-limit", type=int, default=None, help="import only the first N DICOM files"
        )

    def handle(self, *args, username, password, digits_limit, texts_limit, dicom_limit, **options):
        admin = self._admin(username, password)
        self._digits(admin, digits_limit)
        self._packages(admin, texts_limit)
        self._debtags(admin, texts_limit)
        self._radiology(admin, dicom_limit)
        self._radiology_series(admin, dicom_limit)

    def _admin(self, username: str, password: str):
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None and password == DEMO_PASSWORD and not settings.DEBUG:
            raise CommandError(
                f"Refusing to create {username} / {DEMO_PASSWORD}: that password is printed in "
                "the README and exists only in the demo (DJANGO_DEBUG=1, as `make demo` sets). "
                "On a server, pass --password, or create the admin with "
                "`manage.py createsuperuser`."
            )
        if user is None:
            user = user_model.objects.create_superuser(username=username, password=password)
            self.stdout.write(self.style.SUCCESS(f"Admin user: {username} / {password}"))
        else:
            self.stdout.write(f"Admin user {username} exists (password unchanged).")
        return user

    def _digits(self, admin, limit: int | None) -> None:
        if self._exists(DIGITS_NAME):
            return
        from sklearn.datasets import load_digits

        digits = load_digits()
        project = services.project_create(
            name=DIGITS_NAME,
            kind=Project.Kind.IMAGE,
            classes=[str(d) for d in range(10)],
            created_by=admin,
            description="The 1,797 8×8 handwritten digits bundled with scikit-learn.",
        )
        limits = services.import_limits()
        images = digits.images[:limit] if limit else digits.images
        entries = (
            importing.image_candidate(f"digit_{index:04d}.png", digit_png(pixels), limits)
            for index, pixels in enumerate(images)
        )
        report = services.items_import(project=project, entries=entries, total=len(images))
        self.stdout.write(f"{DIGITS_NAME}: {report.summary()}")

    def _packages(self, admin, limit: int | None) -> None:
        if self._exists(PACKAGES_NAME):
            return
        limits = services.import_limits()
        with PACKAGES_CSV.open("rb") as stream:
            rows = [e for e in importing.read_csv(PACKAGES_CSV.name, stream, limits)]
        candidates = [e for e in rows if isinstance(e, importing.Candidate)][:limit]
        sections = sorted({c.prelabel for c in candidates if c.prelabel})
        project = services.project_create(
            name=PACKAGES_NAME,
            kind=Project.Kind.TEXT,
            classes=sections,
            created_by=admin,
            description="Debian package descriptions to sort into their archive section "
            "(see demo_data/README.md).",
        )
        # One transaction, so the first retrain is queued only once the cache is in.
        with transaction.atomic():
            # The sections are the answers the expert gives: import the texts without them.
            entries = (dataclasses.replace(c, prelabel=None) for c in candidates)
            report = services.items_import(project=project, entries=entries, total=len(candidates))
            self.stdout.write(f"{PACKAGES_NAME}: {report.summary()}")
            self._seed_minilm(project, PACKAGES_NAME)

    def _debtags(self, admin, limit: int | None) -> None:
        """A findings project: each package description carries several Debian tags."""
        if self._exists(DEBTAGS_NAME):
            return
        limits = services.import_limits()
        with DEBTAGS_CSV.open("rb") as stream:
            rows = [e for e in importing.read_csv(DEBTAGS_CSV.name, stream, limits)]
        candidates = [e for e in rows if isinstance(e, importing.Candidate)][:limit]
        tags = {name for c in candidates for name in (c.prefindings or {})}
        project = services.project_create(
            name=DEBTAGS_NAME,
            kind=Project.Kind.TEXT,
            task=Project.Task.FINDINGS,
            classes=sorted(tags),
            created_by=admin,
            description="Debian package descriptions with their Debian tags (debtags) as "
            "findings: several per package (see demo_data/README.md).",
        )
        with transaction.atomic():
            # The tags are the answers the expert gives: import the texts without them.
            entries = (dataclasses.replace(c, prefindings=None) for c in candidates)
            report = services.items_import(project=project, entries=entries, total=len(candidates))
            self.stdout.write(f"{DEBTAGS_NAME}: {report.summary()}")
            self._seed_minilm(project, DEBTAGS_NAME)

    def _exists(self, name: str) -> bool:
        """A demo project is made once: a second ``make demo`` keeps it (and its labels)."""
        if Project.objects.filter(name=name).exists():
            self.stdout.write(f"{name}: exists")
            return True
        return False

    def _seed_minilm(self, project: Project, name: str) -> None:
        """Load the shipped MiniLM embeddings of debian_packages.csv's texts for the items
        of ``project`` with the same text (matched by checksum)."""
        if not PACKAGES_EMBEDDINGS.exists():
            return
        limits = services.import_limits()
        with PACKAGES_CSV.open("rb") as stream:
            rows = list(importing.read_csv(PACKAGES_CSV.name, stream, limits))
        cached = np.load(PACKAGES_EMBEDDINGS)
        by_checksum = {
            c.checksum: cached[i]
            for i, c in enumerate(rows)
            if i < len(cached) and isinstance(c, importing.Candidate)
        }
        items = Item.objects.filter(project=project).values_list("id", "checksum")
        seeded = services.features_seed(
            project,
            {pk: by_checksum[checksum] for pk, checksum in items if checksum in by_checksum},
        )
        self.stdout.write(f"{name}: {seeded} cached MiniLM embeddings loaded")

    def _dicom_import(self, project: Project, limit: int | None):
        import data_store

        folder = Path(data_store.__file__).parent / "data"
        limits = services.import_limits()
        files = sorted(p for p in folder.iterdir() if p.suffix == ".dcm")[:limit]
        options = dicom_options(project=project)
        entries = (
            importing.image_or_dicom_candidate(path.name, path.read_bytes(), limits, dicom=options)
            for path in files
        )
        return services.items_import(project=project, entries=entries, total=len(files))

    def _radiology_series(self, admin, limit: int | None) -> None:
        """The same pydicom-data files in a project whose item is a series (issue 22): the
        instances of one series (its encodings, its frames) are one scan."""
        if self._exists(RADIOLOGY_SERIES_NAME):
            return
        project = services.project_create(
            name=RADIOLOGY_SERIES_NAME,
            kind=Project.Kind.IMAGE,
            unit=Project.Unit.SERIES,
            classes=RADIOLOGY_CLASSES,
            created_by=admin,
            description="The pydicom-data samples grouped into series: a 10-slice MR volume, "
            "a 120-frame ultrasound clip, a 3-frame segmentation, 2-frame CT and ultrasound "
            "series, and single-image series; the same image in several encodings is one "
            "series. Label each series by its modality, the one truth these files carry "
            "(see demo_data/README.md). Text burned into the pixels (the ultrasounds' hospital "
            "name and dates) is painted over, as in the project above.",
            dicom_pixel_text=Project.PixelText.MASK,
        )
        report = self._dicom_import(project, limit)
        self.stdout.write(f"{RADIOLOGY_SERIES_NAME}: {report.summary()}")

    def _radiology(self, admin, limit: int | None) -> None:
        if self._exists(RADIOLOGY_NAME):
            return
        project = services.project_create(
            name=RADIOLOGY_NAME,
            kind=Project.Kind.IMAGE,
            classes=RADIOLOGY_CLASSES,
            created_by=admin,
            description="Real DICOM files from the pydicom-data package (pydicom's test "
            "material: CT, MR, radiographs, ultrasound, nuclear medicine, a segmentation; "
            "compressed and multi-frame). Label each by its modality, the one truth these "
            "files carry; several are one image in different encodings. De-identified on "
            "import like any DICOM, and read for text burned into the pixels: the "
            "ultrasounds' text (a hospital's name, dates) is painted over (see README, "
            "'For radiology teams').",
            dicom_pixel_text=Project.PixelText.MASK,
        )
        report = self._dicom_import(project, limit)
        self.stdout.write(f"{RADIOLOGY_NAME}: {report.summary()}")
