#!/usr/bin/env bash
# make demo: the fargate-privatelink scenario in the local sandbox, up -> status -> teardown.
set -euo pipefail
BIN=${1:-.venv/bin}
export VPCCTL_HOME=${VPCCTL_HOME:-$PWD/.vpcctl}
vpcctl() { "$BIN/vpcctl" "$@"; }

started_here=0
if ! vpcctl sandbox status >/dev/null 2>&1; then
  vpcctl sandbox start
  started_here=1
fi
cleanup() { if [ "$started_here" = 1 ]; then vpcctl sandbox stop; fi; }
trap cleanup EXIT

set -x
vpcctl --sandbox up fargate-privatelink
vpcctl --sandbox status fargate-privatelink
vpcctl --sandbox output fargate-privatelink
vpcctl --sandbox teardown fargate-privatelink --yes
