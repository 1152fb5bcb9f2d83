"""TLS from Python against live Swift processes: certificates from `sky tls`, a skynetd
requiring client certificates, the Swift echo-service and the Python example over TLS."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import Processes, binary, run
from skynet import TLS, Client, Coordinator, Service, TLSError, Unauthorized, Unavailable


def sky(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("sky"), *arguments], capture_output=True, text=True, timeout=60)


def make_certificates(directory: str) -> str:
    """A CA and certificates for skynetd, the services and the callers; returns the folder."""
    folder = os.path.join(directory, "tls")
    for arguments in (["ca"], ["cert", "-name", "skynetd"], ["cert", "-name", "service"], ["cert", "-name", "caller"]):
        made = sky("tls", *arguments, "-dir", folder)
        assert made.returncode == 0, made.stderr
    return folder


def tls_environment(folder: str, name: str) -> dict[str, str]:
    return {"SKYNET_TLS_CERT": f"{folder}/{name}.pem", "SKYNET_TLS_KEY": f"{folder}/{name}-key.pem", "SKYNET_TLS_CA": f"{folder}/ca.pem"}


def test_python_over_mutual_tls(processes: Processes) -> None:
    folder = make_certificates(processes.directory)
    daemon = processes.start("skynetd", [
        binary("skynetd"), "--listen", "127.0.0.1:0", "--http", "none", "--no-timer",
        "--data-dir", os.path.join(processes.directory, "data"),
        "--tls-cert", f"{folder}/skynetd.pem", "--tls-key", f"{folder}/skynetd-key.pem", "--tls-ca", f"{folder}/ca.pem", "--tls-client-auth",
    ])
    coordinator = daemon.expect("skynetd listening on").split()[-1]
    swift = processes.start("echo-service", [binary("echo-service"), "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"],
                            {"SKYNET_COORDINATORS": coordinator, **tls_environment(folder, "service")})
    swift.expect("echo-service serving")
    python = processes.python("python-echo", "examples/echo_service.py", coordinator,
                              {**tls_environment(folder, "service"), "SKYNET_TLS_CLIENT_AUTH": "true", "SKYNET_REGION": "py"})
    python.expect("python echo serving")
    caller = TLS(f"{folder}/caller.pem", f"{folder}/caller-key.pem", f"{folder}/ca.pem")

    async def scenario() -> None:
        client = Client(coordinator, tls=caller)
        try:
            assert await client.service("echo", region="us").send("echo", "swift over TLS") == "swift over TLS"
            assert await client.service("echo", region="py").send("upcase", "python over TLS") == "PYTHON OVER TLS"
        finally:
            await client.close()
        # No client certificate: skynetd refuses it, and says so.
        anonymous = Coordinator(coordinator, timeout=5, tls=TLS(ca=f"{folder}/ca.pem"))
        with pytest.raises(Unavailable, match="client certificate"):
            await anonymous.get("/")
        await anonymous.close()
        # Plain TCP on the TLS port: answered Unauthorized, not left hanging.
        plain = Coordinator(coordinator, timeout=5, tls=None)
        plain.tls = None  # plain whatever SKYNET_TLS_* says
        with pytest.raises(Unauthorized, match="speaks TLS"):
            await plain.get("/")
        await plain.close()

    run(scenario())
    listed = sky("instances", "-json", "-coordinators", coordinator, "-tls-ca", f"{folder}/ca.pem",
                 "-tls-cert", f"{folder}/caller.pem", "-tls-key", f"{folder}/caller-key.pem")
    assert listed.returncode == 0, listed.stderr
    assert '"region" : "py"' in listed.stdout or '"region": "py"' in listed.stdout, listed.stdout


def test_bad_tls_settings_and_plain_exposure_are_refused(tmp_path: object) -> None:
    with pytest.raises(TLSError, match="does not exist"):
        TLS(ca="/nonexistent/ca.pem")
    with pytest.raises(TLSError, match="give both or neither"):
        TLS(cert="/nonexistent/cert.pem")
    with pytest.raises(TLSError, match="needs the CA"):
        TLS(client_auth=True)
    with pytest.raises(ValueError, match="refusing to serve calls on 10.1.2.3 with neither TLS nor auth"):
        Service("echo", listen="10.1.2.3:9000", environ={})
    assert Service("echo", listen="10.1.2.3:9000", environ={"SKYNET_INSECURE": "true"}).insecure
