"""A REAPI server gone wrong, for the remote cache fault tests: a gRPC proxy in front of a real
server (BuildGrid) that passes every call through, except that

  corrupt   every blob it serves (ByteStream.Read, ContentAddressableStorage.BatchReadBlobs) has
            one byte changed: the digest the client asked for no longer matches the bytes;
  hang      no call is ever answered (an overloaded or wedged server: the connection is up, the
            answers never come).

  python faulty_reapi.py MODE LISTEN_PORT UPSTREAM_PORT

Run with BuildGrid's interpreter (its grpcio and REAPI protos); prints "ready" when it listens.
"""
from __future__ import annotations

import sys
import threading
from concurrent import futures

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2
from buildgrid._protos.google.bytestream import bytestream_pb2

READ = "/google.bytestream.ByteStream/Read"
BATCH_READ = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs"


def flipped(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF]) if data else data


def corrupt_read(raw: bytes) -> bytes:
    response = bytestream_pb2.ReadResponse.FromString(raw)
    response.data = flipped(response.data)
    return response.SerializeToString()


def corrupt_batch(raw: bytes) -> bytes:
    response = remote_execution_pb2.BatchReadBlobsResponse.FromString(raw)
    for blob in response.responses:
        blob.data = flipped(blob.data)
    return response.SerializeToString()


class Proxy(grpc.GenericRpcHandler):
    def __init__(self, mode: str, upstream: grpc.Channel) -> None:
        self.mode = mode
        self.upstream = upstream
        self.forever = threading.Event()  # never set: what a hanging call waits for

    def service(self, details: grpc.HandlerCallDetails):
        method = details.method
        if self.mode == "hang":
            def hang(request_or_iterator, context):
                self.forever.wait()
            if method == READ:
                return grpc.unary_stream_rpc_method_handler(hang)
            if method.endswith("/Write"):
                return grpc.stream_unary_rpc_method_handler(hang)
            return grpc.unary_unary_rpc_method_handler(hang)
        metadata = lambda context: tuple(context.invocation_metadata())  # noqa: E731
        if method == READ:
            call = self.upstream.unary_stream(method)

            def read(request: bytes, context):
                for chunk in call(request, metadata=metadata(context)):
                    yield corrupt_read(chunk)
            return grpc.unary_stream_rpc_method_handler(read)
        if method.endswith("/Write"):
            call = self.upstream.stream_unary(method)
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: call(requests, metadata=metadata(context))
            )
        call = self.upstream.unary_unary(method)

        def unary(request: bytes, context):
            response = call(request, metadata=metadata(context))
            return corrupt_batch(response) if method == BATCH_READ else response
        return grpc.unary_unary_rpc_method_handler(unary)


def main(mode: str, port: str, upstream_port: str) -> None:
    assert mode in ("corrupt", "hang"), mode
    limits = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    upstream = grpc.insecure_channel(f"127.0.0.1:{upstream_port}", options=limits)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=limits)
    server.add_generic_rpc_handlers([Proxy(mode, upstream)])
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main(*sys.argv[1:])
