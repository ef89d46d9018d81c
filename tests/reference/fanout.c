/*
 * The C reference for Savate's fan-out benchmark (docs/benchmarks.md, scripts/compare-c.sh): a minimal
 * single-threaded epoll HTTP-FLV fan-out server. One source (PUT/POST/SOURCE, body until close, no chunking)
 * is parsed into whole FLV tags and appended to one ring; listeners (GET) get the FLV header and sequence
 * headers, then the stream from the newest keyframe. Every flush interval each listener with data gets one
 * writev of everything pending (two iovecs when the ring wraps). A listener whose socket is full waits for
 * EPOLLOUT; one lapped by the ring is dropped. TCP_NODELAY and a 256 KiB send buffer, as Savate's defaults.
 *
 *   gcc -O2 -o fanout fanout.c && ./fanout PORT [FLUSH_MS]
 *
 * It is what the server does at its cheapest, not a product: no auth, no limits, no HTTP beyond a head.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define RING_SIZE (32u << 20)       /* 32 MiB: about four minutes at 1 Mbit/s */
#define HEAD_MAX 8192
#define JOIN_MAX (256u << 10)
#define STAGE_MAX (8u << 20)
#define SEND_BUFFER (256 << 10)

enum kind { K_NEW, K_SOURCE, K_LISTENER, K_DEAD };

struct conn {
    int fd;
    enum kind kind;
    int head_len;
    char head[HEAD_MAX];
    /* listener */
    uint64_t pos;            /* next ring byte to send */
    const char *pre;         /* response head + join headers still to send */
    size_t pre_len, pre_off;
    int blocked;             /* waiting for EPOLLOUT */
    int index;               /* in the listener array */
};

static unsigned char ring[RING_SIZE];
static uint64_t ring_head;           /* bytes ever appended */
static uint64_t last_keyframe = UINT64_MAX;
static unsigned char join_hdr[JOIN_MAX];
static size_t join_len;
static int have_flv_header;
static unsigned char *stage;
static size_t stage_len;
static struct conn **listeners;
static int listener_count, listener_cap;
static int epfd;
static char *pre_bufs;               /* one shared response head + join headers, rebuilt when they change */
static size_t pre_len;

static void die(const char *what) { perror(what); exit(1); }

static void ring_append(const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t at = ring_head % RING_SIZE, room = RING_SIZE - at, take = n < room ? n : room;
        memcpy(ring + at, p, take);
        ring_head += take; p += take; n -= take;
    }
}

static void rebuild_pre(void)
{
    static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    free(pre_bufs);
    pre_len = sizeof ok - 1 + join_len;
    pre_bufs = malloc(pre_len);
    memcpy(pre_bufs, ok, sizeof ok - 1);
    memcpy(pre_bufs + sizeof ok - 1, join_hdr, join_len);
}

/* Whole FLV tags from the staging buffer: configuration before the first frame goes to the join headers. */
static void parse_source(void)
{
    size_t off = 0;
    if (!have_flv_header) {
        if (stage_len < 13) return;
        memcpy(join_hdr, stage, 13); join_len = 13; have_flv_header = 1; off = 13;
    }
    while (stage_len - off >= 15) {
        const unsigned char *t = stage + off;
        size_t size = ((size_t)t[1] << 16) | (t[2] << 8) | t[3], total = 11 + size + 4;
        if (total > STAGE_MAX) { fprintf(stderr, "tag too large\n"); exit(1); }
        if (stage_len - off < total) break;
        int type = t[0] & 0x1f;
        int config = type == 18 || (type == 9 && size >= 2 && t[12] == 0) || (type == 8 && size >= 2 && (t[11] >> 4) == 10 && t[12] == 0);
        if (config && last_keyframe == UINT64_MAX) {
            if (join_len + total <= JOIN_MAX) { memcpy(join_hdr + join_len, t, total); join_len += total; rebuild_pre(); }
        } else {
            if (type == 9 && size >= 1 && (t[11] >> 4) == 1) last_keyframe = ring_head;
            ring_append(t, total);
        }
        off += total;
    }
    memmove(stage, stage + off, stage_len - off);
    stage_len -= off;
}

static struct conn *dead[4096];
static int dead_count;

/* Freed after the current batch of events, which may still name it. */
static void close_conn(struct conn *c)
{
    if (c->kind == K_DEAD) return;
    if (c->kind == K_LISTENER) {
        struct conn *last = listeners[--listener_count];
        listeners[c->index] = last; last->index = c->index;
    }
    close(c->fd);
    c->kind = K_DEAD;
    if (dead_count == (int)(sizeof dead / sizeof *dead)) { free(dead[--dead_count]); }
    dead[dead_count++] = c;
}

/* One writev of everything pending. Returns -1 when the listener is gone. */
static int flush_listener(struct conn *c)
{
    if (c->blocked) return 0;
    if (last_keyframe == UINT64_MAX) return 0;
    if (c->pos == UINT64_MAX) { c->pos = last_keyframe; c->pre = pre_bufs; c->pre_len = pre_len; c->pre_off = 0; }
    if (ring_head - c->pos > RING_SIZE) return -1; /* lapped */
    struct iovec iov[3];
    int n = 0;
    if (c->pre_off < c->pre_len) { iov[n].iov_base = (char *)c->pre + c->pre_off; iov[n].iov_len = c->pre_len - c->pre_off; n++; }
    uint64_t pending = ring_head - c->pos;
    if (pending > 0) {
        size_t at = c->pos % RING_SIZE, first = RING_SIZE - at;
        if (first >= pending) { iov[n].iov_base = ring + at; iov[n].iov_len = pending; n++; }
        else { iov[n].iov_base = ring + at; iov[n].iov_len = first; n++; iov[n].iov_base = ring; iov[n].iov_len = pending - first; n++; }
    }
    if (n == 0) return 0;
    ssize_t w = writev(c->fd, iov, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) w = 0;
        else return -1;
    }
    size_t left = (size_t)w;
    if (c->pre_off < c->pre_len) {
        size_t take = c->pre_len - c->pre_off < left ? c->pre_len - c->pre_off : left;
        c->pre_off += take; left -= take;
    }
    c->pos += left;
    if (c->pre_off < c->pre_len || c->pos < ring_head) {
        c->blocked = 1;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return 0;
}

static void become_listener(struct conn *c)
{
    c->kind = K_LISTENER;
    c->pos = UINT64_MAX;
    int one = 1, sndbuf = SEND_BUFFER;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (listener_count == listener_cap) {
        listener_cap = listener_cap ? listener_cap * 2 : 1024;
        listeners = realloc(listeners, sizeof *listeners * listener_cap);
    }
    c->index = listener_count;
    listeners[listener_count++] = c;
    if (flush_listener(c) < 0) close_conn(c);
}

static void on_head(struct conn *c, char *end)
{
    size_t head = (size_t)(end + 4 - c->head);
    int known = !strncmp(c->head, "GET ", 4) || !strncmp(c->head, "PUT ", 4) || !strncmp(c->head, "POST ", 5) || !strncmp(c->head, "SOURCE ", 7);
    if (!known || !strncmp(c->head, "GET /status.json", 16)) {
        static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(c->fd, nf, sizeof nf - 1) < 0) { /* gone */ }
        close_conn(c);
        return;
    }
    if (!strncmp(c->head, "GET ", 4)) { become_listener(c); return; }
    c->kind = K_SOURCE;
    static const char ok[] = "HTTP/1.1 200 OK\r\n\r\n";
    if (write(c->fd, ok, sizeof ok - 1) < 0) { /* gone */ }
    size_t extra = (size_t)c->head_len - head;
    memcpy(stage + stage_len, c->head + head, extra);
    stage_len += extra;
    parse_source();
}

static void on_readable(struct conn *c)
{
    if (c->kind == K_NEW) {
        ssize_t r = read(c->fd, c->head + c->head_len, HEAD_MAX - 1 - c->head_len);
        if (r <= 0) { if (r == 0 || errno != EAGAIN) close_conn(c); return; }
        c->head_len += (int)r; c->head[c->head_len] = 0;
        char *end = strstr(c->head, "\r\n\r\n");
        if (end) on_head(c, end);
        else if (c->head_len >= HEAD_MAX - 1) close_conn(c);
        return;
    }
    if (c->kind == K_SOURCE) {
        for (;;) {
            if (stage_len == STAGE_MAX) { fprintf(stderr, "source stage full\n"); exit(1); }
            ssize_t r = read(c->fd, stage + stage_len, STAGE_MAX - stage_len);
            if (r < 0 && errno == EAGAIN) break;
            if (r <= 0) { close_conn(c); return; }
            stage_len += (size_t)r;
            parse_source();
        }
        return;
    }
    char discard[4096];
    ssize_t r = read(c->fd, discard, sizeof discard);
    if (r == 0 || (r < 0 && errno != EAGAIN)) close_conn(c);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s PORT [FLUSH_MS]\n", argv[0]); return 2; }
    int port = atoi(argv[1]), flush_ms = argc > 2 ? atoi(argv[2]) : 40;
    signal(SIGPIPE, SIG_IGN);
    stage = malloc(STAGE_MAX);
    rebuild_pre();

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, SOMAXCONN) < 0) die("listen");

    epfd = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = { .it_interval = { 0, flush_ms * 1000000L }, .it_value = { 0, flush_ms * 1000000L } };
    timerfd_settime(tfd, 0, &its, NULL);
    static int timer_tag;
    ev.events = EPOLLIN; ev.data.ptr = &timer_tag;
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
    fprintf(stderr, "fanout: listening on 127.0.0.1:%d, flush every %d ms\n", port, flush_ms);

    struct epoll_event events[512];
    for (;;) {
        int n = epoll_wait(epfd, events, 512, -1);
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag != NULL && tag != &timer_tag && ((struct conn *)tag)->kind == K_DEAD) continue;
            if (tag == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    struct conn *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->kind = K_NEW;
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
                }
            } else if (tag == &timer_tag) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0) { /* spurious */ }
                for (int j = listener_count - 1; j >= 0; j--) {
                    if (j < listener_count && flush_listener(listeners[j]) < 0) close_conn(listeners[j]);
                }
            } else {
                struct conn *c = tag;
                if ((events[i].events & EPOLLOUT) && c->kind == K_LISTENER && c->blocked) {
                    c->blocked = 0;
                    struct epoll_event lev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &lev);
                    if (flush_listener(c) < 0) { close_conn(c); continue; }
                }
                if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
            }
        }
        while (dead_count > 0) free(dead[--dead_count]);
    }
}
