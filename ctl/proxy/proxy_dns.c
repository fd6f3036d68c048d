/*
 * proxy_dns: getaddrinfo() off the event loop.
 *
 * getaddrinfo honours /etc/hosts and nsswitch (the tests bind-mount their
 * own /etc/hosts), but it blocks. DNS_THREADS worker threads run it (one:
 * the loop stays single-threaded in spirit, and a slow lookup delays only
 * other lookups, never traffic); results go back to the loop through a
 * done list and an eventfd. Callbacks always run
 * on the loop thread. A request whose connection went away is cancelled:
 * the flag is only read and written on the loop thread, so the workers
 * never see it and the result is simply freed on delivery.
 */
#include "proxy.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#define DNS_THREADS 1

struct proxy_dns_req {
	struct proxy_dns_req *next;
	char host[256];
	char port[8];
	proxy_dns_cb cb;
	void *arg;
	bool cancelled; /* loop thread only */
	int rc;         /* 0 or an EAI_* code */
	struct addrinfo *res;
};

struct proxy_dns {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct proxy_dns_req *todo, *todo_tail; /* under lock */
	struct proxy_dns_req *done;             /* under lock */
	bool stop;                              /* under lock */
	int efd;
	struct event *ev;
	pthread_t th[DNS_THREADS];
	size_t nth;
};

static void *dns_worker(void *arg)
{
	struct proxy_dns *dns = arg;
	uint64_t one = 1;

	for (;;) {
		struct proxy_dns_req *r;
		struct addrinfo hints;

		pthread_mutex_lock(&dns->lock);
		while (!dns->stop && !dns->todo)
			pthread_cond_wait(&dns->cond, &dns->lock);
		if (dns->stop) {
			pthread_mutex_unlock(&dns->lock);
			return NULL;
		}
		r = dns->todo;
		dns->todo = r->next;
		if (!dns->todo)
			dns->todo_tail = NULL;
		pthread_mutex_unlock(&dns->lock);

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		r->rc = getaddrinfo(r->host, r->port, &hints, &r->res);

		pthread_mutex_lock(&dns->lock);
		r->next = dns->done;
		dns->done = r;
		pthread_mutex_unlock(&dns->lock);
		if (write(dns->efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice; nothing to do. */
		}
	}
}

static void dns_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_dns *dns = arg;
	struct proxy_dns_req *list, *r;
	uint64_t v;

	if (read(dns->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a spurious wakeup; the list below is still checked. */
	}
	pthread_mutex_lock(&dns->lock);
	list = dns->done;
	dns->done = NULL;
	pthread_mutex_unlock(&dns->lock);
	while ((r = list) != NULL) {
		list = r->next;
		if (!r->cancelled)
			r->cb(r->rc, r->res, r->arg);
		else if (r->res)
			freeaddrinfo(r->res);
		free(r);
	}
}

int proxy_dns_new(struct event_base *base, struct proxy_dns **out, struct fc_diag *d)
{
	struct proxy_dns *dns = calloc(1, sizeof(*dns));
	int rc;

	if (!dns)
		return -ENOMEM;
	pthread_mutex_init(&dns->lock, NULL);
	pthread_cond_init(&dns->cond, NULL);
	dns->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dns->efd < 0) {
		rc = fc_diag_set(d, -errno, "cannot create an eventfd: %s", strerror(errno));
		goto fail;
	}
	dns->ev = event_new(base, dns->efd, EV_READ | EV_PERSIST, dns_deliver, dns);
	if (!dns->ev || event_add(dns->ev, NULL) < 0) {
		rc = fc_diag_set(d, -ENOMEM, "cannot register the resolver event");
		goto fail;
	}
	for (dns->nth = 0; dns->nth < DNS_THREADS; dns->nth++) {
		rc = pthread_create(&dns->th[dns->nth], NULL, dns_worker, dns);
		if (rc) {
			rc = fc_diag_set(d, -rc, "cannot start a resolver thread: %s",
					 strerror(rc));
			goto fail;
		}
	}
	*out = dns;
	return 0;
fail:
	proxy_dns_free(dns);
	return rc;
}

struct proxy_dns_req *proxy_dns_resolve(struct proxy_dns *dns, const char *host, uint16_t port,
					proxy_dns_cb cb, void *arg)
{
	struct proxy_dns_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->port, sizeof(r->port), "%u", (unsigned)port);
	r->cb = cb;
	r->arg = arg;
	pthread_mutex_lock(&dns->lock);
	if (dns->todo_tail)
		dns->todo_tail->next = r;
	else
		dns->todo = r;
	dns->todo_tail = r;
	pthread_cond_signal(&dns->cond);
	pthread_mutex_unlock(&dns->lock);
	return r;
}

void proxy_dns_cancel(struct proxy_dns_req *r)
{
	if (r)
		r->cancelled = true;
}

static void free_list(struct proxy_dns_req *r)
{
	while (r) {
		struct proxy_dns_req *next = r->next;

		if (r->res)
			freeaddrinfo(r->res);
		free(r);
		r = next;
	}
}

void proxy_dns_free(struct proxy_dns *dns)
{
	size_t i;

	if (!dns)
		return;
	pthread_mutex_lock(&dns->lock);
	dns->stop = true;
	pthread_cond_broadcast(&dns->cond);
	pthread_mutex_unlock(&dns->lock);
	for (i = 0; i < dns->nth; i++)
		pthread_join(dns->th[i], NULL);
	free_list(dns->todo);
	free_list(dns->done);
	if (dns->ev)
		event_free(dns->ev);
	if (dns->efd >= 0)
		close(dns->efd);
	pthread_mutex_destroy(&dns->lock);
	pthread_cond_destroy(&dns->cond);
	free(dns);
}
