"""A Python service's command line, read the way Swift services read theirs: the seed's
Go-style flags (``-name -version -region -host -l -admin -coordinators``; ``-f=v``, ``-f v``,
``--f v``; the TLS flags ``-tls-cert -tls-key -tls-ca -tls-client-auth``, ``-insecure`` and ``-token``)
over ``SKYNET_*`` variables over the code's defaults; ``help``, ``-h``, ``-help``,
``--help`` print the usage and exit 0; a usage error is one line on stderr and exit 2."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Sequence

#: flag, variable, value name, help
FLAGS = [
    ("name", "SKYNET_NAME", "NAME", "service name"),
    ("version", "SKYNET_VERSION", "VERSION", "service version"),
    ("region", "SKYNET_REGION", "REGION", "region it serves in"),
    ("host", "SKYNET_HOST", "HOST", "host it registers under (default: the service address's host)"),
    ("l", "SKYNET_SERVICE_ADDR", "HOST:PORT[-PORT]", "where it serves calls: the first free port of the range"),
    ("admin", "SKYNET_ADMIN_ADDR", "HOST:PORT[-PORT]", "where it serves admin calls: the first free port of the range"),
    ("coordinators", "SKYNET_COORDINATORS", "HOST:PORT,...", "the coordinator addresses"),
    ("tls-cert", "SKYNET_TLS_CERT", "FILE", "this process's certificate (PEM): with -tls-key its ports serve TLS"),
    ("tls-key", "SKYNET_TLS_KEY", "FILE", "that certificate's private key (PEM)"),
    ("tls-ca", "SKYNET_TLS_CA", "FILE", "the CA (PEM) peers' certificates must chain to; given, calls go over TLS"),
    ("tls-client-auth", "SKYNET_TLS_CLIENT_AUTH", "", "serve only callers whose certificate -tls-ca signed (mutual TLS)"),
    ("insecure", "SKYNET_INSECURE", "", "serve without TLS on an address other machines reach"),
    ("token", "SKYNET_TOKEN", "TOKEN|@FILE", "the token presented to a coordinator with auth on (`sky auth token create` makes one)"),
]

#: flags that take no value: alone they mean true
BOOLEANS = {"tls-client-auth", "insecure"}


class UsageError(ValueError):
    """A command line that cannot be read; the message names the flag."""


@dataclass
class CommandLine:
    """What a command line asked for: the environment to configure from, or help."""

    environ: dict[str, str]
    help: bool = False


def read(arguments: Sequence[str], environ: dict[str, str] | None = None) -> CommandLine:
    """The environment with each flag given written over its variable; raises
    :class:`UsageError` for an unknown flag, a flag without a value or a stray argument."""
    merged = dict(os.environ if environ is None else environ)
    if (arguments and arguments[0] == "help") or any(a in ("-h", "-help", "--help") for a in arguments):
        return CommandLine(merged, help=True)
    variables = {flag: variable for flag, variable, _, _ in FLAGS}
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if not argument.startswith("-") or argument in ("-", "--"):
            raise UsageError(f"unexpected argument {argument!r}: every setting is a flag")
        name, equals, value = argument.lstrip("-").partition("=")
        if name not in variables:
            raise UsageError(f"flag provided but not defined: -{name}")
        if not equals and name in BOOLEANS:
            value = "true"
        elif not equals:
            index += 1
            if index == len(arguments):
                raise UsageError(f"flag needs an argument: -{name}")
            value = arguments[index]
        merged[variables[name]] = value
        index += 1
    return CommandLine(merged)


def usage(program: str, defaults: dict[str, str]) -> str:
    """The help screen: each flag with its variable and default."""
    rows = [(f"-{flag} {value}", f"{text} ({variable}; default {defaults.get(flag) or 'none'})") for flag, variable, value, text in FLAGS]
    rows.append(("-help", "print this help"))
    width = max(len(left) for left, _ in rows)
    lines = [f"Usage: {program} [flags]", "", "A Skynet service. Flags win over SKYNET_* variables, which win over the code's defaults.", ""]
    lines += [f"  {left.ljust(width)}  {right}" for left, right in rows]
    return "\n".join(lines)


def fail(program: str, error: Exception) -> None:
    """Prints one usage-error line and exits 2."""
    print(f"{program}: {error} (see '{program} -help')", file=sys.stderr)
    raise SystemExit(2)
