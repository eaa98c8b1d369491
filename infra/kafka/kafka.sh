#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) on 127.0.0.1, with no Docker:
# fetched from Maven Central through pom.xml, cached under .cache/kafka.
#
#   infra/kafka/kafka.sh fetch|start|stop|status|restart
#
# Settings (environment):
#   HCP_KAFKA_PORT   client port (default 9092); the controller uses port+1
#   HCP_KAFKA_SASL_PORT  a second client listener with SASL_PLAINTEXT and the PLAIN
#                    mechanism (default port+2; 0 turns it off). Its users, for
#                    development and tests only:
#                      hcp-portal / hcp-portal-secret, hcp-worker / hcp-worker-secret
#   HCP_KAFKA_STATE  state folder: data, logs, pid (default data/kafka-<port>)
#   HCP_KAFKA_HEAP   JVM heap (default 768m)
# Every command is idempotent: starting a running broker or stopping a stopped one
# says so and succeeds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
libs="$root/.cache/kafka/$version/libs"
port=${HCP_KAFKA_PORT:-9092}
controller_port=$((port + 1))
sasl_port=${HCP_KAFKA_SASL_PORT:-$((port + 2))}
state=${HCP_KAFKA_STATE:-$root/data/kafka-$port}
pidfile="$state/broker.pid"
log="$state/logs/broker.log"

say() { echo "kafka: $*" >&2; }

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  say "fetching Apache Kafka $version and its dependencies from Maven Central (once)"
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch the broker"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run the broker"; exit 1; }
  rm -rf "$libs.tmp"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs.tmp"
  rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$libs/.complete"
  say "cached $(ls "$libs" | wc -l) jars in ${libs#$root/}"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answering() { (exec 3<>"/dev/tcp/127.0.0.1/${1:-$port}") 2>/dev/null; }

write_config() {
  mkdir -p "$state/logs" "$state/data"
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
  local advertised="PLAINTEXT://127.0.0.1:$port" sasl=""
  if [ "$sasl_port" != 0 ]; then
    # Brokers and the controller keep talking over PLAINTEXT; only clients use this listener.
    listeners="$listeners,SASL://127.0.0.1:$sasl_port"
    advertised="$advertised,SASL://127.0.0.1:$sasl_port"
    sasl="listener.name.sasl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
  user_hcp-portal=\"hcp-portal-secret\" user_hcp-worker=\"hcp-worker-secret\";"
  fi
  : > "$state/server.properties" && chmod 600 "$state/server.properties"  # it holds the development passwords
  cat > "$state/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
$sasl
log.dirs=$state/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=12582912
CONF
  sed "s:@LOG@:$log:" "$here/log4j2.properties" > "$state/log4j2.properties"
}

java_cmd() {
  java -Xms256m -Xmx"${HCP_KAFKA_HEAP:-768m}" -XX:+UseG1GC -Djava.awt.headless=true \
       -Dlog4j2.configurationFile="$state/log4j2.properties" \
       -Dkafka.logs.dir="$state/logs" -cp "$libs/*" "$@"
}

start() {
  fetch
  if running && answering; then say "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if answering; then say "port $port is taken by another process; set HCP_KAFKA_PORT"; exit 1; fi
  if [ "$sasl_port" != 0 ] && answering "$sasl_port"; then
    say "port $sasl_port (SASL listener) is taken by another process; set HCP_KAFKA_SASL_PORT (0 turns it off)"; exit 1
  fi
  write_config
  if [ ! -f "$state/data/meta.properties" ]; then
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >"$state/logs/format.log" 2>&1 \
      || { say "formatting storage failed, see ${state#$root/}/logs/format.log"; exit 1; }
  fi
  nohup bash -c 'exec "$@"' _ java -Xms256m -Xmx"${HCP_KAFKA_HEAP:-768m}" -XX:+UseG1GC \
       -Djava.awt.headless=true -Dlog4j2.configurationFile="$state/log4j2.properties" \
       -cp "$libs/*" kafka.Kafka "$state/server.properties" >"$state/logs/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if answering && grep -q "Kafka Server started" "$log" 2>/dev/null; then
      say "Apache Kafka $version up on 127.0.0.1:$port$([ "$sasl_port" != 0 ] && echo ", SASL_PLAINTEXT on $sasl_port") (pid $(cat "$pidfile"), logs in ${log#$root/})"
      return 0
    fi
    running || { say "broker exited during start; last lines of its log:"; tail -n 20 "$log" "$state/logs/stdout.log" >&2 || true; exit 1; }
    sleep 0.5
  done
  say "broker did not answer within 60 s; see ${log#$root/}"; exit 1
}

stop() {
  if ! running; then say "not running on port $port"; rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  say "broker did not stop within 30 s; killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if running && answering; then echo "running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "stopped"; return 3; fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|restart|status" >&2; exit 2 ;;
esac
