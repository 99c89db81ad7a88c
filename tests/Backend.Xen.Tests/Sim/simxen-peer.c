/* simxen-peer.c - the other domain for Backend.Xen.Tests' cross-process SIMXEN tests.
 * Linked at test time against the C reference primitives (shared/simxen-c/simxen.c), so that our
 * C# side is checked against an independent implementation of SIMXEN.md.
 *
 * usage: simxen-peer ROOT DOMID PAGES ; then one command per line on stdin, one answer line each:
 *   fill FRAME BYTE              fill a page of our memory               -> ok
 *   grant REF FRAME DOMID RO     grant a frame                           -> ok
 *   endaccess REF                end access                              -> ok 1|0
 *   peek FRAME OFFSET            a byte of our memory                    -> value N
 *   alloc PORT DOMID             allocate an unbound port                -> ok
 *   bind DOMID RPORT             bind interdomain (we are the backend)   -> port L
 *   unbind L                                                             -> ok
 *   entry PORT                   our evtchn-peers entry                  -> entry DOM STATE PORT
 *   notify PORT                                                          -> ok
 *   wait PORT MS                 wait until PORT is pending              -> event PORT | timeout
 *   burst PORT N                 N times: counter in page 0 = i, notify  -> ok DATAGRAMS
 *   map DOMID REF                map a grant of another domain           -> ok
 *   waitcount PORT N MS          wait until the mapped page's counter is N (draining PORT) -> done | timeout
 *   quit
 */
#define _GNU_SOURCE
#include "simxen.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct sx_dom d;
static struct sx_map m;
static uint32_t want;   /* the port "wait" looks for */
static int seen;

static void cb(void *arg, uint32_t port) { (void)arg; if (port == want) seen = 1; }

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    if (sx_dom_create(&d, argv[1], atoi(argv[2]), (size_t)atol(argv[3])) != 0 || sx_evtchn_open(&d) != 0) {
        printf("error create\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32];
        long a = 0, b = 0, c = 0, e = 0;
        if (sscanf(line, "%31s %ld %ld %ld %ld", cmd, &a, &b, &c, &e) < 1) continue;
        if (!strcmp(cmd, "fill")) { memset(sx_page(&d, (uint32_t)a), (int)b, SX_PAGE); printf("ok\n"); }
        else if (!strcmp(cmd, "grant")) { sx_grant(&d, (uint32_t)a, (uint32_t)b, (uint16_t)c, (int)e); printf("ok\n"); }
        else if (!strcmp(cmd, "endaccess")) printf("ok %d\n", sx_end_access(&d, (uint32_t)a));
        else if (!strcmp(cmd, "peek")) printf("value %u\n", ((uint8_t *)sx_page(&d, (uint32_t)a))[b]);
        else if (!strcmp(cmd, "alloc")) { sx_evtchn_alloc_unbound(&d, (uint32_t)a, (uint16_t)b); printf("ok\n"); }
        else if (!strcmp(cmd, "bind")) printf("port %d\n", sx_evtchn_bind_interdomain(&d, (uint16_t)a, (uint32_t)b, 0));
        else if (!strcmp(cmd, "unbind")) { sx_evtchn_unbind(&d, (uint32_t)a); printf("ok\n"); }
        else if (!strcmp(cmd, "entry")) {
            struct sx_evtchn_peer p = d.peers[a];
            printf("entry %u %u %u\n", p.peer_domid, p.state, p.peer_port);
        }
        else if (!strcmp(cmd, "notify")) { sx_evtchn_notify(&d, (uint32_t)a); printf("ok\n"); }
        else if (!strcmp(cmd, "wait")) {
            want = (uint32_t)a; seen = 0;
            long end = now_ms() + b;
            /* only a wake-up may end a wait: a lost notification shows as a timeout */
            for (;;) {
                sx_evtchn_drain(&d, cb, NULL);
                if (seen) break;
                long left = end - now_ms();
                if (left <= 0 || !sx_evtchn_wait(&d, (int)left)) break;
            }
            if (seen) printf("event %ld\n", a); else printf("timeout\n");
        }
        else if (!strcmp(cmd, "burst")) {
            unsigned long d0 = sx_stat_dgram_sent;
            uint32_t *counter = (uint32_t *)sx_page(&d, 0);
            for (long i = 1; i <= b; i++) { __atomic_store_n(counter, (uint32_t)i, __ATOMIC_RELEASE); sx_evtchn_notify(&d, (uint32_t)a); }
            printf("ok %lu\n", sx_stat_dgram_sent - d0);
        }
        else if (!strcmp(cmd, "map")) printf(sx_grant_map(&d, (uint16_t)a, (uint32_t)b, 1, &m) == 0 ? "ok\n" : "error map\n");
        else if (!strcmp(cmd, "waitcount")) {
            want = (uint32_t)a;
            long end = now_ms() + c;
            uint32_t *counter = (uint32_t *)m.addr;
            for (;;) {   /* drain, then look: a wake-up after the look is never missed */
                sx_evtchn_drain(&d, NULL, NULL);
                if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) == (uint32_t)b) break;
                long left = end - now_ms();
                if (left <= 0 || !sx_evtchn_wait(&d, (int)left)) break;
            }
            printf(__atomic_load_n(counter, __ATOMIC_ACQUIRE) == (uint32_t)b ? "done\n" : "timeout\n");
        }
        else if (!strcmp(cmd, "quit")) break;
        else printf("error unknown %s\n", cmd);
    }
    if (m.addr) sx_grant_unmap(&m);
    sx_dom_destroy(&d, 0);
    return 0;
}
