"""Auth from Python against a live skynetd with --auth-bootstrap: tokens from `sky auth`,
a Python coordinator client limited by its role, and a Python service whose admin port
obeys only a token with admin on it."""

from __future__ import annotations

import os
import subprocess

import msgpack
import pytest

from conftest import Processes, binary, run
from skynet import Coordinator, Forbidden, Unauthorized
from skynet.rpc import Connection


def sky(coordinator: str, token: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("sky"), *arguments, "-coordinators", coordinator, "-token", token],
                          capture_output=True, text=True, timeout=60)


def test_python_with_tokens_and_roles(processes: Processes) -> None:
    root_file = os.path.join(processes.directory, "root.token")
    daemon = processes.start("skynetd", [
        binary("skynetd"), "--listen", "127.0.0.1:0", "--http", "none", "--no-timer",
        "--data-dir", os.path.join(processes.directory, "data"), "--auth-bootstrap", root_file,
    ])
    coordinator = daemon.expect("skynetd listening on").split()[-1]
    root = "@" + root_file
    for role, *rules in (("app", "read,write:/skynet/config/app/**"), ("reader", "read:/skynet/**"),
                         ("echo-service", "read:/skynet/**", "read,write:/skynet/services/echo/**"),
                         ("echo-ops", "admin:/skynet/services/echo/**")):
        added = sky(coordinator, root, "auth", "role", "add", role, *rules)
        assert added.returncode == 0, added.stderr
    tokens = {}
    for name in ("app", "reader", "echo-service", "echo-ops"):
        made = sky(coordinator, root, "auth", "token", "create", "-name", name, "-role", name)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()

    python = processes.python("python-echo", "examples/echo_service.py", coordinator,
                              {"SKYNET_TOKEN": tokens["echo-service"], "SKYNET_REGION": "py"})
    python.expect("python echo serving")

    async def scenario() -> None:
        app = Coordinator(coordinator, timeout=10, token=tokens["app"])
        await app.set("/skynet/config/app/db", b"python")
        _, file = await app.get("/skynet/config/app/db")
        assert file is not None and file.value == b"python"
        with pytest.raises(Forbidden, match="lacks read on /skynet/services"):
            await app.get("/skynet/services/echo")
        _, visible = await app.walk("/skynet/**")
        assert [f.path for f in visible] == ["/skynet/config/app/db"]
        await app.close()
        anonymous = Coordinator(coordinator, timeout=10, token=None)
        anonymous.token = None  # whatever SKYNET_TOKEN says
        with pytest.raises(Unauthorized, match="requires authentication"):
            await anonymous.get("/skynet/config/app/db")
        await anonymous.close()
        wrong = Coordinator(coordinator, timeout=10, token="skt_wrong-token-000000000000")
        with pytest.raises(Unauthorized, match="not valid"):
            await wrong.get("/")
        await wrong.close()

        # The Python service's admin port: no token, no stop.
        reader = Coordinator(coordinator, timeout=10, token=tokens["reader"])
        _, files = await reader.walk("/skynet/services/echo/1/py/**")
        await reader.close()
        assert len(files) == 1
        admin = msgpack.unpackb(files[0].value)["adminAddress"]
        connection = await Connection.open(admin, 10)
        with pytest.raises(Unauthorized, match="admin on /skynet/services/echo/1/py/"):
            await connection.call("stop", [])
        await connection.close()

    run(scenario())
    refused = sky(coordinator, tokens["reader"], "stop", "-service", "echo", "-region", "py")
    assert refused.returncode == 1 and "lacks admin on /skynet/services/echo/1/py/" in refused.stderr, refused.stderr
    stopped = sky(coordinator, tokens["echo-ops"], "stop", "-service", "echo", "-region", "py")
    assert stopped.returncode == 0, stopped.stderr
    assert python.wait() == 0
