#!/usr/bin/env bash
# demo-setup.sh - the one-shot `setup` service of docker-compose.yml: registers the demo endpoint
# (once: a second `docker compose up` finds it) and publishes sample events, in both forms of
# docs/events.md through hookline-publish (the envelope) and the admin REST API.
set -euo pipefail
tenant=${DEMO_TENANT:-demo}
url=${DEMO_URL:-http://receiver:8000/webhooks}
admin_url=${DEMO_ADMIN_URL:-http://admin:8080}
if hookline-admin endpoint list --tenant "$tenant" -o json 2>/dev/null | grep -F "\"url\":\"$url\"" >/dev/null; then
  echo "setup: endpoint for $url already registered"
else
  hookline-admin endpoint create --tenant "$tenant" --url "$url" --types '*' \
    --secret "$DEMO_SECRET" --description 'docker compose demo receiver'
fi
for i in 1 2 3 4 5; do
  printf '{"tenant":"%s","type":"invoice.paid","data":{"invoice":"in_%s","amount":%s00}}\n' "$tenant" "$i" "$i"
done | hookline-publish
curl -fsS -X POST "$admin_url/v1/events" -H "authorization: Bearer ${HOOKLINE_ADMIN_TOKENS%%,*}" \
  -H 'content-type: application/json' \
  -d "{\"tenant\":\"$tenant\",\"type\":\"customer.created\",\"data\":{\"customer\":\"cus_1\"}}"
echo
echo "setup: 6 events published; see them arrive: docker compose logs -f receiver"
