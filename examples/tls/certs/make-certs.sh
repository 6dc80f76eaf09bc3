#!/bin/sh
# Remakes the TLS example's certificates: a CA (ca.pem), a server certificate for localhost and
# 127.0.0.1 (server.pem, server.key) and a client certificate (client.pem, client.key) for
# mutual TLS. Example keys only: never use them for anything real.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out ca.pem -days 7300 -subj '/CN=grpc-iter example CA' 2>/dev/null
leaf() {
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$3" "$4" > "$tmp/$1.ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$tmp/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$tmp/$1.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAcreateserial -CAserial "$tmp/ca.srl" -out "$1.pem" -days 7300 -extfile "$tmp/$1.ext" 2>/dev/null
}
leaf server '/CN=localhost' 'DNS:localhost,IP:127.0.0.1' serverAuth
leaf client '/CN=greeter-client' 'DNS:greeter-client' clientAuth
