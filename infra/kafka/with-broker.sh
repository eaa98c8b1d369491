#!/usr/bin/env bash
# Runs a command with a Kafka broker up: starts one if none answers on
# HCP_KAFKA_PORT, and stops it afterwards only if this script started it.
#   infra/kafka/with-broker.sh COMMAND [ARGS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
started=0
if ! "$here/kafka.sh" status >/dev/null 2>&1; then
  "$here/kafka.sh" start || exit 1
  started=1
fi
export HCP_KAFKA_BOOTSTRAP="127.0.0.1:${HCP_KAFKA_PORT:-9092}"
sasl_port=${HCP_KAFKA_SASL_PORT:-$((${HCP_KAFKA_PORT:-9092} + 2))}
if [ "$sasl_port" != 0 ]; then export HCP_KAFKA_SASL_BOOTSTRAP="127.0.0.1:$sasl_port"; fi
"$@"
status=$?
if [ "$started" = 1 ]; then "$here/kafka.sh" stop; fi
exit $status
