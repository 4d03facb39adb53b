#!/usr/bin/env bash
# make demo: the fargate-privatelink scenario in the local sandbox, up -> status -> teardown.
set -euo pipefail
BIN=${1:-.venv/bin}
export VPCCTL_HOME=${VPCCTL_HOME:-$PWD/.vpcctl}

# Run one vpcctl command, showing it once as a reader would type it.
run() {
  printf '\n$ vpcctl %s\n' "$*"
  "$BIN/vpcctl" "$@"
}

started_here=0
if ! "$BIN/vpcctl" sandbox status >/dev/null 2>&1; then
  run sandbox start
  started_here=1
fi
cleanup() { if [ "$started_here" = 1 ]; then run sandbox stop; fi; }
trap cleanup EXIT

run --sandbox check fargate-privatelink
run --sandbox up fargate-privatelink
run --sandbox status fargate-privatelink
run --sandbox output fargate-privatelink
run --sandbox teardown fargate-privatelink --yes
cleanup
trap - EXIT

cat <<'NEXT'

Try next (start the sandbox again with `.venv/bin/vpcctl sandbox start` for --sandbox):
  .venv/bin/vpcctl check closed-vpc-apigw                 the network preflight, offline
  .venv/bin/vpcctl --sandbox plan alb-fargate-sg          what `up` would create
  .venv/bin/vpcctl --sandbox up alb-fargate-sg            another scenario; then:
  .venv/bin/vpcctl --sandbox status alb-fargate-sg        does it serve: tasks, targets, the verdict
  .venv/bin/vpcctl --sandbox wait alb-fargate-sg          block until it serves (for scripts and CI)
  .venv/bin/vpcctl cost fargate-privatelink --compare nat what it costs, endpoints or NAT
  .venv/bin/vpcctl graph fargate-privatelink              the topology and its flows (Mermaid)
The README's "Commands" section says what each command does and how it exits.
NEXT
