"""A server reflection client written with Google's libraries (grpcio, protobuf), not ours.

Replays grpcurl's sequence against a server: list_services, then for each service
file_containing_symbol, file_by_filename for every dependency not received yet, and
all_extension_numbers_of_type (plus file_containing_extension) for each message type met;
builds the message classes from the descriptors received, with protobuf's descriptor_pool and
message_factory; then makes the calls given on the command line dynamically with them.

usage: reflection_client.py <address> <reflection.pb> <version> [<calls.json>]

reflection.pb is protoc's --descriptor_set_out of grpc/reflection/*/reflection.proto (so even
the reflection messages come from protoc, not from the server under test). calls.json lists
{"method": "/pkg.Svc/Method", "request": {...json...}} to call. Prints a JSON report.
"""
import json
import queue
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

address, reflection_pb, version = sys.argv[1], sys.argv[2], sys.argv[3]
calls = json.load(open(sys.argv[4])) if len(sys.argv) > 4 else []



def message_class(descriptor):
    # protobuf >= 4.21 has GetMessageClass; Debian 12's 3.21 has only MessageFactory.
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


own = descriptor_pool.DescriptorPool()
with open(reflection_pb, "rb") as f:
    for file in descriptor_pb2.FileDescriptorSet.FromString(f.read()).file:
        own.Add(file)
package = "grpc.reflection.%s" % version
Request = message_class(own.FindMessageTypeByName(package + ".ServerReflectionRequest"))
Response = message_class(own.FindMessageTypeByName(package + ".ServerReflectionResponse"))

channel = grpc.insecure_channel(address)
info = channel.stream_stream(
    "/%s.ServerReflection/ServerReflectionInfo" % package,
    request_serializer=Request.SerializeToString,
    response_deserializer=Response.FromString,
)


class Stream:
    """One long reflection stream: each ask() sends one request and reads its answer.

    grpcio pulls the request iterator from its own thread, so requests go through a queue and
    the stream stays open between them.
    """

    def __init__(self):
        self.q = queue.Queue()
        self.responses = info(iter(self.q.get, None))
        self.log = []

    def ask(self, **fields):
        request = Request(host="reflection.test", **fields)
        self.q.put(request)
        response = next(self.responses)
        assert response.original_request == request, "original_request not echoed"
        assert response.valid_host == "reflection.test", "valid_host not echoed"
        self.log.append(request.WhichOneof("message_request"))
        return response

    def close(self):
        self.q.put(None)
        for _ in self.responses:
            pass


stream = Stream()
report = {"services": [], "files": [], "errors": {}, "extensions": {}, "calls": [], "described": {}}

listed = stream.ask(list_services="")
report["services"] = [s.name for s in listed.list_services_response.service]

received = {}


def take(response, what):
    kind = response.WhichOneof("message_response")
    if kind == "error_response":
        report["errors"][what] = [response.error_response.error_code, response.error_response.error_message]
        return []
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in response.file_descriptor_response.file_descriptor_proto]
    for file in files:
        received.setdefault(file.name, file)
    return files


def fetch_dependencies(files):
    for file in files:
        for dep in file.dependency:
            if dep not in received:
                fetch_dependencies(take(stream.ask(file_by_filename=dep), dep))


for service in report["services"]:
    files = take(stream.ask(file_containing_symbol=service), service)
    fetch_dependencies(files)

# Add every file after its dependencies, as a DescriptorPool requires.
pool = descriptor_pool.DescriptorPool()
added = set()


def add(name):
    if name in added:
        return
    for dep in received[name].dependency:
        add(dep)
    pool.Add(received[name])
    added.add(name)


for name in list(received):
    add(name)
report["files"] = sorted(received)

# grpcurl asks for the extension numbers of each message type it meets.
seen_types = set()


def visit(message):
    if message.full_name in seen_types:
        return
    seen_types.add(message.full_name)
    answer = stream.ask(all_extension_numbers_of_type=message.full_name)
    if answer.WhichOneof("message_response") == "error_response":
        report["errors"]["extensions of " + message.full_name] = [answer.error_response.error_code, answer.error_response.error_message]
    else:
        numbers = sorted(answer.all_extension_numbers_response.extension_number)
        if numbers:
            report["extensions"][message.full_name] = numbers
        for number in numbers:
            files = take(stream.ask(file_containing_extension={"containing_type": message.full_name, "extension_number": number}), "%s(%d)" % (message.full_name, number))
            fetch_dependencies(files)
            for file in files:
                add(file.name)
    for field in message.fields:
        if field.message_type is not None:
            visit(field.message_type)


for service in report["services"]:
    try:
        described = pool.FindServiceByName(service)
    except KeyError:
        continue
    report["described"][service] = [m.name for m in described.methods]
    for method in described.methods:
        visit(method.input_type)
        visit(method.output_type)

# Unknown names: NOT_FOUND in an error_response, and the stream stays usable.
for probe in ["no.such.Symbol"]:
    take(stream.ask(file_containing_symbol=probe), probe)
take(stream.ask(file_by_filename="no/such/file.proto"), "no/such/file.proto")
again = stream.ask(list_services="")
report["after_errors"] = [s.name for s in again.list_services_response.service]
stream.close()

for call in calls:
    path = call["method"]
    service, method = path[1:].split("/")
    descriptor = pool.FindServiceByName(service).FindMethodByName(method)
    In = message_class(descriptor.input_type)
    Out = message_class(descriptor.output_type)
    request = json_format.ParseDict(call["request"], In(), descriptor_pool=pool)
    for name, value in call.get("extensions", {}).items():
        ext = pool.FindExtensionByName(name)
        getattr(request, call["extension_field"]).Extensions[ext] = value
    unary = channel.unary_unary(path, request_serializer=In.SerializeToString, response_deserializer=Out.FromString)
    response = unary(request, timeout=10)
    entry = {"method": path, "response": json_format.MessageToDict(response, descriptor_pool=pool), "equal": response == request}
    for name in call.get("extensions", {}):
        entry.setdefault("extensions", {})[name] = getattr(response, call["extension_field"]).Extensions[pool.FindExtensionByName(name)]
    report["calls"].append(entry)

report["sequence"] = stream.log
print(json.dumps(report, sort_keys=True))
