#!/usr/bin/env bash
# make-example-history.sh — write this repository's own governance history
# with govtool: the genesis (signer set 1 and policy 1), a few executed
# proposals, a signer-set rotation that replaces the custodian, and one more
# execution under the new set.
#
# The signers' private keys are throwaway: generated in a temporary
# directory, used, and deleted when the script ends. Only public keys reach
# the repository (in the signer sets). Nobody can sign for this history
# afterwards, which is what an example needs.
#
# Run it once, on a clean main, in a repository whose history has no
# governance files yet (govtool init refuses otherwise):
#   scripts/make-example-history.sh            # builds govtool from ./cmd/govtool
#   GOVTOOL=/path/to/govtool scripts/make-example-history.sh
# It prints the root digest: pin it where the repository's tests and
# workflow expect it (govtool/cli/selfhistory_test.go, and
# .github/workflows/governance.yml, which govtool init writes).
set -euo pipefail
shopt -s inherit_errexit

cd "$(git rev-parse --show-toplevel)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077

govtool=${GOVTOOL:-}
if [ -z "$govtool" ]; then
  go build -o "$tmp/govtool" ./cmd/govtool
  govtool=$tmp/govtool
fi

keys=$tmp/keys
mkdir -p "$keys"
head -c 32 /dev/urandom | base64 > "$keys/pass"
# approve ID SIGNER signs proposal ID (or the genesis) with SIGNER's key.
approve() { "$govtool" approve "$1" --key "$keys/$2" --passphrase-file "$keys/pass"; }

echo "== throwaway signer keys"
for k in alice:policy-owner bob:security-officer carol:custodian dave:operator erin:custodian; do
  "$govtool" keygen --role "${k#*:}" --out "$keys/${k%%:*}" --passphrase-file "$keys/pass" > /dev/null
done

cat > "$tmp/config.json" <<'EOF'
{
  "backend": {"kind": "pkcs11", "slot": "hsm-1"},
  "attestation_required": true,
  "pq_default": "hybrid_and",
  "revocation_webhooks": ["https://hooks.example/ron-kms/revoked"],
  "tenants": {
    "acme": {"pq_mode": "hybrid_or", "mint": {"max_active": 100, "rate_per_minute": 60, "max_ttl_seconds": 3600}}
  }
}
EOF

echo "== govtool init"
"$govtool" init . --signer "policy-owner=$keys/alice.pub" --signer "security-officer=$keys/bob.pub" \
  --signer "custodian=$keys/carol.pub" --signer "operator=$keys/dave.pub" --config "$tmp/config.json" | tee "$tmp/init.txt"
root=$(sed -n 's/^root of trust: \(sha256:[0-9a-f]*\)$/\1/p' "$tmp/init.txt")
[ -n "$root" ] || { echo "no root digest in the output of govtool init" >&2; exit 1; }
export GOVTOOL_ROOT_DIGEST=$root

echo "== genesis: signed by policy-owner and security-officer"
approve genesis alice
approve genesis bob
"$govtool" execute genesis

# The author a proposal names (a claim, like a commit's author).
author="$(git config user.name) <$(git config user.email)>"

# proposal_id FILE prints the id of the proposal that FILE's output reports.
proposal_id() {
  local id
  id=$(sed -n 's/^proposal \([^ ]*\) .*/\1/p' "$1")
  [ -n "$id" ] || { echo "no proposal id in $1" >&2; return 1; }
  echo "$id"
}

# propose ARGS... prints the new proposal's id.
propose() {
  "$govtool" propose --author "$author" "$@" > "$tmp/out.txt"
  cat "$tmp/out.txt" >&2
  proposal_id "$tmp/out.txt"
}

echo "== acme moves from hybrid_or to hybrid_and (sensitive: 2 of 3)"
id=$(propose --scope tenant:acme --change pq_mode=hybrid_and --rationale 'acme clients verify composite ML-DSA signatures' \
  --risk 'clients without ML-DSA support fail to verify' --rollback 'pq_mode=hybrid_or')
approve "$id" alice
approve "$id" carol
"$govtool" execute "$id"

echo "== a signing key for acme (sensitive)"
id=$(propose --scope tenant:acme --change create_key=signing:ed25519 --rationale 'acme release signing')
approve "$id" bob
approve "$id" carol
"$govtool" execute "$id"

echo "== cache TTL within ±20% of its baseline (parameter: one operator)"
id=$(propose --change cache_ttl_seconds=330 --rationale 'fewer policy reloads under load')
approve "$id" dave
"$govtool" execute "$id"

echo "== rotation: erin replaces carol as custodian (2 of the old set and 2 of the new)"
"$govtool" signer-set rotate --author "$author" --add "custodian=$keys/erin.pub" --remove "$keys/carol.pub" \
  --rationale 'carol hands the custodian role to erin' > "$tmp/out.txt"
cat "$tmp/out.txt"
id=$(proposal_id "$tmp/out.txt")
approve "$id" alice
approve "$id" bob
approve "$id" erin
"$govtool" execute "$id"

echo "== under signer set 2: revoke a leaked capability (revocation: one security officer)"
id=$(propose --scope tenant:acme --change revoke_capability=cap-2026-0001 --rationale 'capability cap-2026-0001 leaked in a build log')
approve "$id" bob
"$govtool" execute "$id"

echo "== verify from the pinned root"
"$govtool" verify
echo
echo "root digest: $root"
