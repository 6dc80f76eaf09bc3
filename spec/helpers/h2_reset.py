"""Opens a gRPC stream, sends one message without END_STREAM, then resets it with CANCEL,
as grpc-go and C-core clients cancel. Usage: h2_reset.py HOST PORT PATH"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.create_connection((host, port))
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
stream_id = conn.get_next_available_stream_id()
conn.send_headers(stream_id, [(':method', 'POST'), (':scheme', 'http'), (':authority', f'{host}:{port}'),
                              (':path', path), ('content-type', 'application/grpc'), ('te', 'trailers')])
conn.send_data(stream_id, b'\x00\x00\x00\x00\x03one')
sock.sendall(conn.data_to_send())
time.sleep(0.2)
conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
sock.sendall(conn.data_to_send())
time.sleep(0.3)
sock.close()
print('reset sent')
