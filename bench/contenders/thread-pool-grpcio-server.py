# The thread-pool workload on Python grpcio: grpc.server(futures.ThreadPoolExecutor(max_workers=N))
# with generic handlers over raw bytes (no stubs). The work is the same xorshift32 loop as the Node
# contenders', its iteration count calibrated to ~2 ms on an idle core. Pure Python holds the GIL,
# so the pool's threads take turns: the contrast the workload shows.
#   /usr/bin/python3 thread-pool-grpcio-server.py [max_workers]   prints READY <port>, exits on "exit"
#   /usr/bin/python3 thread-pool-grpcio-server.py --calibrate     prints ITERATIONS <n>
# THREAD_POOL_PY_ITERATIONS, when set, is the count to use (the suite calibrates once).
import os
import sys
import time
from concurrent import futures

import grpc

BURN_MS = 2.0


def chain(iterations):
    x = 2463534242
    for _ in range(iterations):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
    return x.to_bytes(4, 'big') + bytes(4)


def calibrate():
    chain(20000)
    best = float('inf')
    for _ in range(5):
        t = time.perf_counter()
        chain(5000)
        best = min(best, (time.perf_counter() - t) * 1000 / 5000)
    return max(1, round(BURN_MS / best))


ITERATIONS = int(os.environ.get('THREAD_POOL_PY_ITERATIONS') or 0) or calibrate()
SERVING = bytes([0x08, 0x01])  # grpc.health.v1.HealthCheckResponse { status: SERVING }


def unary(fn):
    return grpc.unary_unary_rpc_method_handler(fn)  # no (de)serializers: raw bytes


HANDLERS = {
    '/bench.Work/Burn': unary(lambda request, context: chain(ITERATIONS)[:8]),
    '/bench.Work/Nothing': unary(lambda request, context: b''),
    '/bench.Cheap/Ping': unary(lambda request, context: b''),
    '/grpc.health.v1.Health/Check': unary(lambda request, context: SERVING),
}


class Generic(grpc.GenericRpcHandler):
    def service(self, handler_call_details):
        return HANDLERS.get(handler_call_details.method)


def main():
    if sys.argv[1:] == ['--calibrate']:
        print(f'ITERATIONS {calibrate()}', flush=True)
        return
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), handlers=[Generic()], options=[('grpc.max_concurrent_streams', 100000)])
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()
    print(f'grpcio: {ITERATIONS} iterations per call, {workers} threads', file=sys.stderr)
    print(f'READY {port}', flush=True)
    for line in sys.stdin:
        if line.strip() == 'exit':
            break
    server.stop(None)


if __name__ == '__main__':
    main()
