#!/usr/bin/env python3
"""Holds N keep-alive connections to the mock open, idle, each after one request (GET PATH):
bench/soak.sh's idle-connections figure. Prints how many it holds once they are all open, then
keeps them until stdin closes or HOLD seconds pass.

    hold.py BASE_URL CA_FILE PATH N HOLD
"""
import socket, ssl, sys, time, urllib.parse

base, ca, path, n, hold = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
u = urllib.parse.urlsplit(base)
ctx = ssl.create_default_context(cafile=ca) if u.scheme == "https" else None
held, failed = [], 0
for _ in range(n):
    try:
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        if ctx:
            s = ctx.wrap_socket(s, server_hostname=u.hostname)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("closed")
            head += chunk
        # The body is small (JWKS): read what Content-Length says is left.
        h, _, body = head.partition(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in h.split(b"\r\n") if l.lower().startswith(b"content-length"))
        while len(body) < length:
            body += s.recv(65536)
        held.append(s)
    except OSError:
        failed += 1
print(f"holding {len(held)} ({failed} failed)", flush=True)
time.sleep(hold)
