/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl: the admin CLI of veil-controld. Human tables by default, --json
 * for scripts (the daemon's answer as it is). Exit status: 0 done, 1 the
 * daemon refused or something failed (a token that did not resolve, a
 * broken audit chain), 2 usage, 3 the daemon cannot be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "doctor.h"
#include "veil_control.h"
#include "veilctl_pvt.h"
#include "veilctl_text.h"


static const char usage[] =
	"usage: veilctl [--socket PATH] [--json] COMMAND [ARGS] [--json] [--yes]\n"
	"\n"
	"commands:\n"
	"  status                                 daemon, tenants, dataplane link\n"
	"  stats                                  the dataplane's counters (lines,\n"
	"                                         identities, drops by reason)\n"
	"  tenant create TENANT                   new tenant with key version 1\n"
	"  tenant list | tenant show TENANT\n"
	"  tenant lock TENANT | tenant unlock TENANT\n"
	"                                         a locked tenant's tokens are\n"
	"                                         never resolved or looked up\n"
	"  tenant roll-every TENANT DAYS          automatic key roll (0: never)\n"
	"  tenant byok enable|rotate TENANT --key-label L [--key-id HEX] --reason TEXT\n"
	"  tenant byok disable TENANT --reason TEXT\n"
	"  tenant delete TENANT --reason TEXT --yes\n"
	"                                         crypto-shred every version and\n"
	"                                         remove the tenant\n"
	"  tenant export TENANT --public-key PEM --reason TEXT [--out FILE]\n"
	"                                         the live data keys, wrapped\n"
	"                                         RSA-OAEP-SHA256 to PEM (JSON)\n"
	"                                         wrap the tenant's keys under its own\n"
	"                                         RSA key on the [byok] token, or\n"
	"                                         back under the master key\n"
	"  key list TENANT | key roll TENANT      versions; make a new current one\n"
	"  key destroy TENANT VERSION --reason TEXT --yes\n"
	"                                         crypto-shred an old version; the\n"
	"                                         reason (a sentence) is recorded\n"
	"  resolve -t TENANT -j TEXT [--text] [--file F] [TOKEN...]\n"
	"                                         tokens to names (from arguments,\n"
	"                                         a file or stdin; --text finds the\n"
	"                                         tokens in free text)\n"
	"  lookup -t TENANT -j TEXT [-K user|device] [--normalize RULE] NAME\n"
	"                                         the tokens of a name, every live\n"
	"                                         key version\n"
	"  audit show [--since T] [--until T] [--tenant T] [--uid N] [--action A]\n"
	"             [--limit N] [--before SEQ | --after SEQ]\n"
	"                                         one page of the governance log\n"
	"                                         (T: as it prints times,\n"
	"                                         YYYY-MM-DDTHH:MM:SSZ, or\n"
	"                                         YYYY-MM-DD, or ms since 1970)\n"
	"  audit export --csv [filters]           every record as RFC 4180 CSV\n"
	"  audit tokens SEQ                       every token of record SEQ\n"
	"  audit verify                           check the hash chain\n"
	"  role list | role grant (--uid N | --gid N) ROLE [--tenant T] |\n"
	"  role revoke (--uid N | --gid N)        --tenant: the role for that tenant\n"
	"                                         only (once per tenant)\n"
	"  config show                            settings in effect and their source\n"
	"  config set NAME VALUE | config reset NAME\n"
	"                                         change a setting at run time\n"
	"                                         (key_retention_days,\n"
	"                                         audit_retention_days, rate_limit)\n"
	"  backup create --out FILE (--passphrase-file F | --recovery-key PUB.pem)\n"
	"                --reason TEXT\n"
	"                                         the state (database, master key)\n"
	"                                         in one encrypted file; restore:\n"
	"                                         veil-controld --restore\n"
	"  doctor [-c FILE]                       is this host fit to run veil?\n"
	"                                         (hugepages, NICs, CPU, clock, ...)\n"
	"\n"
	"options:\n"
	"  --socket PATH   controld's socket (default " VEIL_DEFAULT_SOCKET ", or $VEIL_SOCKET)\n"
	"  --json          print the daemon's JSON answer\n"
	"  --yes           confirm an irreversible command (key destroy)\n"
	"  -h, --help      this text (COMMAND --help: that command's usage)\n"
	"\n"
	"--socket, --json and --yes go before or after the command.\n"
	"\n"
	"exit status: 0 done, 1 refused or failed, 2 usage, 3 daemon unreachable\n";

static const char *socket_path;
bool json_out, confirmed;

/* A string field as the daemon sent it (CSV, requests). */
const char *raw(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* A string field for human output: escaped. */
const char *str(json_t *o, const char *k)
{
	return esc(raw(o, k));
}

static int connect_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* After EACCES on the socket: who may open it, and how to be one of them. */
static void access_hint(void)
{
	struct stat st;
	if (stat(socket_path, &st) != 0) {
		fprintf(stderr, "veilctl: a directory on the way to it is closed to you "
			"(%s)\n", strerror(errno));
		return;
	}
	struct group *g = getgrgid(st.st_gid);
	char gid[16];
	snprintf(gid, sizeof(gid), "%u", (unsigned)st.st_gid);
	const char *name = g != NULL ? g->gr_name : gid;
	if (st.st_mode & 060)
		fprintf(stderr, "veilctl: the socket is open to group %s: add the user "
			"to it (usermod -aG %s USER, then log in again) or run veilctl "
			"as a member\n", esc(name), esc(name));
	else
		fprintf(stderr, "veilctl: the socket is open to its owner only (mode "
			"%03o; socket_group in veil.conf opens it to a group)\n",
			(unsigned)(st.st_mode & 0777));
}

/* The request's length with a file descriptor beside it (SCM_RIGHTS). */
static int write_len_with_fd(int sock, size_t len, int fd)
{
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			   (uint8_t)(len >> 8), (uint8_t)len };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { hdr, 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	ssize_t w;
	while ((w = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return w == 4 ? 0 : -1;
}

/* Send req (consumed), return the answer or exit with a message. */
json_t *call(json_t *req)
{
	return call_fd(req, -1);
}

/* As call, with the file fd passed along (fd < 0: none). */
json_t *call_fd(json_t *req, int pass)
{
	int fd = connect_daemon();
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "veilctl: cannot reach veil-controld at %s: %s\n",
			esc(socket_path), strerror(e));
		if (e == EACCES)
			access_hint();
		exit(EXIT_UNREACHABLE);
	}
	char *s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	char *ans;
	size_t len;
	int sent = s == NULL ? -1 : pass < 0 ? veil_api_write(fd, s, strlen(s)) :
		   write_len_with_fd(fd, strlen(s), pass) != 0 ? -1 :
		   veil_api_write_body(fd, s, strlen(s));
	if (s != NULL)
		explicit_bzero(s, strlen(s)); /* a passphrase, a name */
	if (sent != 0 || veil_api_read(fd, &ans, &len) != 0) {
		fprintf(stderr, "veilctl: talking to veil-controld: %s\n", strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
	free(s);
	close(fd);
	json_error_t e;
	json_t *a = json_loadb(ans, len, 0, &e);
	free(ans);
	if (a == NULL) {
		fprintf(stderr, "veilctl: the daemon's answer is not JSON\n");
		exit(EXIT_FAILED);
	}
	return a;
}

/* Print --json, or the error; return whether the answer is ok. */
bool common(json_t *a)
{
	if (json_out) {
		json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	}
	if (!json_is_true(json_object_get(a, "ok"))) {
		fprintf(stderr, "veilctl: %s\n", str(a, "error"));
		return false;
	}
	return true;
}

int fail(json_t *a)
{
	json_decref(a);
	return EXIT_FAILED;
}

long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

void fmt_time(long long ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A time as fmt_time prints it (UTC), a day (its start, UTC), or
 * milliseconds since 1970. */
int parse_time(const char *s, long long *ms)
{
	struct tm tm = { 0 };
	const char *e;
	char *end;
	if (strlen(s) == 20 && (e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL &&
	    *e == '\0') {
		*ms = (long long)timegm(&tm) * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (strlen(s) == 10 && (e = strptime(s, "%Y-%m-%d", &tm)) != NULL && *e == '\0') {
		*ms = (long long)timegm(&tm) * 1000;
		return 0;
	}
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	*ms = strtoll(s, &end, 10);
	return errno ? -1 : 0;
}

#define TOKENS_SHOWN 20

/* The tokens of a record (its JSON array text, the first of a long list):
 * the first TOKENS_SHOWN, and how many more there are (total: the
 * record's tokens_total, 0 if it does not say). */
void print_tokens(const char *text, long long seq, size_t total)
{
	json_t *t = json_loads(text, 0, NULL);
	size_t n = json_array_size(t);
	char c[32];
	if (!json_is_array(t)) {
		printf("    tokens: %s\n", esc(text));
		json_decref(t);
		return;
	}
	if (total < n)
		total = n;
	fputs("    tokens:", stdout);
	for (size_t i = 0; i < n && i < TOKENS_SHOWN; i++)
		printf(" %s", esc(json_string_value(json_array_get(t, i))));
	putchar('\n');
	if (total > TOKENS_SHOWN)
		printf("    \u2026and %s more tokens (veilctl audit tokens %lld lists "
		       "them all)\n", thousands(total - TOKENS_SHOWN, c), seq);
	json_decref(t);
}

/* Whole input of a file or stdin. */
static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
	}
	*len = n;
	return buf;
}

static int cmd_resolve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "justification", required_argument, NULL, 'j' },
		{ "file", required_argument, NULL, 'f' },
		{ "text", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *just = NULL, *file = NULL;
	bool text = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:j:f:", lo, NULL)) != -1) {
		switch (c) {
		case 't': tenant = optarg; break;
		case 'j': just = optarg; break;
		case 'f': file = optarg; break;
		case 'x': text = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (tenant == NULL || just == NULL) {
		fputs("usage: veilctl resolve -t TENANT -j JUSTIFICATION [--text] "
		      "[--file F] [TOKEN...]\n", stderr);
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{s:s, s:s, s:s}", "cmd", "resolve", "tenant", tenant,
				"justification", just);
	if (optind < argc && text) {
		/* the arguments are one text, as the shell split it */
		size_t len = 0;
		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		char *buf = calloc(1, len + 1);
		if (buf == NULL)
			return EXIT_FAILED;
		for (int i = optind; i < argc; i++) {
			strcat(buf, argv[i]);
			strcat(buf, " ");
		}
		json_object_set_new(req, "text", json_string(buf));
		free(buf);
	} else if (optind < argc) {
		json_t *toks = json_array();
		for (int i = optind; i < argc; i++)
			json_array_append_new(toks, json_string(argv[i]));
		json_object_set_new(req, "tokens", toks);
	} else {
		FILE *f = file ? fopen(file, "r") : stdin;
		size_t len;
		char *buf = f ? slurp(f, &len) : NULL;
		if (buf == NULL) {
			fprintf(stderr, "veilctl: %s: %s\n", file ? file : "stdin", strerror(errno));
			return EXIT_FAILED;
		}
		if (file)
			fclose(f);
		if (text)
			json_object_set_new(req, "text", json_stringn_nocheck(buf, len));
		else {
			json_t *toks = json_array();
			char *save = NULL;
			buf[len < 1 ? 0 : len] = '\0';
			for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
				json_array_append_new(toks, json_string(t));
			json_object_set_new(req, "tokens", toks);
		}
		free(buf);
	}
	/* the answer is by column, in the order of the tokens sent (or, for
	 * a text, of the "tokens" it found) */
	json_t *sent = json_incref(json_object_get(req, "tokens"));
	json_t *a = call(req);
	if (!common(a)) {
		json_decref(sent);
		return fail(a);
	}
	json_t *toks = json_object_get(a, "tokens") ? json_object_get(a, "tokens") : sent;
	json_t *names = json_object_get(a, "names"), *errs = json_object_get(a, "errors");
	json_t *msgs = json_object_get(a, "messages");
	for (size_t i = 0; !json_out && i < json_array_size(toks); i++) {
		const char *tok = json_string_value(json_array_get(toks, i));
		json_t *nm = json_array_get(names, i);
		const char *err = json_string_value(json_array_get(errs, i));
		if (err != NULL)
			printf("%s\t!%s: %s\n", esc(tok), esc(err), str(msgs, err));
		else if (json_is_object(nm))
			printf("%s\thex:%s\n", esc(tok), str(nm, "hex"));
		else
			printf("%s\t%s\n", esc(tok), esc(json_string_value(nm)));
	}
	int rc = num(a, "failed") == 0 ? EXIT_OK : EXIT_FAILED;
	json_decref(sent);
	json_decref(a);
	return rc;
}

/* --normalize RULE: one rule, or "all" for the four (none, lower,
 * strip_domain, lower,strip_domain); controld checks the names. */
static void add_rule(json_t *rules, const char *r)
{
	static const char *const all[] = { "none", "lower", "strip_domain",
					   "lower,strip_domain" };
	if (strcmp(r, "all") != 0) {
		json_array_append_new(rules, json_string(r));
		return;
	}
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		json_array_append_new(rules, json_string(all[i]));
}

static int cmd_lookup(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "justification", required_argument, NULL, 'j' },
		{ "kind", required_argument, NULL, 'K' },
		{ "normalize", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *just = NULL, *kind = "user";
	json_t *rules = json_array();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:j:K:", lo, NULL)) != -1) {
		switch (c) {
		case 't': tenant = optarg; break;
		case 'j': just = optarg; break;
		case 'K': kind = optarg; break;
		case 'N': add_rule(rules, optarg); break;
		default: json_decref(rules); return EXIT_USAGE;
		}
	}
	if (tenant == NULL || just == NULL || optind != argc - 1) {
		fputs("usage: veilctl lookup -t TENANT -j JUSTIFICATION [-K user|device] "
		      "[--normalize RULE]... NAME\n", stderr);
		json_decref(rules);
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cmd", "lookup", "tenant",
				tenant, "justification", just, "kind", kind, "name",
				argv[optind]);
	if (json_array_size(rules) > 0)
		json_object_set(req, "normalize", rules);
	json_decref(rules);
	json_t *a = call(req);
	if (!common(a))
		return fail(a);
	size_t i, k;
	json_t *t, *r;
	/* one line a token: its version, the token, the rules that spell the
	 * name as it was encrypted, and that spelling */
	if (!json_out)
		json_array_foreach(json_object_get(a, "tokens"), i, t) {
			printf("v%lld\t%s\t", num(t, "version"), str(t, "token"));
			json_array_foreach(json_object_get(t, "rules"), k, r)
				printf("%s%s", k ? " " : "", json_string_value(r));
			json_t *nm = json_object_get(t, "name");
			if (json_is_object(nm))
				printf("\thex:%s\n", str(nm, "hex"));
			else
				printf("\t%s\n", esc(json_string_value(nm)));
		}
	json_decref(a);
	return EXIT_OK;
}

static int cmd_role(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "list")) {
		json_t *a = call(json_pack("{s:s}", "cmd", "role.list"));
		if (!common(a))
			return fail(a);
		size_t i;
		json_t *r;
		if (!json_out) {
			printf("%-5s %-10s %-13s %-9s %s\n", "TYPE", "ID", "ROLE", "SOURCE",
			       "TENANTS");
			json_array_foreach(json_object_get(a, "roles"), i, r) {
				printf("%-5s %-10lld %-13s %-9s ", str(r, "type"), num(r, "id"),
				       str(r, "role"), str(r, "source"));
				size_t j;
				json_t *tn;
				json_array_foreach(json_object_get(r, "tenants"), j, tn)
					printf("%s%s", j ? "," : "", esc(json_string_value(tn)));
				printf("%s\n", json_array_size(json_object_get(r, "tenants"))
				       ? "" : "all");
			}
		}
		json_decref(a);
		return EXIT_OK;
	}
	bool grant = argc >= 2 && !strcmp(argv[1], "grant");
	if (argc >= 4 && (grant || !strcmp(argv[1], "revoke")) &&
	    (!strcmp(argv[2], "--uid") || !strcmp(argv[2], "--gid")) &&
	    (argc == (grant ? 5 : 4) || (grant && argc == 7 && !strcmp(argv[5], "--tenant")))) {
		char *end;
		long long id = strtoll(argv[3], &end, 10);
		if (*end || id < 0) {
			fprintf(stderr, "veilctl: bad id \"%s\"\n", esc(argv[3]));
			return EXIT_USAGE;
		}
		json_t *req = json_pack("{s:s, s:I}", "cmd", grant ? "role.grant" : "role.revoke",
					argv[2] + 2, (json_int_t)id);
		if (grant)
			json_object_set_new(req, "role", json_string(argv[4]));
		if (grant && argc == 7)
			json_object_set_new(req, "tenant", json_string(argv[6]));
		json_t *a = call(req);
		if (!common(a))
			return fail(a);
		if (!json_out)
			printf("%s %s:%lld%s%s%s%s\n", grant ? "granted" : "revoked", argv[2] + 2,
			       id, grant ? " role " : "", grant ? esc(argv[4]) : "",
			       argc == 7 ? " for tenant " : "", argc == 7 ? esc(argv[6]) : "");
		json_decref(a);
		return EXIT_OK;
	}
	fputs("usage: veilctl role list | role grant (--uid N | --gid N) ROLE | "
	      "role revoke (--uid N | --gid N)\n", stderr);
	return EXIT_USAGE;
}

static int cmd_config(int argc, char **argv)
{
	json_t *req = NULL;
	if (argc == 2 && !strcmp(argv[1], "show"))
		req = json_pack("{s:s}", "cmd", "config.show");
	else if (argc == 4 && !strcmp(argv[1], "set")) {
		char *end;
		long long v = strtoll(argv[3], &end, 10);
		if (*end != '\0' || end == argv[3]) {
			fprintf(stderr, "veilctl: \"%s\" is not a number\n", esc(argv[3]));
			return EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s, s:I}", "cmd", "config.set", "name", argv[2],
				"value", (json_int_t)v);
	} else if (argc == 3 && !strcmp(argv[1], "reset"))
		req = json_pack("{s:s, s:s, s:n}", "cmd", "config.set", "name", argv[2],
				"value");
	if (req == NULL) {
		fputs("usage: veilctl config show | config set NAME VALUE | "
		      "config reset NAME\n", stderr);
		return EXIT_USAGE;
	}
	json_t *a = call(req);
	if (!common(a))
		return fail(a);
	size_t i;
	json_t *v;
	if (!json_out) {
		printf("%-22s %-10s %-8s %s\n", "SETTING", "VALUE", "SOURCE", "IN THE FILE");
		json_array_foreach(json_object_get(a, "settings"), i, v)
			printf("%-22s %-10lld %-8s %lld\n", str(v, "name"), num(v, "value"),
			       str(v, "source"), num(v, "file_value"));
	}
	json_decref(a);
	return EXIT_OK;
}

/* The link line of status: what the daemon knows now, never an old
 * "synced" (a dataplane that left is shown as gone). */
static void print_link(json_t *l)
{
	bool seen = json_is_integer(json_object_get(l, "pid"));
	json_t *ago = json_object_get(l, "last_contact_ms_ago");
	if (json_is_true(json_object_get(l, "connected")))
		printf("dataplane: connected, %s, pid %lld (uid %lld), last contact "
		       "%lld ms ago", json_is_true(json_object_get(l, "synced"))
		       ? "synced" : "NOT synced (keys not all sent yet)",
		       num(l, "pid"), num(l, "uid"), num(l, "last_contact_ms_ago"));
	else if (seen && json_is_true(json_object_get(l, "silent")))
		printf("dataplane: SILENT (the last one, pid %lld uid %lld, sent "
		       "nothing for longer than dataplane_watchdog and was dropped "
		       "%lld s ago; is it stopped or hung?)", num(l, "pid"),
		       num(l, "uid"),
		       json_is_integer(ago) ? num(l, "last_contact_ms_ago") / 1000 : 0);
	else if (seen)
		printf("dataplane: NOT connected (the last one, pid %lld uid %lld, "
		       "left %lld s ago)", num(l, "pid"), num(l, "uid"),
		       json_is_integer(ago) ? num(l, "last_contact_ms_ago") / 1000 : 0);
	else
		printf("dataplane: NOT connected (none since the start)");
	printf("; link %s", str(l, "socket"));
	if (num(l, "refused_peers") > 0)
		printf("; %lld connections REFUSED (not the dataplane's uid; last "
		       "uid %lld)", num(l, "refused_peers"), num(l, "last_refused_uid"));
	if (num(l, "refused_busy") > 0)
		printf("; %lld refused while one was connected",
		       num(l, "refused_busy"));
	if (num(l, "silent_drops") > 0)
		printf("; %lld dropped for silence", num(l, "silent_drops"));
	putchar('\n');
}

static int cmd_status(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return EXIT_USAGE;
	json_t *a = call(json_pack("{s:s}", "cmd", "status"));
	if (!common(a))
		return fail(a);
	if (!json_out) {
		printf("veil-controld %s, up %llds, %lld tenants, crypto %s, %lld audit "
		       "records (%lld commits since start); you are %s\n",
		       str(a, "version"), num(a, "uptime_s"), num(a, "tenants"),
		       str(a, "crypto"), num(a, "audit_records"), num(a, "audit_commits"),
		       str(a, "role"));
		print_link(json_object_get(a, "dataplane"));
		const char *mk = raw(a, "master_key");
		if (mk[0] != '\0' && strcmp(mk, "ok") != 0 && strcmp(mk, "unchecked") != 0)
			printf("master key: %s since %s: a restart would fail; put the "
			       "file back (the log says which)\n", esc(mk),
			       str(a, "master_key_since"));
		else if (mk[0] != '\0')
			printf("master key: %s (since %s)\n", esc(mk), str(a, "master_key_since"));
		print_net_status(a);
	}
	json_decref(a);
	return EXIT_OK;
}

static int cmd_stats(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fputs(help_stats, stderr);
		return EXIT_USAGE;
	}
	json_t *a = call(json_pack("{s:s}", "cmd", "stats"));
	if (!common(a))
		return fail(a);
	json_t *workers = json_object_get(a, "workers");
	if (!json_out) {
		size_t i;
		json_t *w;
		printf("dataplane %s on link %s; %zu worker%s reporting\n",
		       json_is_true(json_object_get(a, "dataplane_synced")) ? "synced"
									     : "not connected",
		       str(a, "link"), json_array_size(workers),
		       json_array_size(workers) == 1 ? "" : "s");
		if (json_array_size(workers) > 0)
			printf("%-6s %12s %12s %10s %8s %11s %12s %14s %14s  %s\n", "WORKER",
			       "LINES IN", "WRITTEN", "DROPPED", "HELD", "NOT WRITTEN",
			       "IDENTITIES", "BYTES IN", "BYTES OUT", "UPDATED");
		long long now = (long long)time(NULL) * 1000;
		json_array_foreach(workers, i, w) {
			json_t *c = json_object_get(w, "counters");
			printf("%-6lld %12lld %12lld %10lld %8lld %11lld %12lld %14lld %14lld  %llds ago\n",
			       num(w, "worker"), num(c, "lines_in"), num(c, "lines_out"),
			       num(c, "lines_dropped"), num(c, "lines_held"),
			       num(c, "lines_not_written"), num(c, "identities"), num(c, "bytes_in"), num(c, "bytes_out"),
			       (now - num(w, "updated_ms")) / 1000);
		}
		json_t *drops = json_object_get(json_object_get(a, "totals"), "dropped");
		const char *k;
		json_t *v;
		const char *sep = "dropped by reason: ";
		json_object_foreach(drops, k, v)
			if (json_integer_value(v) > 0) {
				printf("%s%s %lld", sep, k, json_integer_value(v));
				sep = ", ";
			}
		if (strcmp(sep, ", ") == 0)
			putchar('\n');
		print_net_stats(a);
	}
	json_decref(a);
	return EXIT_OK;
}

/* An option that takes a value: the next argument is its value, never
 * one of veilctl's own (-j --json is a justification). */
static bool takes_value(const char *a)
{
	static const char *const with_value[] = {
		"-t", "-j", "-f", "-K", "--tenant", "--justification", "--file",
		"--since", "--until", "--uid", "--gid", "--action", "--limit",
		"--socket", "--reason", "--key-label", "--key-id", "--public-key", "--out",
		"--passphrase-file", "--recovery-key",
	};
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (!strcmp(a, with_value[i]))
			return true;
	return false;
}

/* --json, --yes, --socket PATH (or --socket=PATH) at argv[*i]: take it
 * (moving *i past a value) and return true. */
static bool global_option(int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--json"))
		json_out = true;
	else if (!strcmp(a, "--yes"))
		confirmed = true;
	else if (!strncmp(a, "--socket=", 9))
		socket_path = a + 9;
	else if (!strcmp(a, "--socket") && *i + 1 < argc)
		socket_path = argv[++*i];
	else
		return false;
	return true;
}

/* Irreversible commands run only with --yes; without it, say what would
 * be lost and how to confirm (no prompt: scripts and CI have no terminal).
 * Returns true if the command may run. */
static bool confirmed_or_told(int argc, char **argv)
{
	const char *pos[4];
	int n = 0;
	if (!confirmed && argc >= 3 && !strcmp(argv[0], "tenant") &&
	    !strcmp(argv[1], "delete")) {
		fprintf(stderr, "veilctl: not done: tenant delete crypto-shreds every key "
			"version of tenant %s and removes it: its tokens never resolve "
			"again, and nothing can undo it.\nveilctl: to delete it, add --yes: "
			"veilctl tenant delete %s --reason \"WHY (a sentence)\" --yes\n",
			esc(argv[2]), esc(argv[2]));
		return false;
	}
	if (confirmed || argc < 2 || strcmp(argv[0], "key") || strcmp(argv[1], "destroy"))
		return true;
	for (int i = 2; i < argc && n < 4; i++) {
		if (argv[i][0] == '-') {
			i += takes_value(argv[i]); /* and its value */
			continue;
		}
		pos[n++] = argv[i];
	}
	if (n != 2)
		return true; /* a usage error: the command says it */
	fprintf(stderr, "veilctl: not done: key destroy crypto-shreds key version %s of "
		"tenant %s: its tokens never resolve again, and nothing can undo it.\n"
		"veilctl: to destroy it, add --yes: veilctl key destroy %s %s "
		"--reason \"WHY (a sentence)\" --yes\n",
		esc(pos[1]), esc(pos[0]), esc(pos[0]), esc(pos[1]));
	return false;
}

static int cmd_doctor(int argc, char **argv)
{
	return veilctl_doctor(argc, argv, socket_path, json_out);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
		const char *help;
	} cmds[] = {
		{ "status", cmd_status, help_status }, { "stats", cmd_stats, help_stats },
		{ "tenant", cmd_tenant, help_tenant }, { "key", cmd_key, help_key },
		{ "resolve", cmd_resolve, help_resolve }, { "lookup", cmd_lookup, help_lookup },
		{ "audit", cmd_audit, help_audit }, { "role", cmd_role, help_role },
		{ "config", cmd_config, help_config }, { "doctor", cmd_doctor, help_doctor },
		{ "backup", cmd_backup, help_backup },
	};
	socket_path = getenv("VEIL_SOCKET") ? getenv("VEIL_SOCKET") : VEIL_DEFAULT_SOCKET;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (global_option(argc, argv, &i))
			continue;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		fprintf(stderr, "veilctl: unknown option \"%s\"\n%s", esc(argv[i]), usage);
		return EXIT_USAGE;
	}
	if (i == argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	size_t k = 0, ncmds = sizeof(cmds) / sizeof(cmds[0]);
	while (k < ncmds && strcmp(argv[i], cmds[k].name))
		k++;
	if (k == ncmds) {
		fprintf(stderr, "veilctl: unknown command \"%s\"\n%s", esc(argv[i]), usage);
		return EXIT_USAGE;
	}
	/* the command's arguments, without the options that may follow it
	 * (--json, --socket, --yes) and with --help asking for its help */
	char **args = calloc((size_t)(argc - i + 1), sizeof(char *));
	int n = 0;
	bool help = false, dashdash = false;
	if (args == NULL)
		return EXIT_FAILED;
	args[n++] = argv[i];
	for (int j = i + 1; j < argc; j++) {
		if (!dashdash) {
			if (!strcmp(argv[j], "--"))
				dashdash = true;
			else if (global_option(argc, argv, &j))
				continue;
			else if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
				help = true;
				continue;
			} else if (takes_value(argv[j]) && j + 1 < argc)
				args[n++] = argv[j++];
		}
		args[n++] = argv[j];
	}
	int rc;
	if (help) {
		fputs(cmds[k].help, stdout);
		rc = EXIT_OK;
	} else if (!confirmed_or_told(n, args))
		rc = EXIT_USAGE;
	else
		rc = cmds[k].fn(n, args);
	free(args);
	return rc;
}
