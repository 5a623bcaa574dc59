from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeler import services
from labeler.dicom.pacs_query import MAX_STUDIES, PacsQuery
from labeler.importing import ImportSourceError
from labeler.management.commands.import_items import Command as ImportItemsCommand


class Command(BaseCommand):
    help = (
        "Import DICOM studies from a PACS over DICOMweb (QIDO-RS search, WADO-RS retrieval), "
        "de-identified before anything is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or exact name (an image project)")
        parser.add_argument("url", help="DICOMweb root, e.g. http://pacs:8042/dicom-web")
        parser.add_argument("--modality", default="", help="e.g. CT, MR, CR")
        parser.add_argument("--study-date", default="", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
        parser.add_argument("--accession", default="", help="accession number")
        parser.add_argument("--description", default="", help="study description contains")
        parser.add_argument(
            "--limit", type=int, default=20, help=f"at most this many studies (1-{MAX_STUDIES})"
        )
        parser.add_argument(
            "--series-modality", default="", help="import only the series of this modality"
        )
        parser.add_argument(
            "--series-description", default="", help="import only series whose description contains"
        )
        parser.add_argument(
            "--series",
            action="append",
            default=[],
            help="import this series only (a de-identified UID that --list printed); repeatable",
        )
        parser.add_argument(
            "--list",
            action="store_true",
            help="list the found studies and series (de-identified UIDs) instead of importing",
        )
        parser.add_argument("--quiet-rejections", action="store_true", help="print only counts")

    def handle(self, *args, project: str, url: str, quiet_rejections: bool, **options):
        target = ImportItemsCommand()._project(project)
        try:
            query = PacsQuery(
                url=url,
                modality=options["modality"].strip().upper(),
                study_date=options["study_date"].strip(),
                accession=options["accession"],
                description=options["description"],
                limit=options["limit"],
                series_modality=options["series_modality"].strip().upper(),
                series_description=options["series_description"],
                series=tuple(options["series"]),
            )
        except ImportSourceError as error:
            raise CommandError(str(error)) from error
        if options["list"]:
            self._list(target, query)
            return
        with tqdm(total=0, unit="instance", desc="importing from the PACS", disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                report = services.items_import_pacs(project=target, query=query, progress=progress)
            except ImportSourceError as error:
                raise CommandError(str(error)) from error
        if not quiet_rejections:
            for rejection in report.rejected:
                self.stderr.write(f"rejected {rejection['name']}: {rejection['reason']}")
        for series in report.incomplete:
            self.stderr.write(f"incomplete {series['name']}: {series['reason']}")
        extended = f", scans extended {report.scans_extended}" if report.scans_extended else ""
        self.stdout.write(
            f"{target.name}: imported {report.imported}, duplicates {report.duplicates}, "
            f"rejected {len(report.rejected)}{extended}"
        )

    def _list(self, project, query: PacsQuery) -> None:
        try:
            studies = services.pacs_studies_search(project=project, query=query)
        except ImportSourceError as error:
            raise CommandError(str(error)) from error
        for study in studies:
            self.stdout.write(f"study {study.position}: {study.uid}")
            for series in study.series:
                self.stdout.write(
                    f"  series {series.number if series.number is not None else '?'} "
                    f"{series.modality or '?'} ({series.instances or '?'} instances): {series.uid}"
                )
