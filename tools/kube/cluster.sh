#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, without Docker or nodes: etcd, kube-apiserver (real certificates,
# RBAC and Node authorization, the default admission plugins, service-account tokens) and kube-controller-manager
# (every default controller: Job, garbage collector, namespace, service-account tokens...). The operator's *IT
# tests start it through this script; a developer can too:
#
#   tools/kube/cluster.sh up DIR        # builds the binaries once (tools/kube/build.sh), starts the three, writes
#                                       # DIR/admin.kubeconfig (system:masters); prints the API server's URL
#   KUBECONFIG=DIR/admin.kubeconfig kubectl get --raw /readyz
#   tools/kube/cluster.sh stop DIR apiserver    # one component (etcd, apiserver, controller-manager) ...
#   tools/kube/cluster.sh start DIR apiserver   # ... and back, on the same port and data
#   tools/kube/cluster.sh down DIR      # stops all three; DIR keeps the logs (DIR/*.log)
#
# Ports: ETCD_PORT, APISERVER_PORT, KCM_PORT (free ones are picked when unset; kept in DIR/ports).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: cluster.sh up|down DIR | start|stop DIR etcd|apiserver|controller-manager" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1 dir=$2

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "cluster.sh: no free port found" >&2; exit 1
}

certificates() {
  local pki=$dir/pki
  [[ -f $pki/ca.crt ]] && return
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=pose-test-ca -keyout ca.key -out ca.crt 2>/dev/null
    sign() { # name subject [extensions]
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out "$1.crt" \
        ${3:+-extfile <(printf '%s' "$3")} 2>/dev/null
      rm -f "$1.csr"
    }
    sign apiserver /CN=kube-apiserver \
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment"
    sign admin "/O=system:masters/CN=pose-test-admin" "extendedKeyUsage=clientAuth"
    sign controller-manager /CN=system:kube-controller-manager "extendedKeyUsage=clientAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

kubeconfig() { # file user
  local ca cert key
  ca=$(base64 -w0 <"$dir/pki/ca.crt") cert=$(base64 -w0 <"$dir/pki/$2.crt") key=$(base64 -w0 <"$dir/pki/$2.key")
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pose-test
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority-data: "$ca"}
users:
- name: $2
  user: {client-certificate-data: "$cert", client-key-data: "$key"}
contexts:
- name: pose-test
  context: {cluster: pose-test, user: $2}
current-context: pose-test
EOF
}

wait_for() { # what seconds test...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "cluster.sh: $what not ready after ${seconds}s; last lines of its log:" >&2
  tail -20 "$dir/$what.log" >&2
  return 1
}

healthy() { # url: through curl with the admin certificate
  curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" "$1" | grep -q ok
}

start() {
  local what=$1 pid=$dir/$1.pid
  if [[ -f $pid ]] && kill -0 "$(cat "$pid")" 2>/dev/null; then return; fi
  case $what in
    etcd)
      "$bin/etcd" --name pose-test --data-dir "$dir/etcd" --unsafe-no-fsync \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "pose-test=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
        >>"$dir/etcd.log" 2>&1 &
      echo $! >"$pid"
      wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health" ;;
    apiserver)
      "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
        --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
        --client-ca-file "$dir/pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
        --api-audiences https://kubernetes.default.svc.cluster.local \
        --authorization-mode Node,RBAC --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
        ${APISERVER_EXTRA_ARGS:-} \
        >>"$dir/apiserver.log" 2>&1 &
      echo $! >"$pid"
      wait_for apiserver 60 healthy "https://127.0.0.1:$APISERVER_PORT/readyz" ;;
    controller-manager)
      "$bin/kube-controller-manager" --kubeconfig "$dir/controller-manager.kubeconfig" \
        --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
        --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --controllers '*' --use-service-account-credentials \
        --leader-elect=false --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
        --cluster-signing-cert-file "$dir/pki/ca.crt" --cluster-signing-key-file "$dir/pki/ca.key" \
        >>"$dir/controller-manager.log" 2>&1 &
      echo $! >"$pid"
      wait_for controller-manager 60 curl -skf "https://127.0.0.1:$KCM_PORT/healthz" ;;
    *) usage ;;
  esac
}

stop() {
  local pid=$dir/$1.pid
  [[ -f $pid ]] || return 0
  local p; p=$(cat "$pid")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  rm -f "$pid"
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [[ -f $dir/ports ]]; then
  # shellcheck disable=SC1091
  source "$dir/ports"
else
  ETCD_PORT=${ETCD_PORT:-$(free_port)} ETCD_PEER_PORT=${ETCD_PEER_PORT:-$(free_port)}
  APISERVER_PORT=${APISERVER_PORT:-$(free_port)} KCM_PORT=${KCM_PORT:-$(free_port)}
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKCM_PORT=%s\n' \
    "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" >"$dir/ports"
fi

case $cmd in
  up)
    bin=$("$here/build.sh")
    certificates
    kubeconfig "$dir/admin.kubeconfig" admin
    kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
    start etcd && start apiserver && start controller-manager
    echo "https://127.0.0.1:$APISERVER_PORT" ;;
  down)
    stop controller-manager; stop apiserver; stop etcd ;;
  start)
    [[ $# -eq 3 ]] || usage
    bin=$("$here/build.sh")
    start "$3" ;;
  stop)
    [[ $# -eq 3 ]] || usage
    stop "$3" ;;
  *) usage ;;
esac
