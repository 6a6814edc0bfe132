#!/usr/bin/env bash
# Make sure the local Redis and RabbitMQ (with its management API) are up: the
# live tests talk to them and fail without them. Idempotent: services already
# running are left alone. Called by scripts/test.sh (and so by .ci/run).
set -euo pipefail

warn() { printf 'services: warning: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

ensure_redis() {
  if ! command -v redis-cli >/dev/null || ! command -v redis-server >/dev/null; then
    warn "redis-cli/redis-server not installed; skipping Redis"
    return 0
  fi
  if [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; then
    echo "services: redis is up on 127.0.0.1:6379"
    return 0
  fi
  echo "services: starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp >/dev/null || { warn "redis-server failed to start"; return 0; }
  for _ in $(seq 1 50); do
    if [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; then
      echo "services: redis is up"
      return 0
    fi
    sleep 0.2
  done
  warn "redis did not answer PING within 10s"
}

ensure_rabbitmq() {
  if ! command -v rabbitmqctl >/dev/null || ! command -v rabbitmq-server >/dev/null; then
    warn "rabbitmqctl/rabbitmq-server not installed; skipping RabbitMQ"
    return 0
  fi
  if timeout 60 rabbitmqctl -q status >/dev/null 2>&1; then
    echo "services: rabbitmq is up"
    return 0
  fi
  echo "services: starting rabbitmq-server"
  rabbitmq-server -detached >/dev/null 2>&1 || { warn "rabbitmq-server -detached failed"; return 0; }
  if timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1; then
    echo "services: rabbitmq is up"
  else
    warn "rabbitmq did not finish starting within 120s"
  fi
}

ensure_management() {
  command -v rabbitmq-plugins >/dev/null || { warn "rabbitmq-plugins not installed"; return 0; }
  if ! curl -fsS -m 5 -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; then
    echo "services: enabling rabbitmq_management"
    rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || warn "cannot enable rabbitmq_management"
  fi
  for _ in $(seq 1 60); do
    if curl -fsS -m 5 -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; then
      echo "services: rabbitmq management API is up on 127.0.0.1:15672"
      return 0
    fi
    sleep 1
  done
  warn "rabbitmq management API did not answer within 60s"
}

ensure_redis || warn "redis check failed"
ensure_rabbitmq || warn "rabbitmq check failed"
ensure_management || warn "management check failed"

# The live tests need both brokers; fail here with a clear message rather than in 40 tests.
[[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]] || die "Redis is not reachable on 127.0.0.1:6379"
curl -fsS -m 5 -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 \
  || die "RabbitMQ's management API is not reachable on 127.0.0.1:15672"
