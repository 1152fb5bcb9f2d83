"""Calls a Skynet RPC server with Python's independent `msgpack` package.

Usage: interop_client.py HOST PORT
Sends pipelined requests and one notification, reads the responses, and prints them as
JSON (bytes as {"bin": [...]}) so the Swift test can check what a non-Swift client sees.
"""
import json
import socket
import sys

import msgpack

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.create_connection((host, port), timeout=10)
unpacker = msgpack.Unpacker(raw=False)


def send(message):
    sock.sendall(msgpack.packb(message, use_bin_type=True))


requests = [
    [0, 1, "add", [2, 3]],
    [0, 2, "echo", ["héllo wörld"]],
    [0, 3, "nope", []],
    [0, 4, "add", ["x", 1]],
    [0, 5, "raw", [b"\x00\x01", 1.5, None, True, {"k": [1, 2]}]],
    [0, 6, "greet", ["Ada", "Countess"]],
]
for request in requests:
    send(request)
send([2, "note", ["from python"]])
send([0, 7, "echo", ["last"]])

replies = []
while len(replies) < len(requests) + 1:
    data = sock.recv(65536)
    if not data:
        break
    unpacker.feed(data)
    replies.extend(unpacker)
sock.close()


def plain(value):
    if isinstance(value, bytes):
        return {"bin": list(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


print(json.dumps([plain(r) for r in replies]))
