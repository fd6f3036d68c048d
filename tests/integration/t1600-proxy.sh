#!/bin/bash
# forkcell-proxy driven directly, entirely inside network namespaces this
# test creates: the proxy's own namespace (the whole test runs under
# unshare -n), a server namespace joined to it by a veth pair (HTTP and
# HTTPS servers, a test CA made with the openssl CLI), and a "sandbox"
# namespace (unshare -n sleep) whose only service is the proxy. Names
# resolve through a private /etc/hosts bind-mounted in the test's private
# mount namespace. Checked: the sandbox cannot bypass the proxy; a denied
# host gets 403 JSON and a denied event; allow-only-GET passes GET and HEAD
# and refuses POST (forwarded and inside CONNECT); an L7 deny rule refuses
# a path over HTTPS (TLS terminated with a leaf of the proxy CA, also when
# hidden behind %2e%2e) while other paths pass; keep-alive across allowed
# and denied requests; 20 MB down and 5 MB up (Content-Length and chunked)
# through TLS termination and a tunnel; deny beats allow; audit mode lets a
# request through and records it; a binary rule admits curl and refuses
# python3, ancestors count inside the sandbox only, a binary replaced after
# first use loses its grants (TOFU digests); L4 CONNECT and tls: skip
# pass TLS through; loopback answers are ssrf_denied, dead upstreams 502;
# malformed requests get 400 without hurting the proxy; no query string in
# the events; SIGTERM prints the summary with the right counts; usage and
# startup errors exit 2 and 1.

# The whole test runs in a network namespace of its own.
if [ -z "${FC_T1600_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	export FC_T1600_NETNS=1
	exec unshare -n -- "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

FC_PROXY=$FORKCELL_BIN/forkcell-proxy
[ -x "$FC_PROXY" ] || skip_all "forkcell-proxy not built in $FORKCELL_BIN"
[ "${FC_T1600_NETNS:-}" = 1 ] || skip_all "needs unshare -n"
fc_require_cmd curl python3 openssl nsenter ip

T=$TEST_TMP
SRV_IP=10.77.0.2
PX_IP=10.77.0.1

# json_get FILE EXPR: a python expression on the parsed object r.
json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

# in_sbx CMD...: run CMD in the sandbox's network namespace.
in_sbx() {
	fc_t 30 nsenter --net="/proc/$(cat "$T/sbx.pid")/ns/net" "$@"
}

# pcurl OUTFILE URL [ARGS...]: curl through the proxy from the sandbox;
# prints the HTTP status (the CONNECT's when the tunnel was refused).
pcurl() {
	local out=$1 url=$2
	shift 2
	in_sbx curl -sS -o "$out" -w '%{http_code} %{http_connect}\n' --max-time 20 \
		-x http://127.0.0.1:3128 --cacert "$T/proxy-ca.crt" "$@" "$url" \
		>"$T/.code" 2>"$T/.curl_err" || true
	awk '{ if ($1 != "000") print $1; else print $2 }' "$T/.code"
}

# events_with EXPR: how many event lines satisfy the python expression on e.
events_with() {
	python3 - "$T/events.jsonl" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    u = e.get("unmapped", {}).get("forkcell", {})
    if eval(sys.argv[2]):
        n += 1
print(n)
EOF
}

# start_proxy NAME POLICY EVENTS: start a proxy, wait for "ready". Its pid
# goes to $T/NAME.pid, its exit status to $T/NAME.rc once it ends.
start_proxy() {
	local name=$1 pol=$2 ev=$3 i
	rm -f "$T/ready.$name" "$T/$name.rc"
	(
		"$FC_PROXY" --policy "$pol" --events "$ev" \
			--netns "/proc/$(cat "$T/sbx.pid")/ns/net" \
			--ready-fd 3 --ca-cert "$T/proxy-ca.crt" --ca-key "$T/proxy-ca.key" \
			--upstream-ca "$T/test-ca.crt" --run-id "r-$name" --cell c1 \
			3>"$T/ready.$name" >"$T/$name.out" 2>"$T/logs/$name.log" </dev/null &
		echo $! >"$T/$name.pid"
		rc=0
		wait $! || rc=$?
		echo $rc >"$T/$name.rc"
	) >/dev/null 2>&1 &
	for ((i = 0; i < 100; i++)); do
		grep -q "^ready\$" "$T/ready.$name" 2>/dev/null && break
		[ -f "$T/$name.rc" ] && break
		sleep 0.1
	done
	fc_record_pid "$(cat "$T/$name.pid")"
	grep -q "^ready\$" "$T/ready.$name" 2>/dev/null && return 0
	cat "$T/logs/$name.log" >&2
	fc_fail "proxy $name did not become ready"
}

# stop_proxy NAME: SIGTERM; it must exit 0.
stop_proxy() {
	local i
	kill -TERM "$(cat "$T/$1.pid")"
	for ((i = 0; i < 100; i++)); do
		[ -f "$T/$1.rc" ] && break
		sleep 0.1
	done
	test_cmp_str 0 "$(cat "$T/$1.rc" 2>/dev/null)"
}

cat >"$T/srv.py" <<'EOF'
import hashlib, http.server, ssl, sys, threading

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def read_body(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            got = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return got
                got += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""
    def big(self):
        kind, n = self.path.split("/")[1:3]
        n = int(n)
        block = bytes(range(256)) * 256
        self.send_response(200)
        if kind == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        left = n
        while left:
            part = block[:min(left, len(block))]
            if kind == "chunked":
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            else:
                self.wfile.write(part)
            left -= len(part)
        if kind == "chunked":
            self.wfile.write(b"0\r\n\r\n")
    def answer(self, body=True):
        if self.command == "GET" and self.path.split("/")[1] in ("big", "chunked"):
            return self.big()
        got = self.read_body()
        digest = hashlib.sha256(got).hexdigest()[:16]
        data = ("%s %s %d %s\n" % (self.command, self.path, len(got), digest)).encode()
        parts = self.path.split("/")
        # /status/NNN answers NNN: the events must carry the upstream's code
        self.send_response(int(parts[2]) if parts[1] == "status" else 200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)
    def do_GET(self): self.answer()
    def do_POST(self): self.answer()
    def do_PUT(self): self.answer()
    def do_DELETE(self): self.answer()
    def do_HEAD(self): self.answer(False)

class S(http.server.ThreadingHTTPServer):
    daemon_threads = True

ip = sys.argv[1]
plain = S((ip, 8080), H)
tls = S((ip, 8443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
print("serving", flush=True)
plain.serve_forever()
EOF

cat >"$T/policy.yaml" <<'EOF'
version: 1
network_policies:
  get_only:
    endpoints:
      - {host: api.test, port: 8080, protocol: rest, rules: [{allow: {method: GET, path: "**"}}]}
    binaries: [{path: /usr/bin/curl}]
  secure_no_admin:
    endpoints:
      - {host: secure.test, port: 8443, protocol: rest, access: read-write, deny_rules: [{method: "*", path: "/admin/**"}]}
    binaries: [{path: /usr/bin/curl}, {path: /usr/bin/openssl}]
  deny_wins:
    endpoints:
      - host: docs.test
        port: 8080
        protocol: rest
        rules: [{allow: {method: GET, path: "/**"}}]
        deny_rules: [{method: GET, path: "/secret/**"}]
    binaries: [{path: /usr/bin/curl}]
  audited:
    endpoints:
      - {host: audit.test, port: 8080, protocol: rest, enforcement: audit, rules: [{allow: {method: GET, path: "/ok/**"}}]}
    binaries: [{path: /usr/bin/curl}]
  curl_only:
    endpoints: [{host: bin.test, port: 8080}]
    binaries: [{path: /usr/bin/curl}]
  via_ancestor:
    endpoints: [{host: anc.test, port: 8080}]
    binaries: [{path: /usr/bin/bash}]
  passthrough:
    endpoints:
      - {host: tunnel.test, port: 8443}
      - {host: skip.test, port: 8443, protocol: rest, tls: skip, access: read-only}
      - {host: loop.test, port: 8080}
      - {host: closed.test, port: 9}
    binaries: [{path: /usr/bin/curl}]
EOF
cat >>"$T/policy.yaml" <<EOF
  pinned:
    endpoints: [{host: bin.test, port: 8080}]
    binaries: [{path: $T/bin/tool}]
EOF

test_expect_success 'set up namespaces, hosts, CAs and servers' '
	ip link set lo up
	unshare -n sleep 100000 >/dev/null 2>&1 &
	echo $! >"$T/srv.pid"
	unshare -n sleep 100000 >/dev/null 2>&1 &
	echo $! >"$T/sbx.pid"
	fc_record_pid "$(cat "$T/srv.pid")"
	fc_record_pid "$(cat "$T/sbx.pid")"
	sleep 0.3
	srv=$(cat "$T/srv.pid")
	ip link add fcpx0 type veth peer name fcpx1
	ip link set fcpx1 netns "$srv"
	ip addr add $PX_IP/24 dev fcpx0
	ip link set fcpx0 up
	nsenter --net=/proc/$srv/ns/net ip link set lo up
	nsenter --net=/proc/$srv/ns/net ip addr add $SRV_IP/24 dev fcpx1
	nsenter --net=/proc/$srv/ns/net ip link set fcpx1 up
	printf "127.0.0.1 localhost\n" >"$T/hosts"
	for h in api.test secure.test docs.test audit.test bin.test evil.test tunnel.test \
		skip.test closed.test anc.test; do
		printf "%s %s\n" $SRV_IP $h >>"$T/hosts"
	done
	printf "127.0.0.1 loop.test\n" >>"$T/hosts"
	mount --bind "$T/hosts" /etc/hosts
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/test-ca.key" -out "$T/test-ca.crt" -subj /CN=fc-test-upstream-ca \
		-days 2 -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/srv.key" -out "$T/srv.csr" -subj /CN=secure.test 2>/dev/null
	printf "subjectAltName=DNS:secure.test,DNS:tunnel.test,DNS:skip.test\n" >"$T/srv.ext"
	openssl x509 -req -in "$T/srv.csr" -CA "$T/test-ca.crt" -CAkey "$T/test-ca.key" \
		-CAcreateserial -days 2 -extfile "$T/srv.ext" -out "$T/srv.crt" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/proxy-ca.key" -out "$T/proxy-ca.crt" -subj /CN=fc-test-proxy-ca \
		-days 2 -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	nsenter --net=/proc/$srv/ns/net python3 "$T/srv.py" $SRV_IP "$T/srv.crt" "$T/srv.key" \
		>"$T/srv.out" 2>"$T/srv.err" </dev/null &
	echo $! >"$T/py.pid"
	fc_record_pid "$(cat "$T/py.pid")"
	for i in $(seq 50); do grep -q serving "$T/srv.out" && break; sleep 0.1; done
	curl -sS --max-time 5 --noproxy "*" http://api.test:8080/direct | grep -q "GET /direct"
	start_proxy px "$T/policy.yaml" "$T/events.jsonl"
'

test_expect_success 'the sandbox cannot reach the server directly' '
	test_must_fail in_sbx curl -sS --max-time 3 http://$SRV_IP:8080/
'

test_expect_success 'a denied host gets 403 JSON and a denied event' '
	test_cmp_str 403 "$(pcurl "$T/b1" http://evil.test:8080/x)" &&
	test_cmp_str policy_denied "$(json_get "$T/b1" "r[\"error\"]")" &&
	test_cmp_str evil.test "$(json_get "$T/b1" "r[\"host\"]")" &&
	test_cmp_str 403 "$(pcurl "$T/b2" https://evil.test:8443/x)" &&
	test_cmp_str 2 "$(events_with "e[\"class_uid\"] == 4001 and e[\"dst_endpoint\"][\"domain\"] == \"evil.test\" and u[\"decision\"] == \"denied\"")"
'

test_expect_success 'allow-only-GET passes GET and HEAD and refuses POST (forwarded and in CONNECT)' '
	test_cmp_str 200 "$(pcurl "$T/b3" http://api.test:8080/a/b)" &&
	grep -q "^GET /a/b 0" "$T/b3" &&
	test_cmp_str 200 "$(pcurl "$T/b4" http://api.test:8080/a -I)" &&
	test_cmp_str 403 "$(pcurl "$T/b5" http://api.test:8080/a -d payload)" &&
	test_cmp_str policy_denied "$(json_get "$T/b5" "r[\"error\"]")" &&
	test_cmp_str POST "$(json_get "$T/b5" "r[\"method\"]")" &&
	test_cmp_str l7 "$(json_get "$T/b5" "r[\"layer\"]")" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and u[\"decision\"] == \"denied\" and e[\"http_request\"][\"http_method\"] == \"POST\"")" &&
	test_cmp_str 200 "$(pcurl "$T/b5a" http://api.test:8080/tunnel -p)" &&
	grep -q "^GET /tunnel 0" "$T/b5a" &&
	test_cmp_str 403 "$(pcurl "$T/b5b" http://api.test:8080/tunnel -p -d x)"
'

test_expect_success 'an L7 deny rule refuses a path over HTTPS, other paths pass' '
	test_cmp_str 200 "$(pcurl "$T/b6" https://secure.test:8443/public/x)" &&
	grep -q "^GET /public/x 0" "$T/b6" &&
	test_cmp_str 200 "$(pcurl "$T/b7" https://secure.test:8443/items -X PUT -d abc)" &&
	grep -q "^PUT /items 3" "$T/b7" &&
	test_cmp_str 403 "$(pcurl "$T/b8" https://secure.test:8443/admin/users)" &&
	test_cmp_str l7 "$(json_get "$T/b8" "r[\"layer\"]")" &&
	test_cmp_str /admin/users "$(json_get "$T/b8" "r[\"path\"]")" &&
	test_cmp_str 403 "$(pcurl "$T/b9" "https://secure.test:8443/x/%2e%2e/admin/users")" &&
	test_cmp_str 400 "$(pcurl "$T/b9a" https://secure.test:8443/public -H "Host: evil.test")" &&
	in_sbx openssl s_client -proxy 127.0.0.1:3128 -connect secure.test:8443 \
		-servername secure.test </dev/null 2>/dev/null | grep -q "issuer=CN = fc-test-proxy-ca"
'

test_expect_success 'keep-alive: several requests on one TLS-terminated connection' '
	in_sbx curl -sS -x http://127.0.0.1:3128 --cacert "$T/proxy-ca.crt" \
		https://secure.test:8443/one https://secure.test:8443/two \
		https://secure.test:8443/admin/three https://secure.test:8443/four >"$T/b10" || true &&
	grep -q "^GET /one 0" "$T/b10" && grep -q "^GET /two 0" "$T/b10" &&
	grep -q policy_denied "$T/b10" && grep -q "^GET /four 0" "$T/b10"
'

test_expect_success 'large bodies both ways, chunked too, with backpressure' '
	python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 256 * 80)" >"$T/up.bin"
	want=$(sha256sum <"$T/up.bin" | cut -c1-16)
	python3 -c "import sys; sys.stdout.buffer.write((bytes(range(256)) * 256) * 320)" >"$T/down.ref"
	cat "$T/proxy-ca.crt" "$T/test-ca.crt" >"$T/both-ca.pem"
	for u in https://secure.test:8443/big/20971520 https://secure.test:8443/chunked/20971520 \
		https://tunnel.test:8443/big/20971520; do
		in_sbx curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$T/both-ca.pem" \
			"$u" -o "$T/down.bin"
		cmp "$T/down.bin" "$T/down.ref"
	done
	in_sbx curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$T/proxy-ca.crt" \
		-T "$T/up.bin" https://secure.test:8443/upload >"$T/up.out"
	grep -q "^PUT /upload 5242880 $want" "$T/up.out"
	in_sbx curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$T/proxy-ca.crt" \
		-H "Transfer-Encoding: chunked" -T - https://secure.test:8443/chunked-up \
		<"$T/up.bin" >"$T/up2.out"
	grep -q "^PUT /chunked-up 5242880 $want" "$T/up2.out"
	in_sbx curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$T/proxy-ca.crt" \
		https://secure.test:8443/chunked/100000 https://secure.test:8443/after -o /dev/null \
		-o "$T/after.out"
	grep -q "^GET /after 0" "$T/after.out"
'

test_expect_success 'deny rules beat allow rules' '
	test_cmp_str 200 "$(pcurl "$T/b11" http://docs.test:8080/guide)" &&
	test_cmp_str 403 "$(pcurl "$T/b12" http://docs.test:8080/secret/key)" &&
	test_cmp_str 403 "$(pcurl "$T/b13" "http://docs.test:8080/x/../secret/key" --path-as-is)"
'

test_expect_success 'audit mode lets the request through and records it' '
	test_cmp_str 200 "$(pcurl "$T/b14" http://audit.test:8080/other/thing)" &&
	grep -q "^GET /other/thing 0" "$T/b14" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and u[\"decision\"] == \"audited\" and e[\"http_request\"][\"url\"][\"path\"] == \"/other/thing\"")"
'

test_expect_success 'a binary rule admits curl and refuses python3' '
	test_cmp_str 200 "$(pcurl "$T/b15" http://bin.test:8080/c)" &&
	in_sbx python3 -c "
import urllib.request, urllib.error, sys
o = urllib.request.build_opener(urllib.request.ProxyHandler({\"http\": \"http://127.0.0.1:3128\"}))
try:
    o.open(\"http://bin.test:8080/p\", timeout=10)
    sys.exit(1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 403 else 2)
" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4001 and u[\"decision\"] == \"denied\" and e[\"dst_endpoint\"][\"domain\"] == \"bin.test\" and e[\"actor\"][\"process\"][\"name\"].endswith(\"python3.11\")")"
'

cat >"$T/fetch.py" <<'EOF'
import sys, urllib.error, urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://127.0.0.1:3128"}))
try:
    o.open(sys.argv[1], timeout=10)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)
EOF

test_expect_success 'binary rules match ancestors inside the sandbox, never outside it' '
	test_cmp_str 200 "$(in_sbx /usr/bin/bash -c "python3 \"$T/fetch.py\" http://anc.test:8080/a; true")" &&
	test_cmp_str 403 "$(in_sbx python3 "$T/fetch.py" http://anc.test:8080/b)"
'

test_expect_success 'a binary replaced after first use loses its grants (TOFU)' '
	mkdir -p "$T/bin"
	cp /usr/bin/curl "$T/bin/tool"
	in_sbx "$T/bin/tool" -sS -o /dev/null -w "%{http_code}" -x http://127.0.0.1:3128 \
		http://bin.test:8080/first >"$T/tofu1"
	test_cmp_str 200 "$(cat "$T/tofu1")"
	rm "$T/bin/tool"
	{ cat /usr/bin/curl; printf "not the same file"; } >"$T/bin/tool"
	chmod 755 "$T/bin/tool"
	in_sbx "$T/bin/tool" -sS -o /dev/null -w "%{http_code}" -x http://127.0.0.1:3128 \
		http://bin.test:8080/second >"$T/tofu2" || true
	test_cmp_str 403 "$(cat "$T/tofu2")"
	test_grep "binary .*/bin/tool. changed since first use" "$T/logs/px.log"
'

test_expect_success 'an L4 CONNECT and a tls: skip endpoint pass TLS through untouched' '
	for h in tunnel.test skip.test; do
		in_sbx curl -sS --max-time 20 -x http://127.0.0.1:3128 --cacert "$T/test-ca.crt" \
			https://$h:8443/through/$h >"$T/t.$h"
		grep -q "^GET /through/$h 0" "$T/t.$h"
	done
	test_must_fail in_sbx curl -sS --max-time 20 -x http://127.0.0.1:3128 \
		--cacert "$T/proxy-ca.crt" https://tunnel.test:8443/ 2>"$T/t.err"
	in_sbx curl -sS --max-time 20 -p -x http://127.0.0.1:3128 http://bin.test:8080/tunneled \
		>"$T/t.plain"
	grep -q "^GET /tunneled 0" "$T/t.plain"
'

test_expect_success 'loopback answers are refused (ssrf_denied), dead upstreams are 502' '
	test_cmp_str 403 "$(pcurl "$T/s1" http://loop.test:8080/x)" &&
	test_cmp_str ssrf_denied "$(json_get "$T/s1" "r[\"error\"]")" &&
	test_cmp_str 1 "$(events_with "e[\"firewall_rule\"][\"type\"] == \"ssrf\" and u[\"decision\"] == \"denied\"")" &&
	test_cmp_str 502 "$(pcurl "$T/s2" http://closed.test:9/x)" &&
	test_cmp_str upstream_unreachable "$(json_get "$T/s2" "r[\"error\"]")"
'

test_expect_success 'request events carry the upstream status code, or our 502' '
	test_cmp_str 404 "$(pcurl "$T/st1" http://api.test:8080/status/404)" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and e[\"http_request\"][\"url\"][\"path\"] == \"/status/404\" and e[\"http_response\"][\"code\"] == 404 and u[\"decision\"] == \"allowed\"")" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and e[\"http_request\"][\"url\"][\"path\"] == \"/a/b\" and e[\"http_response\"][\"code\"] == 200")" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and e[\"dst_endpoint\"][\"domain\"] == \"closed.test\" and e[\"http_response\"][\"code\"] == 502")" &&
	test_cmp_str 1 "$(events_with "e[\"class_uid\"] == 4002 and e[\"dst_endpoint\"][\"domain\"] == \"loop.test\" and e[\"http_response\"][\"code\"] == 403")" &&
	test_cmp_str 0 "$(events_with "e[\"class_uid\"] == 4002 and u[\"decision\"] != \"denied\" and \"http_response\" not in e")" &&
	test_cmp_str 0 "$(events_with "e[\"class_uid\"] == 4002 and u[\"decision\"] == \"denied\" and e.get(\"http_response\", {}).get(\"code\") != 403")"
'

test_expect_success 'malformed requests get 400 and the proxy survives' '
	in_sbx python3 - <<-\EOF
	import socket, sys
	bad = [
	    b"GET http://api.test:8080/ HTTP/1.1\r\nHost: api.test:8080\r\nHost: x\r\n\r\n",
	    b"GARBAGE\r\n\r\n",
	    b"GET http://api.test:8080/ HTTP/1.1\nHost: api.test:8080\r\n\r\n",
	    b"GET http://api.test:8080/ HTTP/1.1\r\nHost: api.test:8080\r\n Folded: x\r\n\r\n",
	    b"POST http://api.test:8080/ HTTP/1.1\r\nHost: api.test:8080\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	    b"GET http://api.test:8080/ HTTP/1.1\r\nHost: api.test:8080\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
	    b"GET / HTTP/1.1\r\nHost: api.test\r\n\r\n",
	    b"\x00\x01\x02\r\n\r\n",
	]
	for req in bad:
	    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
	    try:
	        s.sendall(req)
	    except OSError:
	        pass
	    data = b""
	    while True:
	        try:
	            chunk = s.recv(65536)
	        except OSError:
	            break
	        if not chunk:
	            break
	        data += chunk
	    s.close()
	    code = data.split(b" ")[1] if data.startswith(b"HTTP/1.1 ") else b"none"
	    if code not in (b"400", b"431"):
	        print("unexpected answer", req[:40], data[:80])
	        sys.exit(1)
	EOF
	test_cmp_str 200 "$(pcurl "$T/b16" http://api.test:8080/still-alive)"
'

test_expect_success 'events are one JSON object per line, without query strings' '
	test_cmp_str 200 "$(pcurl "$T/b17" "http://api.test:8080/q?token=sekrit")" &&
	test_grep -v sekrit "$T/events.jsonl" &&
	test_cmp_str 600 "$(stat -c %a "$T/events.jsonl")" &&
	python3 -c "
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e[\"class_uid\"] in (4001, 4002), e
" "$T/events.jsonl"
'

test_expect_success 'SIGTERM prints the summary matching the events' '
	stop_proxy px &&
	test_cmp_str 1 "$(wc -l <"$T/px.out")" &&
	n=$(wc -l <"$T/events.jsonl") &&
	test_cmp_str "$n" "$(json_get "$T/px.out" "r[\"events\"]")" &&
	for d in allowed denied audited; do
		test_cmp_str "$(events_with "e[\"class_uid\"] == 4002 and u[\"decision\"] == \"$d\"")" \
			"$(json_get "$T/px.out" "r[\"requests\"][\"$d\"]")" || exit 1
	done &&
	for d in allowed denied audited; do
		test_cmp_str "$(events_with "e[\"class_uid\"] == 4001 and e[\"activity_id\"] in (1, 5) and u[\"decision\"] == \"$d\"")" \
			"$(json_get "$T/px.out" "r[\"connections\"][\"$d\"]")" || exit 1
	done &&
	test_cmp_str 6 "$(json_get "$T/px.out" "r[\"connections\"][\"denied\"]")"
'

cat >"$T/policy2.yaml" <<'EOF'
version: 1
network_policies:
  get_only:
    endpoints:
      - {host: api.test, port: 8080, protocol: rest, rules: [{allow: {method: GET, path: "**"}}]}
    binaries: [{path: /usr/bin/curl}]
  audited:
    endpoints:
      - {host: audit.test, port: 8080, protocol: rest, enforcement: audit, rules: [{allow: {method: GET, path: "/ok/**"}}]}
    binaries: [{path: /usr/bin/curl}]
EOF

test_expect_success 'summary counts of a known sequence' '
	start_proxy px2 "$T/policy2.yaml" "$T/events2.jsonl" &&
	test_cmp_str 200 "$(pcurl "$T/c1" http://api.test:8080/1)" &&
	test_cmp_str 200 "$(pcurl "$T/c2" http://api.test:8080/2)" &&
	test_cmp_str 403 "$(pcurl "$T/c3" http://api.test:8080/3 -d x)" &&
	test_cmp_str 403 "$(pcurl "$T/c4" http://evil.test:8080/4)" &&
	test_cmp_str 200 "$(pcurl "$T/c5" http://audit.test:8080/5)" &&
	stop_proxy px2 &&
	cat "$T/px2.out" &&
	counts="[r[c][k] for c in (\"connections\", \"requests\") for k in (\"allowed\", \"denied\", \"audited\")]" &&
	test_cmp_str "[3, 1, 0, 2, 1, 1]" "$(json_get "$T/px2.out" "$counts")" &&
	test_cmp_str "$(wc -l <"$T/events2.jsonl")" "$(json_get "$T/px2.out" "r[\"events\"]")"
'

test_expect_success 'an orphaned proxy stops by itself and still prints its summary' '
	(
		"$FC_PROXY" --policy "$T/policy2.yaml" --events "$T/events3.jsonl" \
			--netns "/proc/$(cat "$T/sbx.pid")/ns/net" --ready-fd 3 \
			3>"$T/ready.px3" >"$T/px3.out" 2>"$T/logs/px3.log" </dev/null &
		echo $! >"$T/px3.pid"
		for i in $(seq 100); do grep -q ready "$T/ready.px3" && break; sleep 0.1; done
	)
	fc_record_pid "$(cat "$T/px3.pid")"
	grep -q ready "$T/ready.px3"
	fc_wait_pid_gone "$(cat "$T/px3.pid")" 10
	json_get "$T/px3.out" "r[\"events\"]"
	test_grep "parent process exited" "$T/logs/px3.log"
'

test_expect_success 'usage and startup errors' '
	rc=0 && "$FC_PROXY" --bogus 2>"$T/e1" || rc=$? && test_cmp_int 2 $rc &&
	rc=0 && "$FC_PROXY" --policy "$T/policy.yaml" 2>"$T/e2" || rc=$? && test_cmp_int 2 $rc &&
	"$FC_PROXY" --help | grep -q "usage: forkcell-proxy" &&
	printf "version: 1\nbogus: 1\n" >"$T/bad.yaml" &&
	rc=0 && "$FC_PROXY" --policy "$T/bad.yaml" --events "$T/e.jsonl" --netns /proc/self/ns/net \
		--ready-fd 1 2>"$T/e3" || rc=$? && test_cmp_int 1 $rc &&
	test_grep "^forkcell-proxy: .*bad.yaml:2" "$T/e3"
'

test_done
