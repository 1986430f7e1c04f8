/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veilctl doctor (doctor.c): is this host fit to run veil? */
#ifndef VEIL_DOCTOR_H
#define VEIL_DOCTOR_H

#include <stdbool.h>

extern const char help_doctor[];

/* veilctl doctor [-c FILE]: every check as a line (or, with json, one JSON
 * document on stdout). controld is looked for at socket_path, or, when that
 * is the default, at the socket the config file names. @return 0 when no
 * check failed, 1 when one did, 2 usage. */
int veilctl_doctor(int argc, char **argv, const char *socket_path, bool json);

#endif
