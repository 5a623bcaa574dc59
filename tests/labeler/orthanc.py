"""A real Orthanc PACS for tests: Debian's ``orthanc`` and ``orthanc-dicomweb`` (installed with
apt-get when missing), on a free port with a throwaway configuration and storage folder, never
the system instance's 8042/4242, stopped afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import processes

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


@dataclass(frozen=True)
class Orthanc:
    url: str

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def store(self, data: bytes) -> dict:
        """Store one instance through Orthanc's REST API (as a modality's C-STORE would)."""
        request = urllib.request.Request(f"{self.url}/instances", data=data, method="POST")
        request.add_header("Content-Type", "application/dicom")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def ensure_installed() -> None:
    if Path(ORTHANC).exists() and Path(DICOMWEB_PLUGIN).exists():
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "orthanc", "orthanc-dicomweb"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/system", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    ensure_installed()
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = processes.free_port(), processes.free_port()
    config = {
        "Name": "TweezersTestPACS",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config))
    log_path = folder / "orthanc.log"
    process = processes.start([ORTHANC, str(config_path)], env={}, log_path=log_path)
    url = f"http://127.0.0.1:{http_port}"
    try:
        processes.wait_until(
            lambda: _answers(url) or process.poll() is not None, timeout=30, what="Orthanc"
        )
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        yield Orthanc(url)
    finally:
        processes.stop(process)
        shutil.rmtree(folder / "storage", ignore_errors=True)
