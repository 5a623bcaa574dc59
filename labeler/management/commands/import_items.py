from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeler import services
from labeler.importing import ImportSourceError
from labeler.models import Project


class Command(BaseCommand):
    help = (
        "Import items into a project: images (PNG, JPEG or DICOM) from a folder or .zip (class "
        "sub-folders become pre-labels), texts from a .csv or .jsonl file (a 'text' column, "
        "optional 'label'). DICOM is de-identified (PS3.15 Basic Profile) before it is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or exact name")
        parser.add_argument(
            "path", type=Path, help="folder, .zip, image, DICOM, .csv or .jsonl file"
        )
        parser.add_argument("--quiet-rejections", action="store_true", help="print only counts")

    def handle(self, *args, project: str, path: Path, quiet_rejections: bool, **options):
        target = self._project(project)
        with tqdm(total=0, unit="item", desc=f"importing {path.name}", disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                report = services.items_import_path(project=target, path=path, progress=progress)
            except ImportSourceError as error:
                raise CommandError(str(error)) from error
        if not quiet_rejections:
            for rejection in report.rejected:
                self.stderr.write(f"rejected {rejection['name']}: {rejection['reason']}")
        self.stdout.write(
            f"{target.name}: imported {report.imported}, duplicates {report.duplicates}, "
            f"rejected {len(report.rejected)}"
        )

    def _project(self, key: str) -> Project:
        project = None
        if key.isdigit():
            project = Project.objects.filter(pk=int(key)).first()
        if project is None:
            matches = list(Project.objects.filter(name=key)[:2])
            if len(matches) > 1:
                raise CommandError(f"several projects are named {key!r}; use the project id")
            project = matches[0] if matches else None
        if project is None:
            raise CommandError(f"no project with id or name {key!r}")
        return project
