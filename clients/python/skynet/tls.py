"""TLS for Skynet links: one set of files serves both sides of a process (docs/WIRE.md, "TLS").

Servers present ``cert``/``key``; with ``client_auth`` they take only callers whose
certificate ``ca`` signed. Clients check servers against ``ca`` (the system's roots when
``None``): by host name when they dial a name, by IP address when they dial an address;
they show ``cert`` when a server asks. :meth:`TLS.reload` re-reads the files for new
connections.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["TLS", "TLSError"]


class TLSError(ValueError):
    """TLS settings that cannot be used: a missing or unreadable file, a key that does not
    match its certificate, or settings that do not go together. Names the file or setting."""


@dataclass
class TLS:
    """PEM file paths and whether servers require client certificates (mutual TLS).

    Making one reads the files, so a bad one fails at once with :class:`TLSError`.
    """

    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    client_auth: bool = False
    _client: ssl.SSLContext = field(init=False, repr=False)
    _server: ssl.SSLContext | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.reload()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TLS | None:
        """From ``SKYNET_TLS_CERT``, ``SKYNET_TLS_KEY``, ``SKYNET_TLS_CA`` and
        ``SKYNET_TLS_CLIENT_AUTH``; ``None`` when none is set (plain TCP)."""
        env = os.environ if environ is None else environ
        cert, key, ca = (env.get(f"SKYNET_TLS_{name}") or None for name in ("CERT", "KEY", "CA"))
        flag = (env.get("SKYNET_TLS_CLIENT_AUTH") or "").lower()
        if flag not in ("", "true", "1", "yes", "false", "0", "no"):
            raise TLSError(f"SKYNET_TLS_CLIENT_AUTH: expected true or false, found {flag!r}")
        if cert is None and key is None and ca is None and flag == "":
            return None
        return cls(cert, key, ca, flag in ("true", "1", "yes"))

    @property
    def can_serve(self) -> bool:
        """True when servers can use it: it has a certificate and key."""
        return self._server is not None

    def client_context(self) -> ssl.SSLContext:
        """The context dialled connections use."""
        return self._client

    def server_context(self) -> ssl.SSLContext:
        """The context servers use; :class:`TLSError` when there is no certificate."""
        if self._server is None:
            raise TLSError("serving TLS needs a certificate and its key (SKYNET_TLS_CERT and SKYNET_TLS_KEY)")
        return self._server

    def reload(self) -> None:
        """Reads the files again for connections made from now on; on error the contexts in
        use stay and :class:`TLSError` says what is wrong."""
        if (self.cert is None) != (self.key is None):
            raise TLSError("a TLS certificate and its key go together: give both or neither")
        if self.client_auth and self.ca is None:
            raise TLSError("requiring client certificates needs the CA that signs them")
        for path, role in ((self.cert, "certificate"), (self.key, "key"), (self.ca, "CA")):
            if path is not None and not os.access(path, os.R_OK):
                raise TLSError(f"the TLS {role} file {path} {'cannot be read' if os.path.exists(path) else 'does not exist'}")
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        client.minimum_version = ssl.TLSVersion.TLSv1_2
        server: ssl.SSLContext | None = None
        try:
            if self.cert is not None and self.key is not None:
                client.load_cert_chain(self.cert, self.key)
                server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                server.minimum_version = ssl.TLSVersion.TLSv1_2
                server.load_cert_chain(self.cert, self.key)
                if self.client_auth and self.ca is not None:
                    server.load_verify_locations(cafile=self.ca)
                    server.verify_mode = ssl.CERT_REQUIRED
        except ssl.SSLError as error:
            raise TLSError(f"cannot use the certificate {self.cert} with the key {self.key}: {error.reason or error}") from None
        self._client, self._server = client, server


def describe(error: BaseException) -> str:
    """A TLS failure as one readable reason."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"the server's certificate was refused: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        reason = error.reason or str(error)
        if "CERTIFICATE_REQUIRED" in reason:
            return f"{reason}: the server requires a client certificate (SKYNET_TLS_CERT and SKYNET_TLS_KEY)"
        return reason
    return str(error) or type(error).__name__
