/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's TLS (RFC 5425, OpenSSL, TLS 1.2+): the server
 * context of a [listen] and the client context of an [upstream], and
 * OpenSSL's reason for a failure (never data).
 */
#include "socket_pvt.h"

const char *sk_tls_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, cap, "%s", r ? r : e ? "TLS error" : "connection closed");
	ERR_clear_error();
	return buf;
}

/* ------------------------------------------------------------------ */
/* TLS contexts                                                       */
/* ------------------------------------------------------------------ */

SSL_CTX *sk_tls_server_ctx(const struct sk_listen *l, char *err,
			   size_t errlen)
{
	char why[160];
	const struct vdr_listen_cfg *c = &l->cfg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "listen %s: TLS: %s", l->text,
			 sk_tls_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* the plaintext is the senders' messages: OpenSSL wipes its copy
	 * once read (its buffers are freed unwiped otherwise) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_CLEANSE_PLAINTEXT);
	/* thousands of idle connections: no idle record buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	static const unsigned char sid[] = "veil-socket";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	const char *what = "tls_cert";
	const char *path = c->tls_cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
		goto fail;
	what = "tls_key";
	path = c->tls_key;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (c->tls_client_ca[0] != '\0') {
		what = "tls_client_ca";
		path = c->tls_client_ca;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->tls_client_ca);
		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, c->tls_client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
					SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	snprintf(err, errlen, "listen %s: %s %s: %s", l->text, what, path,
		 sk_tls_reason(why, sizeof(why)));
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *sk_tls_client_ctx(const struct sk_up *u, char *err, size_t errlen)
{
	char why[160];
	const struct vdr_upstream_cfg *c = &u->cfg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "upstream %s: TLS: %s", u->text,
			 sk_tls_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* the queue's ring may move (it grows) and a retried write may be
	 * longer: both are fine for us */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	const char *what = "tls_ca", *path = c->tls_ca;
	if (c->tls_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		int ok = c->tls_ca[0] != '\0'
				 ? SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			if (c->tls_ca[0] == '\0')
				path = "(the system's CA certificates)";
			goto fail;
		}
	}
	if (c->tls_cert[0] != '\0') {
		what = "tls_cert";
		path = c->tls_cert;
		if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
			goto fail;
		what = "tls_key";
		path = c->tls_key;
		if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	return ctx;
fail:
	snprintf(err, errlen, "upstream %s: %s %s: %s", u->text, what, path,
		 sk_tls_reason(why, sizeof(why)));
	SSL_CTX_free(ctx);
	return NULL;
}
