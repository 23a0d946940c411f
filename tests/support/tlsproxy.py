"""An HTTPS proxy for tests (TLS between Chrome and the proxy itself): Debian's ``stunnel4`` in
front of a tinyproxy, with a certificate of a test CA made here by ``openssl``.

Chrome checks the proxy's certificate like any other: the product weakens nothing. The test
makes Chrome trust its CA the way an administrator trusts a company CA on Linux, through the
NSS database in the daemon's ``$HOME`` (``~/.pki/nssdb``, written with ``certutil``), which
Chrome reads and a worker's Chrome inherits (HOME is among the variables it keeps).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.proxies import ProxyServer

__all__ = ["Stunnel", "make_ca", "issue_certificate", "trusting_home"]


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A new CA in ``directory``: (certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.pem", directory / "ca.key"
    _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def issue_certificate(ca: tuple[Path, Path], directory: Path) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 signed by ``ca``, in ``directory``: (certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, csr = directory / "proxy.pem", directory / "proxy.key", directory / "proxy.csr"
    extensions = directory / "proxy.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                          "basicConstraints=CA:FALSE\n", encoding="utf-8")
    _run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions))
    return cert, key


def trusting_home(home: Path, ca_cert: Path) -> Path:
    """``home`` with an NSS database (``.pki/nssdb``) that trusts ``ca_cert`` for TLS servers."""
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    _run("certutil", "-N", "-d", f"sql:{database}", "--empty-password")
    _run("certutil", "-A", "-d", f"sql:{database}", "-n", "zapvisor-test-ca", "-t", "C,,", "-i", str(ca_cert))
    return home


class Stunnel(ProxyServer):
    """TLS on its own port in front of ``backend_port`` (a tinyproxy whose ``user`` and
    ``password`` the URL carries); its log notes every connection it accepted."""

    scheme = "https"

    def __init__(self, workdir: Path, backend_port: int, certificate: tuple[Path, Path],
                 user: str = "", password: str = "") -> None:
        super().__init__(workdir, user, password)
        self.backend_port = backend_port
        self.certificate = certificate

    def command(self) -> list[str]:
        """``stunnel4`` in the foreground on a config written here."""
        config = self.dir / f"stunnel-{self.port}.conf"
        config.write_text("\n".join([
            "foreground = yes", "pid =", "[proxy]", f"accept = 127.0.0.1:{self.port}",
            f"connect = 127.0.0.1:{self.backend_port}", f"cert = {self.certificate[0]}",
            f"key = {self.certificate[1]}"]) + "\n", encoding="utf-8")
        return ["stunnel4", str(config)]

    def accepted(self) -> int:
        """How many connections it accepted (TLS handshakes begun)."""
        return self.log().count("accepted connection from")
