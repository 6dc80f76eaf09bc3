"""A raw HTTP/2 client that writes frames exactly as told and reports every frame the server
sends back, for the limits node:http2 clients cannot cross on purpose.
Usage: h2_probe.py HOST PORT SCENARIO [ARG]
  metadata SIZE        after the SETTINGS exchange, a call carrying SIZE bytes of metadata, then a small call
  metadata-early SIZE  the same, sent before the server's SETTINGS are acknowledged
  streams COUNT        COUNT calls left open, sent before the server's SETTINGS are acknowledged
  ping-flood COUNT     COUNT PINGs on a connection holding one open call, reading the ACKs as they
                       come and never more than 50 PINGs ahead of them
  graceful             one open call; once the first GOAWAY comes, opens another call as a client
                       would that sent it before the GOAWAY arrived, then finishes the first
Prints one JSON object per line: {"event": ...}; the last line is {"event": "done", ...}.
Uses hyperframe and hpack, which Debian's python3-h2 depends on."""
import json
import socket
import sys
import time

from hpack import Decoder, Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

host, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0
sock = socket.create_connection((host, port))
encoder, decoder = Encoder(), Decoder()
inbox = b''
closed = False
streams = {}  # stream id -> {"headers": [...], "data": bytes, "rst": code}
goaways = []
pings = []
ping_acks = 0


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


def send(*frames):
    sock.sendall(b''.join(f.serialize() for f in frames))


def call_frames(stream_id, path='/test.Svc/Echo', metadata=(), end=True, payload=b'x'):
    headers = [(':method', 'POST'), (':scheme', 'http'), (':authority', f'{host}:{port}'), (':path', path),
               ('content-type', 'application/grpc'), ('te', 'trailers')] + list(metadata)
    block = encoder.encode(headers)
    # Blocks over the default SETTINGS_MAX_FRAME_SIZE go out as HEADERS + CONTINUATION (RFC 9113 6.10).
    chunks = [block[i:i + 16000] for i in range(0, len(block), 16000)] or [b'']
    frames = [HeadersFrame(stream_id, chunks[0])]
    frames += [ContinuationFrame(stream_id, c) for c in chunks[1:]]
    frames[-1].flags.add('END_HEADERS')
    data = DataFrame(stream_id, b'\x00' + len(payload).to_bytes(4, 'big') + payload)
    if end:
        data.flags.add('END_STREAM')
    return frames + [data]


def stream(stream_id):
    return streams.setdefault(stream_id, {'headers': [], 'data': 0, 'rst': None, 'ended': False})


def on_frame(f):
    if isinstance(f, SettingsFrame):
        if 'ACK' not in f.flags:
            emit('settings', settings={str(k): v for k, v in f.settings.items()})
            return 'settings'
        return 'settings-ack'
    if isinstance(f, HeadersFrame) or isinstance(f, ContinuationFrame):
        s = stream(f.stream_id)
        s['headers'].append(dict(decoder.decode(f.data)))
        if 'END_STREAM' in f.flags:
            s['ended'] = True
            return 'end'
    elif isinstance(f, DataFrame):
        s = stream(f.stream_id)
        s['data'] += len(f.data)
        if 'END_STREAM' in f.flags:
            s['ended'] = True
            return 'end'
    elif isinstance(f, RstStreamFrame):
        stream(f.stream_id)['rst'] = f.error_code
        emit('rst', stream=f.stream_id, code=f.error_code)
        return 'end'
    elif isinstance(f, GoAwayFrame):
        goaways.append({'last': f.last_stream_id, 'code': f.error_code, 'debug': f.additional_data.decode('latin1')})
        emit('goaway', **goaways[-1])
        return 'goaway'
    elif isinstance(f, PingFrame):
        if 'ACK' not in f.flags:
            pings.append(bytes(f.opaque_data))
            return 'ping'
        global ping_acks
        ping_acks += 1
        return 'ping-ack'
    return None


def read_until(predicate, timeout):
    """Feeds frames to on_frame until predicate(kind, frame) is true, the peer closes, or timeout."""
    global inbox, closed
    deadline = time.time() + timeout
    while True:
        while len(inbox) >= 9:
            f, length = Frame.parse_frame_header(memoryview(inbox[:9]))
            if len(inbox) < 9 + length:
                break
            f.parse_body(memoryview(inbox[9:9 + length]))
            inbox = inbox[9 + length:]
            if predicate(on_frame(f), f):
                return True
        if closed or time.time() >= deadline:
            return False
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        if not data:
            closed = True
        inbox += data


def handshake(wait_for_ack):
    sock.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
    send(SettingsFrame(0))
    if not wait_for_ack:
        return
    read_until(lambda kind, f: kind == 'settings', 2.0)
    send(SettingsFrame(0, flags=['ACK']))
    # Once our ACK is in, the server enforces the SETTINGS it advertised (RFC 9113 6.5.3).
    read_until(lambda kind, f: kind == 'settings-ack', 2.0)


def summary():
    return {str(k): {'status': next((h.get(':status') for h in v['headers'] if ':status' in h), None),
                     'grpc-status': next((h.get('grpc-status') for h in v['headers'] if 'grpc-status' in h), None),
                     'grpc-message': next((h.get('grpc-message') for h in v['headers'] if 'grpc-message' in h), None),
                     'data': v['data'], 'rst': v['rst'], 'ended': v['ended']} for k, v in sorted(streams.items())}


def until_streams_end(ids, timeout):
    read_until(lambda kind, f: all(stream(i)['ended'] or stream(i)['rst'] is not None for i in ids), timeout)


try:
    if scenario in ('metadata', 'metadata-early'):
        handshake(scenario == 'metadata')
        send(*call_frames(1, metadata=[('x-big', 'a' * arg)]))
        send(*call_frames(3))
        until_streams_end([1, 3], 3.0)
    elif scenario == 'streams':
        handshake(False)
        frames = []
        for i in range(arg):
            frames += call_frames(1 + 2 * i, path='/test.Svc/Hold', end=False)
        send(*frames)
        # Each call is answered with one message once it is admitted; a refused one is reset.
        read_until(lambda kind, f: all(stream(1 + 2 * i)['data'] > 0 or stream(1 + 2 * i)['rst'] is not None
                                       for i in range(arg)), 3.0)
    elif scenario == 'ping-flood':
        handshake(True)
        send(*call_frames(1, path='/test.Svc/Hold', end=False))
        sent = 0
        try:
            for i in range(arg):
                send(PingFrame(0, i.to_bytes(8, 'big')))
                sent += 1
                if sent - ping_acks > 50:
                    read_until(lambda kind, f: kind == 'goaway' or sent - ping_acks <= 25, 2.0)
                if goaways or closed:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        emit('sent', pings=sent)
        read_until(lambda kind, f: False, 1.5)
    elif scenario == 'graceful':
        handshake(True)
        send(*call_frames(1, path='/test.Svc/Hold', end=False))
        read_until(lambda kind, f: stream(1)['data'] > 0, 3.0)
        emit('ready')
        read_until(lambda kind, f: kind == 'goaway', 5.0)
        # A call the client sent before it could have seen the GOAWAY (and the ACK of any PING).
        send(*call_frames(3))
        for opaque in pings:
            send(PingFrame(0, opaque, flags=['ACK']))
        send(DataFrame(1, b'\x00\x00\x00\x00\x01y', flags=['END_STREAM']))
        until_streams_end([1], 5.0)
        read_until(lambda kind, f: False, 1.0)
except (BrokenPipeError, ConnectionResetError):
    closed = True
sock.close()
emit('done', streams=summary(), goaways=goaways, closed=closed)
