#!/usr/bin/env bash
# make demo: ron-kms end to end on the embedded default (sealed-file backend).
#
# A governance repository with three signers, proposals approved and executed
# with govtool, served over loopback HTTP Git; an appliance that pulls it,
# verifies it from the pinned root and enforces it; a capability minted, a
# message signed and the signature verified without the appliance; the
# capability revoked by proposal and refused; the key rotated by proposal and
# its continuity proof checked offline; the history read back with govtool log.
# Every step is checked: the script exits non-zero at the first that fails.
#
# DEMO_DIR=path keeps everything there for inspection (git log, audit log);
# without it a temporary directory is used and removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$here/bin:$PATH"
for tool in govtool appliance git; do
  command -v "$tool" >/dev/null || { echo "demo: $tool not found; run make build first" >&2; exit 1; }
done

if [ -n "${DEMO_DIR:-}" ]; then
  mkdir -p "$DEMO_DIR"
  work=$(cd "$DEMO_DIR" && pwd)
  if [ -n "$(ls -A "$work")" ]; then
    echo "demo: DEMO_DIR $work is not empty; give a new or empty directory" >&2
    exit 1
  fi
  keep=1
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/ron-kms-demo.XXXXXX")
  keep=0
fi

pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = 0 ]; then
    rm -rf "$work"
  else
    echo
    echo "Kept in $work:"
    echo "  governance repo:  git -C $work/gov log --oneline"
    echo "  appliance data:   $work/appliance (keys sealed under keys/, audit log under audit/)"
    echo "  appliance log:    $work/appliance.log"
  fi
  if [ "$rc" != 0 ]; then
    echo "demo: FAILED (exit $rc)" >&2
    [ -f "$work/appliance.log" ] && [ "$keep" = 1 ] && echo "demo: see $work/appliance.log" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
step() { n=$((n + 1)); printf '\n\033[1m%d. %s\033[0m\n' "$n" "$*"; }
say() { printf '   %s\n' "$*"; }
run() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }

# A Git identity for the demo's commits only (the user's config is untouched).
export GIT_AUTHOR_NAME="ron-kms demo" GIT_AUTHOR_EMAIL="demo@ron-kms.invalid"
export GIT_COMMITTER_NAME="ron-kms demo" GIT_COMMITTER_EMAIL="demo@ron-kms.invalid"
export GIT_CONFIG_NOSYSTEM=1
cd "$work"

step "Three signers make their keys (passphrase-encrypted OpenSSH Ed25519)"
umask 077
printf 'demo passphrase, never use it\n' > passphrase
for role in policy-owner security-officer custodian; do
  govtool keygen --role "$role" --out "$role.key" --passphrase-file passphrase | sed 's/^/     /'
done
say "and the tenant's capability minter makes one too:"
govtool keygen --role operator --out minter.key --passphrase-file passphrase | sed -n '1,1p' | sed 's/^/     /'

step "govtool init: a governance repository whose root of trust is signer set 1"
govtool init gov --signer policy-owner=policy-owner.key.pub \
  --signer security-officer=security-officer.key.pub --signer custodian=custodian.key.pub > init.out
sed -n '1,6p' init.out | sed 's/^/     /'
root=$(sed -n 's/^root of trust: //p' init.out)
[ -n "$root" ] || { echo "demo: no root digest in govtool init output" >&2; exit 1; }
export GOVTOOL_ROOT_DIGEST="$root"
say "pinned root: $root (CI and the appliance trust nothing else)"
cd gov
git config merge.govtool-signatures.driver "govtool merge-signatures %O %A %B"

# propose LINES ARGS... runs govtool propose ARGS, shows the lines LINES (a
# sed address) of what it prints, and sets id to the new proposal's id, read
# from the first line ("proposal <id> (committed <commit>)").
propose() {
  local lines=$1 out
  shift
  out=$(govtool propose "$@")
  echo "$out" | sed -n "$lines" | sed 's/^/     /'
  id=$(echo "$out" | sed -n '1s/^proposal \([^ ]*\) .*/\1/p')
  [ -n "$id" ] || { echo "demo: no proposal id in the output of govtool propose" >&2; exit 1; }
}

sign2() { # approve with two of the three quorum members
  govtool approve "$1" --key ../policy-owner.key --passphrase-file ../passphrase | tail -1 | sed 's/^/     /'
  govtool approve "$1" --key ../security-officer.key --passphrase-file ../passphrase | tail -1 | sed 's/^/     /'
}

step "Two of three signers sign the genesis; it is executed"
sign2 genesis
govtool execute genesis | tail -1 | sed 's/^/     /'

step "The governance repo is published over loopback HTTP Git"
git clone -q --bare . ../gov.git
git remote add origin ../gov.git
govtool serve --url-file ../gov.url ../gov.git > ../serve.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s ../gov.url ] && break; sleep 0.1; done
[ -s ../gov.url ] || { echo "demo: govtool serve did not start" >&2; cat ../serve.log >&2; exit 1; }
url=$(cat ../gov.url)
say "$url"

step "The appliance is configured (sealed-file backend) and makes its audit key"
cd "$work"
head -c 32 /dev/urandom | base64 > webhook.secret
cat > appliance.json <<EOF
{
  "appliance_id": "demo-1",
  "governance": {
    "url": "$url",
    "branch": "main",
    "root_digest": "$root",
    "pull_interval": "30s",
    "webhook_secret_file": "webhook.secret"
  },
  "listen": "127.0.0.1:0",
  "data_dir": "appliance",
  "backend": {"kind": "sealed-file", "slot": "default", "sealed_file": {"passphrase_file": "passphrase"}}
}
EOF
appliance check-config appliance.json > /dev/null
enroll=$(appliance enroll-info --config appliance.json)
say "$enroll"

step "Proposal: enrol the appliance (sensitive: 2 of 3 signatures)"
cd gov
propose '1p;5,6p' --scope global --change "$enroll" --rationale "enrol the demo appliance"
sign2 "$id"
govtool execute "$id" | tail -1 | sed 's/^/     /'

step "Proposals: tenant acme; then its signing key, PQ mode hybrid_or (phase 1) and its minter"
propose '1p;5,7p' --scope tenant:acme --change create_tenant --rationale "onboard tenant acme"
sign2 "$id"
govtool execute "$id" | tail -1 | sed 's/^/     /'
propose '1p;5,9p' --scope tenant:acme --change create_key=payments:ed25519 \
  --change pq_mode=hybrid_or --change add_minter=../minter.key.pub --rationale "acme: payments key, PQ phase 1, minter"
sign2 "$id"
govtool execute "$id" | tail -1 | sed 's/^/     /'
run govtool verify
git push -q origin main

step "The appliance starts, pulls, verifies from the pinned root and enforces"
cd "$work"
appliance --config appliance.json --addr-file addr > appliance.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s addr ] && break; sleep 0.1; done
[ -s addr ] || { echo "demo: the appliance did not start" >&2; cat appliance.log >&2; exit 1; }
api="http://$(cat addr)"
export RON_KMS_URL="$api"
run appliance client wait-ready --timeout 60s
say "listening on $api"

step "The tenant's minter mints a capability (sign, verify on acme/payments, 10 minutes)"
appliance client mint --minter-key minter.key --passphrase-file passphrase --tenant acme \
  --scope sign,verify --key acme/payments --ttl 10m --out cap.token > mint.json 2> mint.err
sed 's/^/   /' mint.err
sed 's/^/     /' mint.json
cap_id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' mint.json)
[ -n "$cap_id" ] || { echo "demo: no capability id in the mint answer" >&2; exit 1; }

step "Sign a message with it"
printf 'pay 100 EUR to Bob, ref 2026-11-26' > message.txt
appliance client sign --token-file cap.token --tenant acme --key payments --message-file message.txt --save sig > sign.json
say "algorithm: $(cat sig/alg) (composite ML-DSA-65 + Ed25519; in hybrid_or the appliance accepts either component on verify — non-standard, phase 1 only)"
say "signature: $(wc -c < sig/signature) base64 characters; receipt in sign.json"

step "Verify the signature without the appliance"
mkdir -p ed25519
run appliance client verify-local --from sig --message-file message.txt --export-ed25519 ed25519
if command -v openssl >/dev/null; then
  say "and its Ed25519 component with openssl, over the composite message representative M':"
  run openssl pkeyutl -verify -pubin -inkey ed25519/ed25519.pub.pem -rawin -in ed25519/mprime.bin -sigfile ed25519/ed25519.sig
fi
printf 'pay 900 EUR to Bob, ref 2026-11-26' > tampered.txt
if appliance client verify-local --from sig --message-file tampered.txt > /dev/null 2>&1; then
  echo "demo: a tampered message verified" >&2; exit 1
fi
say "a tampered message does not verify (as it must)"

step "Revoke the capability by proposal (revocation: one security-officer signature)"
cd gov
propose '1,3p' --scope tenant:acme --change "revoke_capability=$cap_id" --rationale "demo: revoke"
govtool approve "$id" --key ../security-officer.key --passphrase-file ../passphrase | tail -1 | sed 's/^/     /'
govtool execute "$id" | tail -1 | sed 's/^/     /'
git push -q origin main
cd "$work"
say "the Git host's webhook tells the appliance (HMAC-signed POST /v1/sync):"
appliance client sync --secret-file webhook.secret > /dev/null
say "synced: the new head is verified and in force"

step "The revoked capability is refused"
if appliance client sign --token-file cap.token --tenant acme --key payments --message-file message.txt > refused.out 2>&1; then
  echo "demo: the revoked capability still signs" >&2; exit 1
fi
sed 's/^/     /' refused.out

step "Rotate the key by proposal; check the continuity proof offline"
cd gov
propose '1p' --scope tenant:acme --change rotate_key=payments --rationale "demo: quarterly rotation"
sign2 "$id"
govtool execute "$id" | tail -1 | sed 's/^/     /'
git push -q origin main
cd "$work"
appliance client sync --secret-file webhook.secret > /dev/null
appliance client pubkey --tenant acme --key payments > payments.json
say "the appliance made version 2 inside its backend and signed a proof (old ⇄ new, Ed25519 and ML-DSA-65):"
run govtool key verify-continuity --key-info payments.json
sed 's/"tenant": *"acme"/"tenant": "evil"/g' payments.json > tampered-proof.json
if govtool key verify-continuity --key-info tampered-proof.json > /dev/null 2>&1; then
  echo "demo: a tampered continuity proof verified" >&2; exit 1
fi
say "a tampered proof is refused (as it must be)"

step "Governance history, as an auditor reads it from Git"
run govtool log -C gov

echo
echo "demo: OK — every step above ran for real: keys, Git, HTTP, signatures, revocation."
