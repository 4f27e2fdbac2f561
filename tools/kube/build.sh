#!/usr/bin/env bash
# Builds the three binaries of a real Kubernetes control plane from their Go modules, once per version:
# etcd, kube-apiserver and kube-controller-manager (shared/FIELD-NOTES.md has the recipe). Prints the directory
# that holds them. Cached in ${POSE_KUBE_CACHE:-~/.cache/pose/kube}/k8s-<version>-etcd-<version>/bin; a
# rebuild happens only when a version below changes. Needs Go (1.24 or newer) and the Go module proxy.
set -euo pipefail
K8S_VERSION=1.34.4
ETCD_VERSION=3.6.16
cache="${POSE_KUBE_CACHE:-$HOME/.cache/pose/kube}/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
bin="$cache/bin"
if [[ -x $bin/etcd && -x $bin/kube-apiserver && -x $bin/kube-controller-manager ]]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null || { echo "build.sh: Go is not installed (https://go.dev/dl/); it builds the test control plane" >&2; exit 3; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -x $bin/etcd && -x $bin/kube-apiserver && -x $bin/kube-controller-manager ]]; then
  echo "$bin"; exit 0
fi
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# GOTOOLCHAIN=auto: an older Go (1.21+) fetches the toolchain the modules ask for through the module proxy
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=auto

# kubernetes: its go.mod points every k8s.io staging module at ./staging; pin each to the matching v0.x release.
mkdir -p "$work/k8s" && cd "$work/k8s"
go mod init pose.io/testcluster/k8s >/dev/null 2>&1
staging="v0.${K8S_VERSION#1.}"   # k8s.io/api and its siblings: v0.34.4 for kubernetes v1.34.4
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[[ -f $gomod ]] || { echo "build.sh: could not download k8s.io/kubernetes v$K8S_VERSION" >&2; exit 1; }
{
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  sed -n "s|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|replace \1 => \1 $staging|p" "$gomod"
} >>go.mod
n=$(grep -c '^replace' go.mod)
(( n > 20 )) || { echo "build.sh: expected the staging modules in kubernetes' go.mod, found $n" >&2; exit 1; }
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
ver="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*}"
minor=${K8S_VERSION#*.}; minor=${minor%%.*}
ver="$ver -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
ver="$ver -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
go build -trimpath -ldflags="-s -w $ver" -o "$work/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager

# etcd: the server module has replace directives of its own, so it builds from a module that pins its siblings.
mkdir -p "$work/etcd" && cd "$work/etcd"
go mod init pose.io/testcluster/etcd >/dev/null 2>&1
cat >>go.mod <<MOD
require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v$ETCD_VERSION
replace go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
replace go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 v$ETCD_VERSION
replace go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
MOD
go build -trimpath -ldflags="-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3

"$work/bin/kube-apiserver" --version | grep -q "v$K8S_VERSION" || { echo "build.sh: kube-apiserver reports the wrong version" >&2; exit 1; }
rm -rf "$bin" && mv "$work/bin" "$bin"
echo "$bin"
