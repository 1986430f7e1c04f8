#!/usr/bin/env bash
# The main job on an embedded default. Until the dataplane exists this is a
# demo of the token engine through veil-token: a tenant key, a few names
# turned into tokens, the same name giving the same token, tokens resolved
# back, and altered or foreign tokens rejected.
set -euo pipefail
cd "$(dirname "$0")/.."
bash platform/setup.sh

tok=build/crypto/veil-token
work=$(mktemp -d /tmp/veil-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
key=$work/acme.key
other=$work/globex.key

echo
echo "== 1. a tenant key: tenant 'acme', key version 1"
$tok genkey "$key"
$tok genkey "$other"
echo "   key file $key ($(stat -c %a "$key"), 32 random bytes as hex; never printed)"
echo "   engine: ${VEIL_CRYPTO:-auto} (set VEIL_CRYPTO=openssl or ipsec-mb to choose)"

echo
echo "== 2. names -> tokens (AES-SIV, one batch per kind)"
users=("alice@example.com" 'CORP\bob' "carol")
mapfile -t utok < <(printf '%s\n' "${users[@]}" | $tok encrypt -k "$key" -t acme -v 1 -K user)
dtok=$($tok encrypt -k "$key" -t acme -v 1 -K device "laptop-0042")
for i in "${!users[@]}"; do printf '   user   %-20s -> %s\n' "${users[$i]}" "${utok[$i]}"; done
printf '   device %-20s -> %s\n' "laptop-0042" "$dtok"

echo
echo "== 3. the same name gives the same token (reports can still count users)"
again=$($tok encrypt -k "$key" -t acme -v 1 -K user "alice@example.com")
if [ "$again" = "${utok[0]}" ]; then echo "   alice@example.com again -> same token: yes"
else echo "   MISMATCH"; exit 1; fi

echo
echo "== 4. tokens -> names (resolve)"
for t in "${utok[@]}" "$dtok"; do
	printf '   %.40s... -> %s\n' "$t" "$($tok decrypt -k "$key" -t acme -v 1 -K any "$t")"
done

echo
echo "== 5. tampered and foreign tokens are rejected, never resolved to garbage"
t=${utok[0]}
pos=$(( ${#t} - 5 ))
c=${t:$pos:1}; [ "$c" = a ] && n=b || n=a
bad="${t:0:$pos}$n${t:$((pos + 1))}"
printf '   one character changed:  %s\n' "$($tok decrypt --status -k "$key" -t acme -v 1 "$bad" || true)"
printf '   truncated:              %s\n' "$($tok decrypt --status -k "$key" -t acme -v 1 "${t:0:40}" || true)"
printf '   asked as a device name: %s\n' "$($tok decrypt --status -k "$key" -t acme -v 1 -K device "$t" || true)"
printf '   unknown key version 2:  %s\n' "$($tok decrypt --status -k "$key" -t acme -v 2 "$t" || true)"
gtok=$($tok encrypt -k "$other" -t globex -v 1 "alice@example.com")
printf '   other tenant (globex):  %s\n' "$($tok decrypt --status -k "$key" -t acme -v 1 "$gtok" || true)"
echo
echo "demo done: see docs/token-format.md for the token format"
