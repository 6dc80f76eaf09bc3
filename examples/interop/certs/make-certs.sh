#!/bin/sh
# Remakes the interop suite's test certificates: a CA (ca.pem) and a server certificate
# (server1.pem, server1.key) for *.test.google.fr, the conventional --server_host_override,
# and for localhost. Test keys only: never use them for anything real.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out ca.pem -days 7300 -subj '/CN=grpc-iter interop test CA' 2>/dev/null
printf 'subjectAltName=DNS:*.test.google.fr,DNS:waterzooi.test.google.be,DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > "$tmp/server1.ext"
openssl req -newkey rsa:2048 -nodes -keyout server1.key -out "$tmp/server1.csr" -subj '/CN=*.test.google.com' 2>/dev/null
openssl x509 -req -in "$tmp/server1.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAcreateserial -CAserial "$tmp/ca.srl" -out server1.pem -days 7300 -extfile "$tmp/server1.ext" 2>/dev/null
