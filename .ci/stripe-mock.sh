#!/usr/bin/env bash
# Makes stripe-mock (Stripe's own API test server) answer on 127.0.0.1:12111 (HTTP)
# and 127.0.0.1:12112 (HTTPS) for the Stripe gateway tests: installs it with
# `go install` when missing, starts it in the background when nothing answers
# there, and waits for it. Safe to run again: a running stripe-mock is reused.
set -euo pipefail

version="v0.203.0"
http_addr="127.0.0.1:12111"
https_addr="127.0.0.1:12112"
log="${TMPDIR:-/tmp}/stripe-mock.log"

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
bin="$gobin/stripe-mock"

# answers succeeds when stripe-mock serves an authenticated API call.
answers() {
  curl -fsS -o /dev/null --max-time 2 \
    -H "Authorization: Bearer sk_test_123" "http://$http_addr/v1/charges" 2>/dev/null
}

# listening succeeds when anything accepts connections on the HTTP port.
listening() {
  (exec 3<>"/dev/tcp/${http_addr%:*}/${http_addr#*:}") 2>/dev/null
}

if answers; then
  echo "stripe-mock: already answering on $http_addr"
  exit 0
fi

if [ ! -x "$bin" ]; then
  echo "stripe-mock: installing github.com/stripe/stripe-mock@$version into $gobin"
  go install "github.com/stripe/stripe-mock@$version"
else
  echo "stripe-mock: using $bin"
fi

if listening; then
  echo "stripe-mock: something listens on $http_addr; waiting for it to answer"
else
  echo "stripe-mock: starting on $http_addr and $https_addr (log: $log)"
  # setsid and nohup keep it running after this script (and CI's shell) exit.
  setsid nohup "$bin" -http-addr "$http_addr" -https-addr "$https_addr" >"$log" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if answers; then
    echo "stripe-mock: answering on http://$http_addr"
    exit 0
  fi
  sleep 0.5
done

echo "stripe-mock: nothing answers on http://$http_addr after 30 s" >&2
[ -f "$log" ] && tail -n 20 "$log" >&2
exit 1
