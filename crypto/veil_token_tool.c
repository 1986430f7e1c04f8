/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-token: a developer tool (built, never installed) that makes and reads
 * tokens with a key from a file. It prints names it decrypts: it is for the
 * docs' worked example, the interop test and labs, not for production keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "veil_crypto.h"

#define MAX_VERSIONS 16

static const char usage[] =
	"usage: veil-token genkey FILE\n"
	"       veil-token encrypt -k KEYFILE -t TENANT -v VERSION [options] [NAME...]\n"
	"       veil-token decrypt -k KEYFILE -t TENANT -v V[,V...] [options] [TOKEN...]\n"
	"\n"
	"Makes and reads veil tokens (docs/token-format.md) with a 32-byte key\n"
	"stored as 64 hex characters in KEYFILE. Without NAME/TOKEN arguments,\n"
	"reads one per line from standard input.\n"
	"\n"
	"options:\n"
	"  -k, --key FILE         key file (64 hex characters)\n"
	"  -t, --tenant ID        tenant id ([a-z0-9_.-], 1 to 64 characters)\n"
	"  -v, --version N[,N]    key version; decrypt accepts a list, each\n"
	"                         version using the same key file\n"
	"  -K, --kind KIND        user (default) or device; decrypt also any\n"
	"      --no-bucketing     pad names to length+1, not to a size bucket\n"
	"      --hex              names are given and printed in hex\n"
	"      --status           decrypt: prefix each line with its status\n"
	"      --backend B        auto, ipsec-mb or openssl (default: $VEIL_CRYPTO)\n"
	"      --arch A           auto, noaesni, sse, avx, avx2, avx512\n"
	"                         (default: $VEIL_CRYPTO_ARCH)\n"
	"  -h, --help             this text\n"
	"\n"
	"exit status: 0 all items OK, 1 some item failed, 2 usage or setup error\n";

struct opts {
	const char *keyfile;
	const char *tenant;
	uint32_t versions[MAX_VERSIONS];
	unsigned n_versions;
	enum veil_kind kind;
	bool hex;
	bool status;
	struct veil_engine_opts eng;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex; returns the byte count or -1. */
static long unhex(uint8_t *dst, size_t cap, const char *s, size_t n)
{
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		dst[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

static int read_key(const char *path, uint8_t key[VEIL_KEY_LEN])
{
	char buf[2 * VEIL_KEY_LEN + 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "veil-token: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	int rc = 0;
	if (n != 2 * VEIL_KEY_LEN ||
	    unhex(key, VEIL_KEY_LEN, buf, (size_t)n) != VEIL_KEY_LEN) {
		fprintf(stderr, "veil-token: %s: not a key (want 64 hex "
				"characters)\n", path);
		rc = -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int cmd_genkey(const char *path)
{
	uint8_t key[VEIL_KEY_LEN];
	char hex[2 * VEIL_KEY_LEN + 2];

	if (veil_key_generate(key) != 0) {
		fprintf(stderr, "veil-token: no random bytes\n");
		return 2;
	}
	for (int i = 0; i < VEIL_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * VEIL_KEY_LEN] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;
	if (fd < 0 || write(fd, hex, 2 * VEIL_KEY_LEN + 1) !=
			      2 * VEIL_KEY_LEN + 1) {
		fprintf(stderr, "veil-token: %s: %s\n", path, strerror(errno));
		rc = 2;
	}
	if (fd >= 0)
		close(fd);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

static int parse_versions(struct opts *o, const char *s)
{
	char *end;
	o->n_versions = 0;
	for (;;) {
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (errno || end == s || v == 0 || v > UINT32_MAX ||
		    o->n_versions == MAX_VERSIONS || *s == '-' || *s == '+')
			return -1;
		o->versions[o->n_versions++] = (uint32_t)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* One input item: an argument or a line of stdin (without its LF). */
static int process(struct veil_engine *e, const struct opts *o, bool enc,
		   const struct veil_key *key, const struct veil_keyring *ring,
		   const char *in, size_t in_len)
{
	uint8_t name[VEIL_NAME_MAX + 2];
	uint8_t out[VEIL_TOKEN_MAX];
	struct veil_item it = { .in = (const uint8_t *)in, .in_len = in_len,
				.out = out, .out_cap = sizeof(out) };

	if (enc && o->hex) {
		long n = unhex(name, sizeof(name), in, in_len);
		if (n < 0) {
			fprintf(stderr, "veil-token: bad hex name \"%.40s\"\n",
				in);
			return 1;
		}
		it.in = name;
		it.in_len = (size_t)n;
	}
	if (enc)
		veil_token_encrypt_batch(e, key, o->kind, &it, 1);
	else
		veil_token_decrypt_batch(e, ring, o->kind, &it, 1);

	if (o->status)
		printf("%s\t", veil_status_name(it.status));
	if (it.status == VEIL_OK) {
		if (!enc && o->hex)
			print_hex(out, it.out_len);
		else
			fwrite(out, 1, it.out_len, stdout);
	} else if (!o->status) {
		fprintf(stderr, "veil-token: %s: %s\n",
			veil_status_name(it.status),
			veil_status_str(it.status));
	}
	putchar('\n');
	explicit_bzero(out, sizeof(out));
	explicit_bzero(name, sizeof(name));
	return it.status == VEIL_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "tenant", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ "kind", required_argument, NULL, 'K' },
		{ "no-bucketing", no_argument, NULL, 'B' },
		{ "hex", no_argument, NULL, 'x' },
		{ "status", no_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "arch", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .kind = VEIL_KIND_USER };
	char err[160];
	int c;

	prctl(PR_SET_DUMPABLE, 0); /* it holds a key: no core dumps */

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "genkey")) {
		if (argc != 3) {
			fputs(usage, stderr);
			return 2;
		}
		return cmd_genkey(argv[2]);
	}
	bool enc = !strcmp(cmd, "encrypt");
	if (!enc && strcmp(cmd, "decrypt")) {
		fprintf(stderr, "veil-token: unknown command \"%s\"\n%s", cmd,
			usage);
		return 2;
	}
	if (veil_engine_opts_from_env(&o.eng, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-token: %s\n", err);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "k:t:v:K:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o.keyfile = optarg; break;
		case 't': o.tenant = optarg; break;
		case 'v':
			if (parse_versions(&o, optarg) != 0) {
				fprintf(stderr, "veil-token: bad version "
						"\"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'K':
			if (!strcmp(optarg, "user"))
				o.kind = VEIL_KIND_USER;
			else if (!strcmp(optarg, "device"))
				o.kind = VEIL_KIND_DEVICE;
			else if (!enc && !strcmp(optarg, "any"))
				o.kind = VEIL_KIND_ANY;
			else {
				fprintf(stderr, "veil-token: bad kind \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'B': o.eng.no_bucketing = true; break;
		case 'x': o.hex = true; break;
		case 's': o.status = true; break;
		case 'b':
			if (veil_backend_parse(optarg, &o.eng.backend)) {
				fprintf(stderr, "veil-token: bad backend "
						"\"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'a':
			if (veil_arch_parse(optarg, &o.eng.arch)) {
				fprintf(stderr, "veil-token: bad arch \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (o.keyfile == NULL || o.tenant == NULL || o.n_versions == 0) {
		fprintf(stderr, "veil-token: -k, -t and -v are required\n");
		return 2;
	}
	if (!veil_tenant_valid(o.tenant)) {
		fprintf(stderr, "veil-token: bad tenant id \"%.70s\"\n",
			o.tenant);
		return 2;
	}
	if (enc && o.n_versions != 1) {
		fprintf(stderr, "veil-token: encrypt takes one version\n");
		return 2;
	}

	uint8_t raw[VEIL_KEY_LEN];
	if (read_key(o.keyfile, raw) != 0)
		return 2;
	struct veil_engine *e = veil_engine_new(&o.eng);
	struct veil_keyring *ring = veil_keyring_new(o.tenant);
	int rc = 2;
	if (e == NULL || ring == NULL) {
		fprintf(stderr, "veil-token: cannot start the engine: %s\n",
			strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < o.n_versions; i++) {
		struct veil_key *k = veil_key_new(raw, o.tenant, o.versions[i]);
		if (k == NULL || veil_keyring_add(ring, k) != 0) {
			fprintf(stderr, "veil-token: key version %u: %s\n",
				o.versions[i], strerror(errno));
			veil_key_free(k);
			goto out;
		}
	}
	const struct veil_key *key = veil_keyring_get(ring, o.versions[0]);
	rc = 0;
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			rc |= process(e, &o, enc, key, ring, argv[i],
				      strlen(argv[i]));
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				n--;
			rc |= process(e, &o, enc, key, ring, line, (size_t)n);
		}
		if (line != NULL)
			explicit_bzero(line, cap);
		free(line);
	}
	if (fflush(stdout) != 0)
		rc = 2;
out:
	explicit_bzero(raw, sizeof(raw));
	veil_keyring_free(ring);
	veil_engine_free(e);
	return rc;
}
