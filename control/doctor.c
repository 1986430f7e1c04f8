/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl doctor: is this host fit to run veil, and if not, what to do.
 * Each check reads what the kernel and the CPU say (CPUID, /sys, /proc,
 * adjtimex, statvfs) and the configuration file veil reads; none changes
 * anything. A check is ok, warn (veil runs, but not as it should on an
 * appliance) or fail (it will not run, or not the way the config asks).
 */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "doctor.h"
#include "veil_control.h"
#include "veil_crypto.h"

const char help_doctor[] =
	"usage: veilctl doctor [-c FILE] [--json]\n"
	"Check that this host is fit to run veil: AES-NI/VAES and the ipsec-mb\n"
	"architecture, hugepages, IOMMU, the NICs bound to DPDK and the ones the\n"
	"config names, the memlock limit, isolated CPUs, clock sync, the state\n"
	"directory's free space, and that veil-controld answers. Each line says\n"
	"ok, warn or fail and what to do. Exit status 1 if any check fails.\n"
	"  -c FILE  the configuration (default " VEIL_DEFAULT_CONFIG "; a missing\n"
	"           default file is taken as the defaults)\n";

enum status { OK, WARN, FAIL };
static const char *const status_name[] = { "ok", "warn", "fail" };

struct report {
	json_t *checks;
	bool failed;
};

/* One check's result: what was found (detail) and, unless ok, what to do. */
static void add(struct report *r, const char *check, enum status st, const char *fix,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add(struct report *r, const char *check, enum status st, const char *fix,
		const char *fmt, ...)
{
	char detail[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_array_append_new(r->checks, json_pack("{s:s, s:s, s:s, s:s}", "check", check,
						   "status", status_name[st], "detail", detail,
						   "fix", st == OK || fix == NULL ? "" : fix));
	if (st == FAIL)
		r->failed = true;
}

/* ---- what the config file says (only what the checks need) ---- */

#define MAX_PORTS 16

struct doc_config {
	char path[256];
	bool read;                 /* the file was there and parsed */
	char state_dir[200];
	char socket[108];
	char driver[16];           /* [network] driver, "" without one */
	unsigned n_ports;
	char port_name[MAX_PORTS][64];
	char port_device[MAX_PORTS][64];
	unsigned key_cache;
	char msg[160];
};

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct doc_config *c = user;
	if (!strcmp(section, "controld")) {
		if (!strcmp(name, "state_dir"))
			snprintf(c->state_dir, sizeof(c->state_dir), "%s", value);
		else if (!strcmp(name, "socket"))
			snprintf(c->socket, sizeof(c->socket), "%s", value);
		else if (!strcmp(name, "key_cache"))
			c->key_cache = (unsigned)strtoul(value, NULL, 10);
	} else if (!strcmp(section, "network") && !strcmp(name, "driver")) {
		snprintf(c->driver, sizeof(c->driver), "%s", value);
	} else if (!strncmp(section, "port ", 5) && !strcmp(name, "device")) {
		if (c->n_ports == MAX_PORTS) {
			snprintf(c->msg, sizeof(c->msg), "more than %d [port] sections",
				 MAX_PORTS);
			return 0;
		}
		snprintf(c->port_name[c->n_ports], sizeof(c->port_name[0]), "%s",
			 section + 5);
		snprintf(c->port_device[c->n_ports], sizeof(c->port_device[0]), "%s", value);
		c->n_ports++;
	}
	return 1;
}

/* -1 with err when the file cannot be read or parsed; a missing default
 * file is the defaults (the package ships one; a build tree has none). */
static int read_config(struct doc_config *c, const char *path, bool is_default,
		       char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/veil");
	snprintf(c->socket, sizeof(c->socket), "%s", VEIL_DEFAULT_SOCKET);
	c->key_cache = 4096;
	if (is_default && access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if (veil_ini_parse(path, on_key, c, c->msg, err, errlen) != 0)
		return -1;
	c->read = true;
	return 0;
}

/* ---- the checks ---- */

static void check_cpu(struct report *r)
{
	unsigned a, b, c, d;
	bool aes = false, vaes = false, vpclmul = false, avx512 = false;
	if (__get_cpuid(1, &a, &b, &c, &d))
		aes = c & bit_AES;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		vaes = c & (1u << 9);
		vpclmul = c & (1u << 10);
		avx512 = b & bit_AVX512F;
	}
	/* the engine controld and the dataplane make, with the same
	 * VEIL_CRYPTO / VEIL_CRYPTO_ARCH they would read */
	char err[160] = "", engine[64] = "none";
	struct veil_engine_opts o;
	struct veil_engine *e = NULL;
	if (veil_engine_opts_from_env(&o, err, sizeof(err)) == 0 &&
	    (e = veil_engine_new(&o)) != NULL)
		snprintf(engine, sizeof(engine), "%s", veil_engine_name(e));
	else if (err[0] == '\0')
		snprintf(err, sizeof(err), "%s", strerror(errno));
	veil_engine_free(e);
	char have[96];
	snprintf(have, sizeof(have), "AES-NI %s, VAES %s, VPCLMULQDQ %s, AVX-512F %s",
		 aes ? "yes" : "no", vaes ? "yes" : "no", vpclmul ? "yes" : "no",
		 avx512 ? "yes" : "no");
	if (e == NULL)
		add(r, "cpu_crypto", FAIL, "check VEIL_CRYPTO and VEIL_CRYPTO_ARCH in the "
		    "environment, and the memlock limit", "%s; no crypto engine: %s", have, err);
	else if (!aes || strncmp(engine, "ipsec-mb/", 9) != 0 ||
		 !strcmp(engine, "ipsec-mb/noaesni"))
		add(r, "cpu_crypto", FAIL, "run veil on a CPU with AES-NI (a VM: pass the "
		    "host CPU through, e.g. qemu -cpu host)", "%s; engine %s: software AES, "
		    "a fraction of the rate", have, engine);
	else if (!vaes)
		add(r, "cpu_crypto", WARN, "a CPU with VAES (Ice Lake, Zen 3 or newer) "
		    "encrypts several blocks per instruction", "%s; engine %s", have, engine);
	else
		add(r, "cpu_crypto", OK, NULL, "%s; engine %s", have, engine);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Is a file system of this type mounted? Its mount point in dir. */
static bool mounted(const char *type, char *dir, size_t dirlen)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[1024], mdir[512], mtype[64];
	bool found = false;
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %511s %63s", mdir, mtype) == 2 && !strcmp(mtype, type)) {
			snprintf(dir, dirlen, "%s", mdir);
			found = true;
		}
	fclose(f);
	return found;
}

static void check_hugepages(struct report *r, const struct doc_config *c)
{
	const char *base = "/sys/kernel/mm/hugepages";
	DIR *d = opendir(base);
	struct dirent *de;
	long long bytes = 0;
	char sizes[256] = "";
	size_t n = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		long kb;
		if (sscanf(de->d_name, "hugepages-%ldkB", &kb) != 1)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s/nr_hugepages", base, de->d_name);
		long pages = read_long(path);
		if (pages > 0) {
			bytes += (long long)pages * kb * 1024;
			n += (size_t)snprintf(sizes + n, n < sizeof(sizes) ? sizeof(sizes) - n : 0,
					      "%s%ld x %ld kB", n ? ", " : "", pages, kb);
		}
	}
	if (d != NULL)
		closedir(d);
	char dir[512];
	bool mnt = mounted("hugetlbfs", dir, sizeof(dir));
	/* only the dpdk driver needs them: elsewhere their absence is a warning */
	enum status need = !strcmp(c->driver, "dpdk") ? FAIL : WARN;
	const char *fix = "reserve them: echo 512 > /sys/kernel/mm/hugepages/"
			  "hugepages-2048kB/nr_hugepages, and for every boot "
			  "vm.nr_hugepages = 512 in /etc/sysctl.d/veil-hugepages.conf (docs/operations.md)";
	if (bytes == 0)
		add(r, "hugepages", need, fix, "no hugepages reserved%s", mnt ? "" : ", hugetlbfs not mounted");
	else if (!mnt)
		add(r, "hugepages", need, "mount hugetlbfs: mount -t hugetlbfs nodev /dev/hugepages "
		    "(systemd's dev-hugepages.mount does at boot)", "%s reserved (%lld MiB), "
		    "but hugetlbfs is not mounted", sizes, bytes >> 20);
	else
		add(r, "hugepages", OK, NULL, "%s reserved (%lld MiB), hugetlbfs on %s", sizes,
		    bytes >> 20, dir);
}

static bool dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool any = false;
	while (d != NULL && !any && (de = readdir(d)) != NULL)
		any = de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return any;
}

static void check_iommu(struct report *r, const struct doc_config *c)
{
	FILE *f = fopen("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "r");
	char v = 'N';
	if (f != NULL) {
		if (fread(&v, 1, 1, f) != 1)
			v = 'N';
		fclose(f);
	}
	enum status need = !strcmp(c->driver, "dpdk") ? FAIL : WARN;
	if (dir_has_entries("/sys/kernel/iommu_groups"))
		add(r, "iommu", OK, NULL, "IOMMU on: vfio-pci isolates the ports");
	else if (v == 'Y')
		add(r, "iommu", WARN, "turn the IOMMU on in firmware and the kernel "
		    "(intel_iommu=on or amd_iommu=on) where the machine has one",
		    "no IOMMU; vfio in no-IOMMU mode: the dataplane's ports may DMA "
		    "anywhere (needs CAP_SYS_RAWIO)");
	else
		add(r, "iommu", need, "turn the IOMMU on (intel_iommu=on / amd_iommu=on), or "
		    "where there is none (a VM): driverctl set-override ADDRESS "
		    "uio_pci_generic (Debian's kernel has no vfio no-IOMMU mode)",
		    "no IOMMU and vfio's no-IOMMU mode is off: vfio-pci cannot take a port");
}

static bool dpdk_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "uio_pci_generic") ||
	       !strcmp(drv, "igb_uio");
}

/* The driver a PCI device is bound to ("" if none); false if no such device. */
static bool pci_driver(const char *addr, char *drv, size_t len)
{
	char path[300], link[512];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", addr);
	if (access(path, F_OK) != 0)
		return false;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", addr);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	drv[0] = '\0';
	if (n > 0) {
		link[n] = '\0';
		const char *slash = strrchr(link, '/');
		snprintf(drv, len, "%.63s", slash ? slash + 1 : link);
	}
	return true;
}

/* A PCI address as DPDK's -a takes it: DDDD:BB:DD.F, or BB:DD.F (domain 0). */
static bool pci_address(const char *s, char *full, size_t len)
{
	unsigned dom = 0, bus, dev, fn;
	char end;
	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &end) == 4 ||
	    (dom = 0, sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &end) == 3)) {
		snprintf(full, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
		return true;
	}
	return false;
}

static void check_nics(struct report *r, const struct doc_config *c)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;
	char bound[512] = "", kernel[512] = "";
	size_t nb = 0, nk = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[300], drv[64];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class", de->d_name);
		long cls = -1; /* "0x020000": a network controller is 0x02xxxx */
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			if (fscanf(f, "%lx", &cls) != 1)
				cls = -1;
			fclose(f);
		}
		if (cls < 0 || (cls >> 16) != 0x02 || !pci_driver(de->d_name, drv, sizeof(drv)))
			continue; /* not a network controller */
		if (dpdk_driver(drv))
			nb += (size_t)snprintf(bound + nb, nb < sizeof(bound) ? sizeof(bound) - nb : 0,
					       "%s%s (%s)", nb ? ", " : "", de->d_name, drv);
		else
			nk += (size_t)snprintf(kernel + nk, nk < sizeof(kernel) ? sizeof(kernel) - nk : 0,
					       "%s%s (%s)", nk ? ", " : "", de->d_name,
					       drv[0] ? drv : "no driver");
	}
	if (d != NULL)
		closedir(d);
	char seen[1100];
	snprintf(seen, sizeof(seen), "bound to DPDK: %s; kernel: %s",
		 nb ? bound : "none", nk ? kernel : "none");
	/* the ports the config names: each must be there and bound */
	char bad[512] = "";
	size_t nbad = 0;
	unsigned pci_ports = 0;
	for (unsigned i = 0; i < c->n_ports; i++) {
		char addr[32], drv[64];
		if (!pci_address(c->port_device[i], addr, sizeof(addr)))
			continue; /* a vdev (net_pcap0, ...) */
		pci_ports++;
		if (!pci_driver(addr, drv, sizeof(drv)))
			nbad += (size_t)snprintf(bad + nbad, nbad < sizeof(bad) ? sizeof(bad) - nbad : 0,
						 "%s[port %s] device %s: no such PCI device",
						 nbad ? "; " : "", c->port_name[i], addr);
		else if (!dpdk_driver(drv))
			nbad += (size_t)snprintf(bad + nbad, nbad < sizeof(bad) ? sizeof(bad) - nbad : 0,
						 "%s[port %s] device %s: bound to %s, not to vfio-pci",
						 nbad ? "; " : "", c->port_name[i], addr,
						 drv[0] ? drv : "no driver");
	}
	if (nbad)
		add(r, "nics", FAIL, "bind each port to vfio-pci: driverctl set-override "
		    "ADDRESS vfio-pci (lasts across boots), or fix device = in [port]",
		    "%s; %s", bad, seen);
	else if (pci_ports)
		add(r, "nics", OK, NULL, "the %u PCI port(s) of %s are bound to DPDK; %s",
		    pci_ports, c->path, seen);
	else if (!strcmp(c->driver, "dpdk"))
		add(r, "nics", OK, NULL, "the config's ports are vdevs; %s", seen);
	else
		add(r, "nics", WARN, "for the DPDK path: [network] driver = dpdk and a "
		    "[port] with device = a PCI address bound to vfio-pci",
		    "%s names no DPDK port%s; %s", c->path, c->read ? "" : " (no file)", seen);
}

static void check_memlock(struct report *r, const struct doc_config *c)
{
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	/* controld's keys: 1.25 KiB each in the cache, the engine's 420 KiB
	 * (veil-controld -n says it exactly) */
	unsigned long long need = (unsigned long long)c->key_cache * 1280 + 420 * 1024;
	if (rl.rlim_cur == RLIM_INFINITY)
		add(r, "memlock", OK, NULL, "RLIMIT_MEMLOCK unlimited");
	else if (rl.rlim_cur >= need)
		add(r, "memlock", OK, NULL, "RLIMIT_MEMLOCK %llu KiB, controld's keys need "
		    "about %llu KiB", (unsigned long long)rl.rlim_cur >> 10, need >> 10);
	else
		add(r, "memlock", WARN, "the units set LimitMEMLOCK; for a daemon started "
		    "by hand: ulimit -l, or lower key_cache (veil-controld -n says the need)",
		    "RLIMIT_MEMLOCK %llu KiB here, controld's keys need about %llu KiB",
		    (unsigned long long)rl.rlim_cur >> 10, need >> 10);
}

static void check_isolated(struct report *r)
{
	char cpus[256] = "";
	FILE *f = fopen("/sys/devices/system/cpu/isolated", "r");
	if (f != NULL) {
		if (fgets(cpus, sizeof(cpus), f) == NULL)
			cpus[0] = '\0';
		fclose(f);
	}
	cpus[strcspn(cpus, "\n")] = '\0';
	if (cpus[0] != '\0')
		add(r, "isolated_cpus", OK, NULL, "isolated: %s (give them to the "
		    "dataplane's worker lcores, -l)", cpus);
	else
		add(r, "isolated_cpus", WARN, "keep the kernel off the worker lcores: "
		    "isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3 on the kernel command line "
		    "(docs/operations.md)", "no CPU isolated: the workers share their CPUs");
}

static void check_clock(struct report *r)
{
	struct timex tx = { 0 };
	int st = adjtimex(&tx);
	if (st == -1)
		add(r, "clock", WARN, "check timedatectl", "adjtimex: %s", strerror(errno));
	else if (st == TIME_ERROR || (tx.status & STA_UNSYNC))
		add(r, "clock", WARN, "the governance log's times come from this clock: "
		    "run an NTP client (apt-get install systemd-timesyncd or chrony; "
		    "timedatectl set-ntp true)", "the kernel clock is not synchronized");
	else
		add(r, "clock", OK, NULL, "synchronized (estimated error %ld us)", tx.esterror);
}

static void check_state_dir(struct report *r, const struct doc_config *c)
{
	struct statvfs vf;
	char dir[200];
	snprintf(dir, sizeof(dir), "%s", c->state_dir);
	/* not made yet (controld makes it): the file system it will be on */
	while (statvfs(dir, &vf) != 0) {
		char *slash = strrchr(dir, '/');
		if (errno != ENOENT || slash == NULL || slash == dir) {
			if (slash == dir && errno == ENOENT)
				snprintf(dir, sizeof(dir), "/");
			else {
				add(r, "state_dir", FAIL, "check the path and its permissions",
				    "%s: %s", c->state_dir, strerror(errno));
				return;
			}
		} else {
			*slash = '\0';
		}
	}
	unsigned long long avail = (unsigned long long)vf.f_bavail * vf.f_frsize;
	const char *fix = "free space or move state_dir: the governance log grows with "
			  "every resolve until audit_retention_days prunes it";
	if (avail < (100ull << 20))
		add(r, "state_dir", FAIL, fix, "%s: %llu MiB free", c->state_dir, avail >> 20);
	else if (avail < (1ull << 30))
		add(r, "state_dir", WARN, fix, "%s: %llu MiB free", c->state_dir, avail >> 20);
	else
		add(r, "state_dir", OK, NULL, "%s: %llu MiB free%s", c->state_dir, avail >> 20,
		    strcmp(dir, c->state_dir) ? " (not made yet)" : "");
}

static void check_controld(struct report *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;
	char *ans = NULL;
	size_t len;
	const char *fix = "start it: systemctl start veil-controld; why it stopped: "
			  "journalctl -u veil-controld";
	if (strlen(path) >= sizeof(sa.sun_path)) {
		add(r, "controld", FAIL, "use a shorter socket path", "%s: path too long", path);
		return;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		add(r, "controld", FAIL, e == EACCES ? "run veilctl as root or as a member "
		    "of socket_group (veil.conf)" : fix, "not reachable at %s: %s", path,
		    strerror(e));
		if (fd >= 0)
			close(fd);
		return;
	}
	static const char req[] = "{\"cmd\":\"status\"}";
	json_t *a = NULL;
	if (veil_api_write(fd, req, sizeof(req) - 1) == 0 &&
	    veil_api_read(fd, &ans, &len) == 0)
		a = json_loadb(ans, len, 0, NULL);
	close(fd);
	free(ans);
	if (!json_is_true(json_object_get(a, "ok")))
		add(r, "controld", FAIL, fix, "at %s, but it did not answer status%s%s", path,
		    a ? ": " : "", a ? json_string_value(json_object_get(a, "error")) ?: "" : "");
	else
		add(r, "controld", OK, NULL, "at %s: %lld tenants, crypto %s, you are %s", path,
		    (long long)json_integer_value(json_object_get(a, "tenants")),
		    json_string_value(json_object_get(a, "crypto")) ?: "?",
		    json_string_value(json_object_get(a, "role")) ?: "?");
	json_decref(a);
}

static void print_text(const struct report *r)
{
	size_t i;
	json_t *c;
	json_array_foreach(r->checks, i, c) {
		const char *st = json_string_value(json_object_get(c, "status"));
		printf("%-4s  %-13s %s\n", st, json_string_value(json_object_get(c, "check")),
		       json_string_value(json_object_get(c, "detail")));
		const char *fix = json_string_value(json_object_get(c, "fix"));
		if (fix[0] != '\0')
			printf("      %-13s -> %s\n", "", fix);
	}
}

int veilctl_doctor(int argc, char **argv, const char *socket_path, bool json)
{
	const char *config = VEIL_DEFAULT_CONFIG;
	bool is_default = true;
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (o != 'c') {
			fputs(help_doctor, stderr);
			return 2;
		}
		config = optarg;
		is_default = false;
	}
	if (optind != argc) {
		fputs(help_doctor, stderr);
		return 2;
	}
	struct report r = { .checks = json_array() };
	struct doc_config c;
	char err[512];
	if (read_config(&c, config, is_default, err, sizeof(err)) != 0) {
		/* the checks still run, on the defaults */
		add(&r, "config", FAIL, "fix the file (veil-controld -n checks it)", "%s", err);
		read_config(&c, config, true, err, sizeof(err));
		c.read = false;
	} else {
		add(&r, "config", OK, NULL, "%s%s", config, c.read ? "" : ": not there, "
		    "the defaults");
	}
	check_cpu(&r);
	check_hugepages(&r, &c);
	check_iommu(&r, &c);
	check_nics(&r, &c);
	check_memlock(&r, &c);
	check_isolated(&r);
	check_clock(&r);
	check_state_dir(&r, &c);
	check_controld(&r, strcmp(socket_path, VEIL_DEFAULT_SOCKET) ? socket_path : c.socket);
	if (json) {
		json_t *doc = json_pack("{s:b, s:O}", "ok", !r.failed, "checks", r.checks);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(doc);
	} else {
		print_text(&r);
	}
	json_decref(r.checks);
	return r.failed ? 1 : 0;
}
