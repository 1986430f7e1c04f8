/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The driver interface (veil_driver.h): one table of operations per
 * driver. */
#include <stdarg.h>
#include <stdio.h>

#include "drv_pvt.h"

void vdr_set_error(struct vdr_driver *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

int vdr_rx(struct vdr_driver *d, struct vdp_line *lines, unsigned max)
{
	return max == 0 ? 0 : d->ops->rx(d, lines, max);
}

void vdr_rx_return(struct vdr_driver *d, unsigned n)
{
	if (n > 0)
		d->ops->rx_return(d, n);
}

bool vdr_rx_keep(struct vdr_driver *d)
{
	return d->ops->keep != NULL && d->ops->keep(d);
}

uint64_t vdr_rx_kept(const struct vdr_driver *d)
{
	return d->ops->kept != NULL ? d->ops->kept(d) : 0;
}

void vdr_rx_release(struct vdr_driver *d, uint64_t mark)
{
	if (d->ops->release != NULL)
		d->ops->release(d, mark);
}

int vdr_tx(struct vdr_driver *d, const struct vdp_burst *b)
{
	return d->ops->tx(d, b);
}

int vdr_flush(struct vdr_driver *d)
{
	return d->ops->flush(d);
}

void vdr_stats(const struct vdr_driver *d, struct vdr_stats *st)
{
	*st = (struct vdr_stats){ 0 };
	d->ops->stats(d, st);
}

unsigned vdr_xstats(const struct vdr_driver *d, const char **names,
		    uint64_t *vals, unsigned cap)
{
	return d->ops->xstats != NULL ? d->ops->xstats(d, names, vals, cap) : 0;
}

unsigned vdr_rows(const struct vdr_driver *d, struct vdr_row *rows, unsigned cap)
{
	return d->ops->rows != NULL ? d->ops->rows(d, rows, cap) : 0;
}

const char *vdr_name(const struct vdr_driver *d)
{
	return d->ops->name;
}

const char *vdr_error(const struct vdr_driver *d)
{
	return d->err;
}

void vdr_free(struct vdr_driver *d)
{
	if (d != NULL)
		d->ops->free(d);
}
