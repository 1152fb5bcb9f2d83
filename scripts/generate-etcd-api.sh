#!/usr/bin/env bash
# Generates the Swift code for etcd's gRPC API (KV, Watch, Lease, Cluster, Maintenance)
# into Sources/EtcdAPI/Generated, from the .proto files Debian ships with etcd 3.4
# (golang-etcd-server-dev). Run it by hand when the API changes and commit the output:
# ordinary builds and CI never build the generator plugins (they take minutes).
#
# Needs: protoc (Debian: protobuf-compiler), golang-etcd-server-dev, and the two plugins,
# which this script builds from the package mirror in a scratch package outside the repo:
# protoc-gen-swift (swift-protobuf) and protoc-gen-grpc-swift-2 (grpc-swift-protobuf).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/Sources/EtcdAPI/Generated"
work=${ETCD_GEN_WORK:-/tmp/skynet-etcd-gen}
mkdir -p "$work"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v protoc >/dev/null || ! dpkg -s golang-etcd-server-dev >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler golang-etcd-server-dev >/dev/null
fi

# The plugins, built once per work directory.
plugins="$work/plugins"
if [ ! -x "$plugins/.build/release/protoc-gen-swift" ] || [ ! -x "$plugins/.build/release/protoc-gen-grpc-swift-2" ]; then
    mkdir -p "$plugins/Sources/Dummy"
    echo "" > "$plugins/Sources/Dummy/Dummy.swift"
    cat > "$plugins/Package.swift" <<'SWIFT'
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "Dummy")]
)
SWIFT
    (cd "$plugins" && swift build -c release --product protoc-gen-swift && swift build -c release --product protoc-gen-grpc-swift-2)
fi

# etcd's protos import gogoproto and google.api annotations, which are not installed and
# which the API does not need: strip those imports, the (gogoproto.*) options and the HTTP
# gateway bodies of the rpcs, and lay the files out as rpc.proto imports them.
gocode=$(dpkg -L golang-etcd-server-dev | grep '/etcdserverpb/rpc.proto$' | sed 's|/go.etcd.io/etcd/etcdserver/etcdserverpb/rpc.proto||')
protos="$work/protos"
rm -rf "$protos" && mkdir -p "$protos/etcd/mvcc/mvccpb" "$protos/etcd/auth/authpb" "$protos/etcd/etcdserver/etcdserverpb"
python3 - "$gocode/go.etcd.io/etcd" "$protos/etcd" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
def strip(text):
    text = re.sub(r'^import "(gogoproto/gogo|google/api/annotations)\.proto";\n', '', text, flags=re.M)
    text = re.sub(r'^option \(gogoproto\.[^;]*;\n', '', text, flags=re.M)
    text = re.sub(r'\s*\[\s*\(gogoproto\.[^\]]*\]', '', text)
    # rpc X(A) returns (B) { option (google.api.http) = { ... nested ... }; }  ->  rpc X(A) returns (B);
    out, i = [], 0
    for m in re.finditer(r'(rpc\s+\w+\s*\([^)]*\)\s*returns\s*\([^)]*\))\s*\{', text):
        if m.start() < i: continue
        depth, j = 1, m.end()
        while depth:
            depth += {'{': 1, '}': -1}.get(text[j], 0); j += 1
        out.append(text[i:m.start()] + m.group(1) + ';'); i = j
    out.append(text[i:])
    return ''.join(out)
for rel in ['mvcc/mvccpb/kv.proto', 'auth/authpb/auth.proto', 'etcdserver/etcdserverpb/rpc.proto']:
    with open(f'{src}/{rel}') as f: text = strip(f.read())
    with open(f'{dst}/{rel}', 'w') as f: f.write(text)
PY

rm -rf "$out" && mkdir -p "$out"
protoc -I "$protos" \
    --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$plugins/.build/release/protoc-gen-grpc-swift-2" \
    --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Public,Client=true,Server=false,FileNaming=PathToUnderscores \
    etcd/mvcc/mvccpb/kv.proto etcd/auth/authpb/auth.proto etcd/etcdserver/etcdserverpb/rpc.proto
# The gRPC generator writes a file for every proto, services or not: keep those with some.
grep -l "This file contained no services" "$out"/*.grpc.swift | xargs -r rm
echo "generated into $out:"; wc -l "$out"/*.swift
