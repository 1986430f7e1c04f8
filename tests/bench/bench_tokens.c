/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Token engine benchmark (a `meson benchmark`, never a test): tokens per
 * CPU second of one core by backend, architecture, name length and batch
 * size, binary SIV outputs and text tokens separately, next to two
 * baselines of the same run: OpenSSL AES-128-SIV once per name with the key
 * set up, and the raw AES-128-ECB block rate of ipsec-mb on one long buffer;
 * then the base32 encoder by path.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include "crypto_pvt.h"
#include "veil_crypto.h"

static const size_t name_lens[] = { 8, 16, 24, 32, 64 };
static const unsigned batches[] = { 1, 16, 64, 256 };
#define N_LENS (sizeof(name_lens) / sizeof(name_lens[0]))
#define N_BATCH (sizeof(batches) / sizeof(batches[0]))
#define POOL 4096 /* distinct names per length */
#define MAX_ENG (VEIL_ARCH_COUNT + 1)

static double min_seconds = 0.2;

/* CPU time of this thread: the rates are per CPU second of one core, so
 * that other work on a shared machine does not count against them. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t names[N_LENS][POOL][64];
static uint8_t outbuf[256][VEIL_TOKEN_MAX];
static struct veil_item items[256];
static const uint8_t raw_key[VEIL_KEY_LEN] = { 0x10, 0x21, 0x32, 0x43, 0x54 };

static void make_names(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (size_t l = 0; l < N_LENS; l++)
		for (size_t i = 0; i < POOL; i++)
			for (size_t j = 0; j < name_lens[l]; j++) {
				s ^= s << 13;
				s ^= s >> 7;
				s ^= s << 17;
				names[l][i][j] = (uint8_t)('a' + s % 26);
			}
}

/* AES blocks RFC 5297 needs per name once the per-key parts are done:
 * the CMAC over T and CTR over the padded plaintext. */
static double blocks_per_output(size_t name_len)
{
	size_t p = veil_padded_len(name_len, true);
	size_t nb = p < 16 ? 1 : (p + 15) / 16;
	return (double)(2 * nb);
}

static void fill_batch(size_t li, unsigned batch, size_t *next)
{
	for (unsigned i = 0; i < batch; i++) {
		items[i].in = names[li][*next];
		items[i].in_len = name_lens[li];
		items[i].out = outbuf[i];
		items[i].out_cap = VEIL_TOKEN_MAX;
		*next = (*next + 1) % POOL;
	}
}

static void one_batch(struct veil_engine *e, const struct veil_key *k,
		      unsigned batch, bool text)
{
	unsigned ok = text ? veil_token_encrypt_batch(e, k, VEIL_KIND_USER, items, batch)
			   : veil_siv_encrypt_batch(e, k, VEIL_KIND_USER, items, batch);
	if (ok != batch) {
		fprintf(stderr, "bench: batch failed: %s\n",
			veil_status_str(items[0].status));
		exit(1);
	}
}

/* Outputs per second of one batch configuration, after a warm-up. */
static double run_engine(struct veil_engine *e, const struct veil_key *k,
			 size_t li, unsigned batch, bool text)
{
	size_t next = 0;
	long outputs = 0;
	double t0, dt;

	for (int rep = 0; rep < 64; rep++) {
		fill_batch(li, batch, &next);
		one_batch(e, k, batch, text);
	}
	/* the thread CPU clock is a system call: read it once per ~16k
	 * outputs, so that it costs the same small share in every cell */
	int reps = batch >= 1024 ? 16 : 16384 / (int)batch;
	t0 = now();
	do {
		for (int rep = 0; rep < reps; rep++) {
			fill_batch(li, batch, &next);
			one_batch(e, k, batch, text);
			outputs += batch;
		}
		dt = now() - t0;
	} while (dt < min_seconds);
	return (double)outputs / dt;
}

/* Baseline (a): EVP AES-128-SIV, key set once, one call per name. OpenSSL
 * 3.0 cannot re-use a SIV context after its Final without a new key, so
 * each name starts from a copy of a context keyed once (tmpl). */
struct ossl_base {
	EVP_CIPHER *c;
	EVP_CIPHER_CTX *tmpl;
	EVP_CIPHER_CTX *x;
};

static int ossl_one(struct ossl_base *b, const uint8_t *name, size_t len,
		    uint8_t *out)
{
	static const uint8_t ver[4] = { 0, 0, 0, 1 };
	uint8_t pt[128];
	size_t plen = veil_padded_len(len, true);
	int l;

	memcpy(pt, name, len);
	pt[len] = 0x80;
	memset(pt + len + 1, 0, plen - len - 1);
	return EVP_CIPHER_CTX_copy(b->x, b->tmpl) == 1 &&
	       EVP_EncryptUpdate(b->x, NULL, &l, (const uint8_t *)"bench", 5) == 1 &&
	       EVP_EncryptUpdate(b->x, NULL, &l, ver, 4) == 1 &&
	       EVP_EncryptUpdate(b->x, NULL, &l, (const uint8_t *)"user", 4) == 1 &&
	       EVP_EncryptUpdate(b->x, out + 16, &l, pt, (int)plen) == 1 &&
	       EVP_EncryptFinal_ex(b->x, out + 16 + l, &l) == 1 &&
	       EVP_CIPHER_CTX_ctrl(b->x, EVP_CTRL_AEAD_GET_TAG, 16, out) == 1
		       ? 0 : -1;
}

static double run_ossl_baseline(struct ossl_base *b, size_t li)
{
	uint8_t out[256];
	size_t next = 0;
	long n = 0;
	double t0 = now(), dt;
	do {
		for (int rep = 0; rep < 256; rep++) {
			if (ossl_one(b, names[li][next], name_lens[li], out) != 0) {
				fprintf(stderr, "bench: OpenSSL baseline failed\n");
				exit(1);
			}
			next = (next + 1) % POOL;
			n++;
		}
		dt = now() - t0;
	} while (dt < min_seconds);
	return (double)n / dt;
}

static int ecb_once(IMB_MGR *m, const uint8_t *ek, const uint8_t *dk,
		    uint8_t *buf, size_t len)
{
	IMB_JOB *j = IMB_GET_NEXT_JOB(m);
	j->cipher_mode = IMB_CIPHER_ECB;
	j->cipher_direction = IMB_DIR_ENCRYPT;
	j->chain_order = IMB_ORDER_CIPHER_HASH;
	j->hash_alg = IMB_AUTH_NULL;
	j->key_len_in_bytes = IMB_KEY_128_BYTES;
	j->enc_keys = ek;
	j->dec_keys = dk;
	j->src = buf;
	j->dst = buf;
	j->cipher_start_src_offset_in_bytes = 0;
	j->msg_len_to_cipher_in_bytes = len;
	j->iv = NULL;
	j->iv_len_in_bytes = 0;
	j = IMB_SUBMIT_JOB(m);
	return j != NULL && j->status == IMB_STATUS_COMPLETED ? 0 : -1;
}

/* Baseline (b): ipsec-mb AES-128-ECB over one long buffer (64 KiB - 16,
 * the longest ECB job ipsec-mb takes), blocks per second. */
static double run_ecb_ceiling(enum veil_arch arch)
{
	static uint8_t buf[65520] __attribute__((aligned(64)));
	uint8_t ek[176] __attribute__((aligned(16))), dk[176] __attribute__((aligned(16)));
	IMB_MGR *m = alloc_mb_mgr(arch == VEIL_ARCH_NOAESNI ? IMB_FLAG_AESNI_OFF : 0);
	if (m == NULL)
		return 0;
	switch (arch) {
	case VEIL_ARCH_NOAESNI:
	case VEIL_ARCH_SSE: init_mb_mgr_sse(m); break;
	case VEIL_ARCH_AVX: init_mb_mgr_avx(m); break;
	case VEIL_ARCH_AVX2: init_mb_mgr_avx2(m); break;
	default: init_mb_mgr_avx512(m); break;
	}
	IMB_AES_KEYEXP_128(m, raw_key, ek, dk);
	long blocks = 0;
	double t0 = now(), dt;
	do {
		/* 16 jobs of 4,095 blocks for each read of the clock (a
		 * system call: read after every job, it took a fifth) */
		for (int rep = 0; rep < 16; rep++) {
			if (ecb_once(m, ek, dk, buf, sizeof(buf)) != 0) {
				free_mb_mgr(m);
				return 0;
			}
			blocks += sizeof(buf) / 16;
		}
		dt = now() - t0;
	} while (dt < min_seconds);
	free_mb_mgr(m);
	return (double)blocks / dt;
}

/* base32 alone: the blob of a token of a 24-byte name (4 + 16 + 32 bytes),
 * blobs per second by encoder path. */
static double run_b32(enum veil_b32_path p)
{
	static uint8_t blob[POOL][52];
	static char txt[96];
	long n = 0;
	double t0, dt;

	if (veil_b32_set_path(p) != 0)
		return 0;
	for (size_t i = 0; i < POOL; i++)
		memcpy(blob[i], names[4][i], 52);
	t0 = now();
	do {
		for (int rep = 0; rep < 4096; rep++) {
			veil_b32_encode(txt, blob[(size_t)n % POOL], 52);
			__asm__ volatile("" : : "r"(txt) : "memory");
			n++;
		}
		dt = now() - t0;
	} while (dt < min_seconds);
	return (double)n / dt;
}

struct result {
	char name[32];
	bool ipsec;
	enum veil_arch arch;
	double ecb;                     /* blocks/s, ipsec-mb only */
	double bin[N_LENS][N_BATCH];    /* outputs/s */
	double txt[N_LENS][N_BATCH];
};

static void cpu_model(char *dst, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	snprintf(dst, cap, "unknown");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(dst, cap, "%s", strchr(line, ':') + 2);
			dst[strcspn(dst, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
}

static const char usage[] =
	"usage: bench_tokens [--seconds S] [--quick] [--json] [--help]\n"
	"Token engine throughput on one core: outputs/s by backend, arch, name\n"
	"length and batch size, binary SIV outputs and text tokens, next to the\n"
	"OpenSSL per-name baseline and the raw ipsec-mb ECB rate of the same run.\n"
	"  --seconds S  minimum time per cell (default 0.2)\n"
	"  --quick      0.05 s per cell\n"
	"  --json       one JSON object instead of tables\n"
	"  --cell ARCH,LEN,BATCH  only this cell of ipsec-mb/ARCH, binary and text,\n"
	"               and its ECB ceiling (for perf record)\n";

/* --cell: one engine, one length, one batch size. */
static int run_cell(const char *spec, const struct veil_key *key)
{
	char arch_s[16];
	size_t len, li;
	unsigned batch, bi;
	enum veil_arch arch;

	if (sscanf(spec, "%15[^,],%zu,%u", arch_s, &len, &batch) != 3 ||
	    veil_arch_parse(arch_s, &arch) != 0) {
		fprintf(stderr, "bench: --cell %s: want ARCH,LEN,BATCH (e.g. avx512,24,64)\n", spec);
		return 2;
	}
	for (li = 0; li < N_LENS && name_lens[li] != len; li++)
		;
	for (bi = 0; bi < N_BATCH && batches[bi] != batch; bi++)
		;
	if (li == N_LENS || bi == N_BATCH) {
		fprintf(stderr, "bench: --cell %s: length 8, 16, 24, 32 or 64; batch 1, 16, 64 or 256\n", spec);
		return 2;
	}
	struct veil_engine_opts o = { .backend = VEIL_BACKEND_IPSECMB, .arch = arch };
	struct veil_engine *e = veil_engine_new(&o);
	if (e == NULL) {
		fprintf(stderr, "bench: ipsec-mb/%s: %s\n", arch_s, strerror(errno));
		return 1;
	}
	double ecb = run_ecb_ceiling(arch);
	double bin = run_engine(e, key, li, batch, false);
	double txt = run_engine(e, key, li, batch, true);
	printf("%s len %zu batch %u: binary %.0f/s (AES efficiency %.1f%% of %.1f M ECB blocks/s), "
	       "text %.0f/s (base32 %s)\n", veil_engine_name(e), len, batch, bin,
	       100.0 * bin * blocks_per_output(len) / ecb, ecb / 1e6, txt,
	       veil_b32_path_name(veil_b32_path()));
	veil_engine_free(e);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "cell", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	const char *cell = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': min_seconds = atof(optarg); break;
		case 'q': min_seconds = 0.05; break;
		case 'j': json = true; break;
		case 'c': cell = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (min_seconds <= 0) {
		fputs(usage, stderr);
		return 2;
	}
	make_names();

	struct veil_key *key = veil_key_new(raw_key, "bench", 1);
	struct ossl_base ob = { EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL),
				EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_new() };
	if (key == NULL || ob.c == NULL || ob.x == NULL || ob.tmpl == NULL ||
	    EVP_EncryptInit_ex2(ob.tmpl, ob.c, raw_key, NULL, NULL) != 1) {
		fprintf(stderr, "bench: set-up failed: %s\n", strerror(errno));
		return 1;
	}
	/* the baseline does the same work: check it makes the same output */
	{
		uint8_t a[128], b[VEIL_SIV_MAX];
		struct veil_engine *e = veil_engine_new(NULL);
		struct veil_item it = { .in = names[2][0], .in_len = 24, .out = b, .out_cap = sizeof(b) };
		if (e == NULL || ossl_one(&ob, names[2][0], 24, a) != 0 ||
		    veil_siv_encrypt_batch(e, key, VEIL_KIND_USER, &it, 1) != 1 ||
		    memcmp(a, b, it.out_len) != 0) {
			fprintf(stderr, "bench: the OpenSSL baseline disagrees with veil\n");
			return 1;
		}
		veil_engine_free(e);
	}

	if (cell != NULL)
		return run_cell(cell, key);

	double base[N_LENS];
	for (size_t l = 0; l < N_LENS; l++)
		base[l] = run_ossl_baseline(&ob, l);

	struct result res[MAX_ENG];
	unsigned nres = 0;
	struct veil_engine_opts opts[MAX_ENG];
	opts[nres++] = (struct veil_engine_opts){ .backend = VEIL_BACKEND_OPENSSL };
	for (int a = VEIL_ARCH_NOAESNI; a < VEIL_ARCH_COUNT; a++)
		if (veil_arch_supported((enum veil_arch)a))
			opts[nres++] = (struct veil_engine_opts){ .backend = VEIL_BACKEND_IPSECMB,
								  .arch = (enum veil_arch)a };
	for (unsigned r = 0; r < nres; r++) {
		struct veil_engine *e = veil_engine_new(&opts[r]);
		if (e == NULL) {
			fprintf(stderr, "bench: engine: %s\n", strerror(errno));
			return 1;
		}
		memset(&res[r], 0, sizeof(res[r]));
		snprintf(res[r].name, sizeof(res[r].name), "%s", veil_engine_name(e));
		res[r].ipsec = opts[r].backend == VEIL_BACKEND_IPSECMB;
		res[r].arch = opts[r].arch;
		if (res[r].ipsec)
			res[r].ecb = run_ecb_ceiling(opts[r].arch);
		for (size_t l = 0; l < N_LENS; l++)
			for (size_t b = 0; b < N_BATCH; b++) {
				res[r].bin[l][b] = run_engine(e, key, l, batches[b], false);
				res[r].txt[l][b] = run_engine(e, key, l, batches[b], true);
			}
		veil_engine_free(e);
		if (!json)
			fprintf(stderr, "bench: %s done\n", res[r].name);
	}

	/* base32 by path: alone, and inside text tokens of the avx512 engine
	 * (24-byte names, batch 64), the scalar path being the one before
	 * the vector ones */
	double b32[VEIL_B32_PATHS] = { 0 }, txt_path[VEIL_B32_PATHS] = { 0 };
	enum veil_b32_path best = veil_b32_path();
	struct veil_engine_opts o512 = { .backend = VEIL_BACKEND_IPSECMB,
					 .arch = VEIL_ARCH_AVX512 };
	struct veil_engine *e512 = veil_arch_supported(VEIL_ARCH_AVX512)
					   ? veil_engine_new(&o512) : NULL;
	for (int p = 0; p < VEIL_B32_PATHS; p++) {
		if (!veil_b32_path_supported((enum veil_b32_path)p))
			continue;
		b32[p] = run_b32((enum veil_b32_path)p);
		if (e512 != NULL)
			txt_path[p] = run_engine(e512, key, 2, 64, true);
	}
	veil_b32_set_path(best);
	/* the batch loop's padding by path (binary outputs and text tokens,
	 * same cell): the scalar one is the one before the AVX-512 one */
	bool wide = veil_batch_wide();
	double pad_bin[2] = { 0 }, pad_txt[2] = { 0 };
	for (int w = 0; w < 2 && e512 != NULL; w++) {
		if (veil_batch_set_wide(w != 0) != 0)
			continue;
		pad_bin[w] = run_engine(e512, key, 2, 64, false);
		pad_txt[w] = run_engine(e512, key, 2, 64, true);
	}
	veil_batch_set_wide(wide);
	veil_engine_free(e512);

	char cpu[128], date[32];
	time_t t = time(NULL);
	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	const struct result *target = NULL;
	for (unsigned r = 0; r < nres; r++)
		if (res[r].ipsec && res[r].arch == VEIL_ARCH_AVX512)
			target = &res[r];

	if (json) {
		printf("{\"cpu\":\"%s\",\"date\":\"%s\",\"seconds_per_cell\":%g,", cpu, date, min_seconds);
		printf("\"openssl_per_name\":{");
		for (size_t l = 0; l < N_LENS; l++)
			printf("%s\"%zu\":%.0f", l ? "," : "", name_lens[l], base[l]);
		printf("},\"engines\":[");
		for (unsigned r = 0; r < nres; r++) {
			printf("%s{\"engine\":\"%s\",\"ecb_blocks_per_s\":%.0f,\"cells\":[",
			       r ? "," : "", res[r].name, res[r].ecb);
			for (size_t l = 0; l < N_LENS; l++)
				for (size_t b = 0; b < N_BATCH; b++)
					printf("%s{\"name_len\":%zu,\"batch\":%u,\"binary_per_s\":%.0f,"
					       "\"text_per_s\":%.0f}", (l || b) ? "," : "",
					       name_lens[l], batches[b], res[r].bin[l][b], res[r].txt[l][b]);
			printf("]}");
		}
		printf("],\"base32\":{\"chosen\":\"%s\"", veil_b32_path_name(best));
		for (int p = 0; p < VEIL_B32_PATHS; p++)
			if (b32[p] > 0)
				printf(",\"%s\":{\"blobs_per_s\":%.0f,\"text_per_s\":%.0f}",
				       veil_b32_path_name((enum veil_b32_path)p), b32[p], txt_path[p]);
		printf("},\"padding\":{\"chosen\":\"%s\"", wide ? "avx512" : "scalar");
		for (int w = 0; w < 2; w++)
			if (pad_bin[w] > 0)
				printf(",\"%s\":{\"binary_per_s\":%.0f,\"text_per_s\":%.0f}",
				       w ? "avx512" : "scalar", pad_bin[w], pad_txt[w]);
		printf("}}\n");
		return 0;
	}

	printf("veil token engine benchmark, one core\n");
	printf("cpu: %s\ndate: %s, at least %.2f s per cell, names of random letters, bucketing on\n\n",
	       cpu, date, min_seconds);
	printf("baseline (a) OpenSSL AES-128-SIV, one EVP call per name, key set up once:\n");
	for (size_t l = 0; l < N_LENS; l++)
		printf("  %2zu-byte names: %10.0f names/s\n", name_lens[l], base[l]);
	printf("\nbaseline (b) raw ipsec-mb AES-128-ECB on one 65520-byte buffer:\n");
	for (unsigned r = 0; r < nres; r++)
		if (res[r].ipsec)
			printf("  %-16s %10.1f M blocks/s\n", res[r].name, res[r].ecb / 1e6);

	for (int text = 0; text < 2; text++) {
		printf("\n%s per second (x = ratio to baseline a%s):\n",
		       text ? "TEXT TOKENS" : "BINARY SIV OUTPUTS",
		       text ? "" : "; eff = outputs x AES blocks per output / baseline b");
		printf("%-17s %4s %6s %12s %8s%s\n", "engine", "len", "batch", "outputs/s", "x",
		       text ? "" : "     eff");
		for (unsigned r = 0; r < nres; r++)
			for (size_t l = 0; l < N_LENS; l++)
				for (size_t b = 0; b < N_BATCH; b++) {
					double v = text ? res[r].txt[l][b] : res[r].bin[l][b];
					printf("%-17s %4zu %6u %12.0f %7.1fx", res[r].name, name_lens[l],
					       batches[b], v, v / base[l]);
					if (!text && res[r].ipsec && res[r].ecb > 0)
						printf(" %6.1f%%", 100.0 * v * blocks_per_output(name_lens[l]) / res[r].ecb);
					printf("\n");
				}
	}

	printf("\nbase32 by encoder path (used: %s): 52-byte blobs/s alone, and text tokens/s\n"
	       "of ipsec-mb/avx512 for 24-byte names, batch 64:\n", veil_b32_path_name(best));
	for (int p = 0; p < VEIL_B32_PATHS; p++)
		if (b32[p] > 0)
			printf("  %-11s %12.0f blobs/s %12.0f text tokens/s\n",
			       veil_b32_path_name((enum veil_b32_path)p), b32[p], txt_path[p]);

	printf("\nbatch padding by path (used: %s): ipsec-mb/avx512, 24-byte names, batch 64\n",
	       wide ? "avx512" : "scalar");
	for (int w = 0; w < 2; w++)
		if (pad_bin[w] > 0)
			printf("  %-11s %12.0f binary/s %12.0f text tokens/s  AES efficiency %5.1f%%\n",
			       w ? "avx512" : "scalar", pad_bin[w], pad_txt[w],
			       target != NULL && target->ecb > 0
				       ? 100.0 * pad_bin[w] * blocks_per_output(24) / target->ecb
				       : 0.0);

	printf("\ntargets (ipsec-mb/avx512, 24-byte names, batch 64):\n");
	if (target == NULL) {
		printf("  avx512 is not supported on this machine: no target figures\n");
		return 0;
	}
	double bin = target->bin[2][2], txt = target->txt[2][2];
	double eff = bin * blocks_per_output(24) / target->ecb;
	printf("  binary outputs/s  %12.0f = %5.1fx OpenSSL per name (target >= 10x): %s\n",
	       bin, bin / base[2], bin / base[2] >= 10 ? "MET" : "NOT MET");
	printf("  AES efficiency    %11.1f%% of raw ECB (%.1f M blocks/s), %.0f AES blocks per output (target >= 40%%): %s\n",
	       100 * eff, target->ecb / 1e6, blocks_per_output(24), eff >= 0.4 ? "MET" : "NOT MET");
	printf("  text tokens/s     %12.0f = %5.1fx OpenSSL per name (target >= 5x, >= 50 M/s): %s\n",
	       txt, txt / base[2], txt / base[2] >= 5 && txt >= 50e6 ? "MET" : "NOT MET");
	EVP_CIPHER_CTX_free(ob.x);
	EVP_CIPHER_CTX_free(ob.tmpl);
	EVP_CIPHER_free(ob.c);
	veil_key_free(key);
	return 0;
}
