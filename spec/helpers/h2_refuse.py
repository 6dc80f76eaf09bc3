"""A gRPC server that refuses streams before processing them, for gRFC A6 transparent retry.
Usage: h2_refuse.py MODE COUNT. MODE: refuse (RST_STREAM REFUSED_STREAM) or goaway (GOAWAY with
last-stream-id 0, then close the connection). The first COUNT streams are refused; later ones get
an OK answer with one message "ok". Prints the port, then one line per stream it sees."""
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events

mode, count = sys.argv[1], int(sys.argv[2])
seen = 0
lock = threading.Lock()


def serve(sock):
    global seen
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    with lock:
                        seen += 1
                        n = seen
                    print(f'stream {n}', flush=True)
                    if n <= count and mode == 'refuse':
                        conn.reset_stream(event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                    elif n <= count and mode == 'goaway':
                        conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=0)
                        sock.sendall(conn.data_to_send())
                        sock.close()
                        return
                    else:
                        conn.send_headers(event.stream_id, [(':status', '200'), ('content-type', 'application/grpc')])
                        conn.send_data(event.stream_id, b'\x00\x00\x00\x00\x02ok')
                        conn.send_headers(event.stream_id, [('grpc-status', '0')], end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
while True:
    client, _ = listener.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
