"""The misbehaving HTTP/2 server of grpc/grpc doc/negative-http2-interop-test-descriptions.md.

Answers grpc.testing.TestService/UnaryCall the way the suite's reference server
(grpc/grpc test/http2_test/) does for one test case:

  rst_after_header  response headers, then RST_STREAM(NO_ERROR)
  rst_during_data   headers, the first half of the response message, then RST_STREAM(NO_ERROR)
  rst_after_data    headers, the whole response message, then RST_STREAM(NO_ERROR) (no trailers)
  goaway            a normal response, then GOAWAY(NO_ERROR, last stream = that stream)
  ping              PINGs before and after the headers and before and after the data
  max_streams       SETTINGS_MAX_CONCURRENT_STREAMS = 1 from the first SETTINGS frame on

Usage: negative-http2-server.py --port=PORT --test_case=CASE   (--port=0 picks a free port)

Prints "listening on PORT" once bound, {"opened": N} for each connection it accepts, and, when
connection N closes, one JSON line saying what the server saw on it (what the descriptions'
"Server asserts" check): the streams it answered, the most streams open at once, PINGs sent and
still unacknowledged, streams opened after its GOAWAY, and any HTTP/2 rule the client broke.
Needs Debian's python3-h2.
"""
import argparse
import json
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

CASES = ('rst_after_header', 'rst_during_data', 'rst_after_data', 'goaway', 'ping', 'max_streams')
# The reference server never sends a DATA frame over the smallest SETTINGS_MAX_FRAME_SIZE.
MAX_CHUNK = 16384
_print_lock = threading.Lock()


def read_varint(buf, at):
    value = shift = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def response_size(request):
    """SimpleRequest.response_size (field 2, varint); the other fields are skipped."""
    at = 0
    size = 0
    while at < len(request):
        key, at = read_varint(request, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, at = read_varint(request, at)
            if field == 2:
                size = value
        elif wire == 2:
            length, at = read_varint(request, at)
            at += length
        elif wire == 5:
            at += 4
        elif wire == 1:
            at += 8
        else:
            raise ValueError(f'Cannot parse SimpleRequest: wire type {wire}')
    return size


def framed_response(size):
    """A gRPC length-prefixed SimpleResponse whose payload.body is `size` zero bytes."""
    payload = (b'\x12' + varint(size) + b'\x00' * size) if size > 0 else b''
    message = b'\x0a' + varint(len(payload)) + payload
    return b'\x00' + len(message).to_bytes(4, 'big') + message


class Connection:
    def __init__(self, sock, number, test_case):
        self.sock = sock
        self.test_case = test_case
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        self.requests = {}  # stream id -> bytes received so far
        self.sending = {}  # stream id -> [bytes still to send]
        self.summary = {'connection': number, 'test_case': test_case, 'answered': [], 'max_open_streams': 0,
                        'pings_sent': 0, 'pings_outstanding': 0, 'streams_after_goaway': 0, 'violation': None}
        self.goaway_sent = False
        self.unparsed = b''

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def ping(self):
        self.summary['pings_sent'] += 1
        self.summary['pings_outstanding'] += 1
        self.conn.ping(self.summary['pings_sent'].to_bytes(8, 'big'))
        self.flush()

    def run(self):
        self.conn.initiate_connection()
        if self.test_case == 'max_streams':
            self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        self.flush()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                if self.goaway_sent:
                    self.read_after_goaway(data)
                    continue
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.TooManyStreamsError as err:
                    self.summary['violation'] = f'opened a stream over MAX_CONCURRENT_STREAMS: {err}'
                    self.flush()
                    break
                except h2.exceptions.ProtocolError as err:
                    self.summary['violation'] = f'HTTP/2 protocol error: {err}'
                    self.flush()
                    break
                for event in events:
                    if not self.goaway_sent:
                        self.on_event(event)
                    elif isinstance(event, h2.events.RequestReceived):
                        self.summary['streams_after_goaway'] += 1
                self.pump()
                self.flush()
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            self.sock.close()
            with _print_lock:
                print(json.dumps(self.summary), flush=True)

    def on_event(self, event):
        if isinstance(event, h2.events.RequestReceived):
            self.requests[event.stream_id] = b''
            self.summary['max_open_streams'] = max(self.summary['max_open_streams'], self.conn.open_inbound_streams)
            if self.test_case == 'ping':
                self.ping()
            self.conn.send_headers(event.stream_id, [(':status', '200'), ('content-type', 'application/grpc'),
                                                     ('grpc-encoding', 'identity'),
                                                     ('grpc-accept-encoding', 'identity,deflate,gzip')])
            self.flush()
            if self.test_case == 'ping':
                self.ping()
            if self.test_case == 'rst_after_header':
                self.conn.reset_stream(event.stream_id, error_code=0)
                self.requests.pop(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if event.stream_id not in self.requests:
                return
            buf = self.requests[event.stream_id] + event.data
            self.requests[event.stream_id] = buf
            # Like the reference server, answer once the one request message is complete.
            if len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[1:5], 'big'):
                return
            del self.requests[event.stream_id]
            response = framed_response(response_size(buf[5:5 + int.from_bytes(buf[1:5], 'big')]))
            if self.test_case == 'rst_during_data':
                response = response[:len(response) // 2]
            if self.test_case == 'ping':
                self.ping()
            self.sending[event.stream_id] = [response]
            self.pump()
            if self.test_case == 'ping':
                self.ping()
        elif isinstance(event, h2.events.PingAckReceived):
            self.summary['pings_outstanding'] -= 1
        elif isinstance(event, h2.events.StreamReset):
            self.requests.pop(event.stream_id, None)
            self.sending.pop(event.stream_id, None)

    def read_after_goaway(self, data):
        """Counts the streams a client opens after our GOAWAY, which it must not do
        (PROTOCOL-HTTP2.md, "GOAWAY Frame"). h2 refuses every frame once it has sent GOAWAY,
        so the frame headers are read here: 3 bytes length, type, flags, 4 bytes stream id."""
        self.unparsed += data
        while len(self.unparsed) >= 9:
            length = int.from_bytes(self.unparsed[0:3], 'big')
            if len(self.unparsed) < 9 + length:
                return
            frame_type = self.unparsed[3]
            stream_id = int.from_bytes(self.unparsed[5:9], 'big') & 0x7FFFFFFF
            if frame_type == 0x1 and stream_id > self.summary['answered'][-1]:
                self.summary['streams_after_goaway'] += 1
            self.unparsed = self.unparsed[9 + length:]

    def pump(self):
        """Sends what the client's flow-control windows allow; a finished stream gets its ending."""
        for stream_id in list(self.sending):
            rest = self.sending[stream_id][0]
            while rest:
                window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size, MAX_CHUNK)
                if window <= 0:
                    break
                self.conn.send_data(stream_id, rest[:window])
                rest = rest[window:]
            self.sending[stream_id][0] = rest
            if not rest:
                del self.sending[stream_id]
                self.finish(stream_id)

    def finish(self, stream_id):
        self.summary['answered'].append(stream_id)
        if self.test_case in ('rst_during_data', 'rst_after_data'):
            self.conn.reset_stream(stream_id, error_code=0)
            return
        self.conn.send_headers(stream_id, [('grpc-status', '0')], end_stream=True)
        if self.test_case == 'goaway':
            self.conn.close_connection(error_code=0, last_stream_id=stream_id)
            self.goaway_sent = True
            # A frame h2 has only partly read continues in the next read.
            self.unparsed = bytes(self.conn.incoming_buffer.data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--port', type=int, default=8080, help='the port to listen on; 0 picks one (default 8080)')
    parser.add_argument('--test_case', choices=CASES, required=True, help='how to misbehave')
    args = parser.parse_args()
    listener = socket.create_server(('', args.port), family=socket.AF_INET6, dualstack_ipv6=True) \
        if socket.has_dualstack_ipv6() else socket.create_server(('', args.port))
    print(f'listening on {listener.getsockname()[1]}', flush=True)
    number = 0
    try:
        while True:
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            number += 1
            with _print_lock:
                print(json.dumps({'opened': number}), flush=True)
            threading.Thread(target=Connection(sock, number, args.test_case).run, daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    sys.exit(main())
