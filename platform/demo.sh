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
# justification, and the governance record is printed. Last, a tenant with
# its own key (BYOK) on a SoftHSM2 token the demo makes beside the managed
# one: anonymized, a token of each resolved, the records. It stops what it
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
# A customer's HSM for step 8: a SoftHSM2 token of the demo's own (its
# softhsm2.conf and token directory under $work), an RSA key-encryption key
# made inside it; controld opens the token at start ([byok] in veil.conf).
hsm_module=/usr/lib/softhsm/libsofthsm2.so
byok=
if [ -e "$hsm_module" ] && command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null; then
	mkdir -p "$work/hsm/tokens"
	printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$work" >"$work/hsm/softhsm2.conf"
	export SOFTHSM2_CONF=$work/hsm/softhsm2.conf
	pin=$(od -An -N6 -tu2 /dev/urandom | tr -d ' \n')
	install -m 0600 /dev/null "$work/hsm/pin"
	printf '%s\n' "$pin" >"$work/hsm/pin"
	if softhsm2-util --init-token --free --label veil-demo --pin "$pin" \
		--so-pin "$pin" >/dev/null &&
	   pkcs11-tool --module "$hsm_module" --token-label veil-demo --login \
		--pin "$pin" --keypairgen --key-type rsa:2048 --label globex-kek \
		--id 01 --usage-decrypt >/dev/null 2>&1; then
		printf '\n[byok]\nmodule = %s\ntoken_label = veil-demo\npin_file = %s/hsm/pin\n' \
			"$hsm_module" "$work" >>"$work/veil.conf"
		byok=yes
	fi
fi
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

echo
echo "== 8. bring your own key: tenant globex's keys wrapped by its RSA key in an HSM"
if [ -n "$byok" ]; then
	echo "   a SoftHSM2 token 'veil-demo' ($SOFTHSM2_CONF), RSA-2048 key 'globex-kek' made"
	echo "   inside it (the private key never leaves it); tenant demo stays on the master key"
	$ctl tenant create globex | sed 's/^/   /'
	$ctl tenant byok enable globex --key-label globex-kek \
		--reason "customer contract 2026-17: globex holds its own key" | sed 's/^/   /'
	$ctl tenant show globex | sed 's/^/     /'
	gout=$work/sample.globex.log
	$dp --no-huge --no-pci --no-shconf --no-telemetry -- -c "$work/veil.conf" \
		--tenant globex --in "$sample" --out "$gout" 2>"$work/dataplane.globex.log"
	echo "   the same sample anonymized for globex ($(wc -l <"$gout") lines), the first line:"
	head -1 "$gout" | cut -c1-200 | sed 's/^/     /'
	gtok=$(head -1 "$gout" | grep -o 'veil_u[0-9]*_[a-z2-7]*' | head -1)
	why="INC-2043: globex asked who triggered the worm alert"
	echo "   resolve one token of each tenant (globex's key is unwrapped inside the token):"
	printf '     demo   (master key): '; $ctl resolve -t demo -j "$why" "$tok"
	printf '     globex (BYOK, HSM):  '; $ctl resolve -t globex -j "$why" "$gtok"
	echo "   the governance log: the switch to BYOK and both resolves:"
	$ctl audit show --action tenant.byok | sed 's/^/     /'
	$ctl audit show --action resolve --limit 2 2>/dev/null | sed 's/^/     /'
	$ctl audit verify | sed 's/^/   /'
else
	echo "   skipped: SoftHSM2 ($hsm_module) or pkcs11-tool (OpenSC) is not installed"
fi
kill "$ctld_pid"
wait "$ctld_pid" 2>/dev/null || true
ctld_pid=
echo
echo "demo done: docs/token-format.md (tokens), docs/controld.md (control plane),"
echo "docs/dataplane-process.md (veil-dataplane, snapshot mode), docs/keys.md (BYOK)"
