#!/usr/bin/env bash
# The main job on an embedded default: a demo of the token engine through
# veil-token (a tenant key, names turned into tokens, the same name giving the
# same token, tokens resolved back, altered or foreign tokens rejected), of the
# control plane (veil-controld on a state directory of its own, a tenant, a
# name's token looked up and resolved with a justification through veilctl,
# the governance record, the chain verified), and then the real path:
# veil-dataplane anonymizes a shipped sample log of mixed formats
# (platform/demo/sample.log) in snapshot mode with the tenant's key from
# controld, a token of its output is resolved through veilctl with a
# justification, and the governance record is printed. It stops what it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash platform/setup.sh

tok=build/crypto/veil-token
ctld=build/control/veil-controld
ctl=build/control/veilctl
dp=build/dataplane/veil-dataplane
sample=platform/demo/sample.log
work=$(mktemp -d /tmp/veil-demo.XXXXXX)
ctld_pid=
cleanup() {
	if [ -n "$ctld_pid" ]; then kill "$ctld_pid" 2>/dev/null; wait "$ctld_pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
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
echo "== 6. the control plane: veil-controld with its own state directory"
printf '[controld]\nstate_dir = %s/state\nsocket = %s/controld.sock\nlink_socket = %s/link.sock\n\n[roles]\nadmin = uid:%s\n' \
	"$work" "$work" "$work" "$(id -u)" >"$work/veil.conf"
$ctld -c "$work/veil.conf" -n | sed 's/^/   /'
$ctld -c "$work/veil.conf" -f 2>"$work/controld.log" &
ctld_pid=$!
for _ in $(seq 100); do [ -S "$work/controld.sock" ] && break; sleep 0.05; done
export VEIL_SOCKET=$work/controld.sock
$ctl tenant create demo | sed 's/^/   /'
why="INC-2041: alice's account sent mail to an unknown host"
echo "   lookup alice@example.com (the token the dataplane writes for her):"
dtok=$($ctl lookup -t demo -j "$why" alice@example.com | cut -f2)
echo "     $dtok"
echo "   resolve it, with a justification:"
$ctl resolve -t demo -j "$why" "$dtok" | sed 's/^/     /'
echo "   the governance log (never the name):"
$ctl audit show --tenant demo | sed 's/^/     /'
$ctl audit verify | sed 's/^/   /'

echo
echo "== 7. the dataplane: a snapshot of a mixed log, anonymized with the tenant's key"
echo "   $sample: $(wc -l <"$sample") lines of CEF, FortiGate, PAN-OS, JSON, ASA and Squid"
echo "   before (the first 4, cut at 150 characters):"
head -4 "$sample" | cut -c1-150 | sed 's/^/     /'
# EAL: no hugepages, no PCI, no shared files (DPDK 22.11 refuses --in-memory
# with --no-huge); the link socket comes from veil.conf's [controld].
out=$work/sample.anon.log
$dp --no-huge --no-pci --no-shconf --no-telemetry -- -c "$work/veil.conf" \
	--tenant demo --in "$sample" --out "$out" 2>"$work/dataplane.log"
sed 's/^/   /' "$work/dataplane.log"
echo "   after:"
head -4 "$out" | cut -c1-200 | sed 's/^/     /'
n_out=$(wc -l <"$out"); n_tok=$(grep -o 'veil_[ud][0-9]*_[a-z2-7]*' "$out" | wc -l)
echo "   $n_out lines written, $n_tok tokens in them; the counters controld got:"
$ctl stats | sed 's/^/     /'
tok=$(head -1 "$out" | grep -o 'veil_u[0-9]*_[a-z2-7]*' | head -1)
why="INC-2042: worm alert on WKS-0042, who was logged on?"
echo "   resolve the user token of the first line, with a justification:"
$ctl resolve -t demo -j "$why" "$tok" | sed 's/^/     /'
echo "   the governance record of that resolve (the token, never the name):"
$ctl audit show --tenant demo --action resolve | tail -3 | sed 's/^/     /'
kill "$ctld_pid"
wait "$ctld_pid" 2>/dev/null || true
ctld_pid=
echo
echo "demo done: docs/token-format.md (tokens), docs/controld.md (control plane),"
echo "docs/dataplane-process.md (veil-dataplane, snapshot mode)"
