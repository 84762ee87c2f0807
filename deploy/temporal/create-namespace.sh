#!/bin/sh
# Waits until the Temporal frontend reports SERVING, then registers the
# namespace Duban uses if it does not exist yet. Runs in the
# temporalio/admin-tools image (temporalio/server ships no client binary).
# Environment: TEMPORAL_ADDRESS, NAMESPACE, NAMESPACE_RETENTION.
set -eu

attempt=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE already exists"
else
  temporal operator namespace create --namespace "$NAMESPACE" \
    --retention "$NAMESPACE_RETENTION" --address "$TEMPORAL_ADDRESS"
  echo "namespace $NAMESPACE created"
fi
