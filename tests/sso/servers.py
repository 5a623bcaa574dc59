"""Real single sign-on servers for tests, each on a private port with throwaway configuration
and storage under the test's tmp folder, always stopped afterwards: Debian's OpenLDAP
(``slapd``) with a directory of test users and groups, and the certified ``oidc-provider``
from the npm registry run by Node. What is missing is installed first (apt-get, npm), so a
fresh machine runs these tests as CI does."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import processes

SLAPD = "/usr/sbin/slapd"
LDAP_PACKAGES = ["slapd", "ldap-utils"]
SCHEMAS = ["core", "cosine", "inetorgperson", "nis"]
PROVIDER_SOURCE = Path(__file__).parent / "oidc_provider"

BASE_DN = "dc=hospital,dc=test"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=tweezers-svc,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "service-secret"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"


def person_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def _apt_install(packages: list[str], why: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{why} is missing and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages],
        env=env,
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


# --- OpenLDAP -------------------------------------------------------------------------------


@dataclass
class Directory:
    url: str
    process: subprocess.Popen

    def modify(self, ldif: str) -> None:
        """ldapmodify as the directory's administrator, e.g. to take a member out of a group."""
        subprocess.run(
            ["ldapmodify", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )

    def remove_member(self, group: str, uid: str) -> None:
        self.modify(
            f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {person_dn(uid)}\n"
        )


def _people_ldif(people: dict[str, dict], groups: dict[str, list[str]]) -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: hospital\n"
        "o: Test Hospital\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: tweezers-svc\nuserPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, person in people.items():
        entries.append(
            f"dn: {person_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {person['given']} {person['family']}\ngivenName: {person['given']}\n"
            f"sn: {person['family']}\nmail: {uid}@hospital.test\n"
            f"userPassword: {person['password']}\n"
        )
    for cn, uids in groups.items():
        members = "".join(f"member: {person_dn(uid)}\n" for uid in uids)
        entries.append(f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n{members}")
    return "\n".join(entries)


def start_directory(
    folder: Path, *, people: dict[str, dict], groups: dict[str, list[str]]
) -> Directory:
    """slapd on a free port with an mdb database in ``folder``, loaded by slapadd."""
    if not Path(SLAPD).exists() or not shutil.which("ldapmodify"):
        _apt_install(LDAP_PACKAGES, "OpenLDAP (slapd, ldap-utils)")
    data = folder / "data"
    data.mkdir(parents=True)
    schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in SCHEMAS)
    config = folder / "slapd.conf"
    config.write_text(
        f"{schemas}"
        f"pidfile {folder / 'slapd.pid'}\nargsfile {folder / 'slapd.args'}\n"
        "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        # Passwords are readable by nobody; a bind still checks them.
        "access to attrs=userPassword by self =xw by anonymous auth by * none\n"
        "access to * by * read\n"
        f'database mdb\nmaxsize 10485760\nsuffix "{BASE_DN}"\n'
        f'rootdn "{ADMIN_DN}"\nrootpw {ADMIN_PASSWORD}\ndirectory {data}\n'
    )
    ldif = folder / "people.ldif"
    ldif.write_text(_people_ldif(people, groups))
    subprocess.run(
        ["slapadd", "-f", str(config), "-l", str(ldif)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = processes.free_port()
    url = f"ldap://127.0.0.1:{port}"
    # -d keeps slapd in the foreground, where stop() can end it; 0 logs nothing but errors.
    process = processes.start(
        [SLAPD, "-h", f"{url}/", "-f", str(config), "-d", "0"],
        env=dict(os.environ),
        log_path=folder / "slapd.log",
    )
    processes.wait_until(
        lambda: processes._port_open(port) or process.poll() is not None,
        timeout=20,
        what=f"slapd on port {port}",
    )
    if process.poll() is not None:
        raise RuntimeError((folder / "slapd.log").read_text(errors="replace")[-3000:])
    return Directory(url=url, process=process)


# --- OpenID Connect provider ------------------------------------------------------------------


@dataclass
class IdentityProvider:
    issuer: str
    client_id: str
    client_secret: str
    users_file: Path
    process: subprocess.Popen

    def set_users(self, users: dict[str, dict]) -> None:
        """``{login: {"email", "given_name", "family_name", "groups": [...]}}``; read by the
        provider at every login."""
        self.users_file.write_text(json.dumps(users))


def provider_folder() -> Path:
    """The provider's script with its npm packages installed (``npm ci`` from the committed
    lock file), in a cache folder keyed by the lock file so it is installed once."""
    if not shutil.which("node") or not shutil.which("npm"):
        _apt_install(["nodejs", "npm"], "Node.js")
    lock = (PROVIDER_SOURCE / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tweezers"
    folder = cache / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (folder / "node_modules" / "oidc-provider").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(PROVIDER_SOURCE / name, folder / name)
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            shutil.rmtree(folder / "node_modules", ignore_errors=True)
            pytest.skip(f"npm could not install oidc-provider: {result.stderr[-1000:]}")
    # Always the repository's current script, next to its packages.
    shutil.copy(PROVIDER_SOURCE / "server.mjs", folder / "server.mjs")
    return folder


def start_identity_provider(
    folder: Path, *, redirect_uri: str, post_logout_uri: str, users: dict[str, dict]
) -> IdentityProvider:
    code = provider_folder()
    port = processes.free_port()
    issuer = f"http://127.0.0.1:{port}"
    users_file = folder / "users.json"
    users_file.write_text(json.dumps(users))
    client = {
        "client_id": "tweezers",
        "client_secret": "tweezers-client-secret",
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [post_logout_uri],
    }
    config = folder / "provider.json"
    settings = {"issuer": issuer, "port": port, "users_file": str(users_file), "client": client}
    config.write_text(json.dumps(settings))
    log = folder / "provider.log"
    process = processes.start(
        ["node", str(code / "server.mjs"), str(config)],
        env={**os.environ, "NODE_ENV": "development"},
        log_path=log,
    )
    processes.wait_until(
        lambda: processes._port_open(port) or process.poll() is not None,
        timeout=30,
        what=f"oidc-provider on port {port}",
    )
    if process.poll() is not None:
        raise RuntimeError(log.read_text(errors="replace")[-3000:])
    return IdentityProvider(
        issuer=issuer,
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        users_file=users_file,
        process=process,
    )
