#!/usr/bin/env python3
"""A fixed-count HTTP/1.1 load for callgrind.sh: CONNS keep-alive connections, each
writing DEPTH requests at once and waiting for all DEPTH responses before the next
batch, until TOTAL responses have arrived. Prints the number of responses counted.

    fixed_client.py HOST PORT PATH CONNS DEPTH TOTAL

A response is counted by its body, `Hello, World!` (every peer's /plaintext and /json
answer contains it once), so the client parses nothing else.
"""
import selectors
import socket
import sys


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    path, conns, depth, total = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    marker = b"Hello, World!"
    batch = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode() * depth
    sel = selectors.DefaultSelector()
    # Per connection: responses counted in the current batch, and the tail of the last
    # read (a marker may straddle two reads).
    state = {}
    sent = 0

    def send(sock):
        nonlocal sent
        sock.sendall(batch)
        sent += depth
        state[sock] = [0, b""]

    for _ in range(conns):
        sock = socket.create_connection((host, port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sel.register(sock, selectors.EVENT_READ)
        send(sock)
    done = 0
    while done < total:
        events = sel.select(timeout=60)
        if not events:
            sys.exit("fixed_client.py: no response for 60 s")
        for key, _ in events:
            sock = key.fileobj
            data = sock.recv(65536)
            if not data:
                sys.exit("fixed_client.py: the server closed a connection")
            st = state[sock]
            buf = st[1] + data
            n = buf.count(marker)
            st[0] += n
            done += n
            st[1] = buf[-(len(marker) - 1):]
            if st[0] == depth and sent < total:
                send(sock)
    print(done)


if __name__ == "__main__":
    main()
