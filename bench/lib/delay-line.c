// A userspace delay line, for kernels built without netem (CONFIG_NET_SCH_NETEM): each namespace
// named on the command line routes its lab traffic into a TUN device "dl0" (link-delay.ts sets the
// routes); this process holds every packet read there for DELAY_US, then sends it out the
// namespace's real link through a raw socket whose mark (DL_MARK) the routes send around the TUN.
// One process serves every namespace: a descriptor opened inside a namespace stays bound to it after
// setns() back. It runs at real-time priority when allowed, so that a busy machine delays its
// wake-ups as little as a wire would. Queues are bounded (SLOTS packets per namespace; beyond,
// packets are dropped and counted).
//   delay-line DELAY_US NS...
// prints "ready" (or "ready realtime") once every TUN exists; at the end of stdin, prints
// "sent N dropped M late_mean_us X late_max_us Y" (how late packets left past their delay) and exits.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DL_MARK 0x7d1
#define SLOTS 2048
#define SLOT_BYTES 2048
#define MAX_HOSTS 32

struct slot {
  uint64_t due;
  uint16_t len;
  unsigned char data[SLOT_BYTES];
};

struct host {
  int tun;
  int raw;
  struct slot *ring;
  unsigned head;
  unsigned count;
};

/** Packets sent and dropped; how late the sent ones left, summed and at worst (ns). */
static uint64_t sent, dropped, late_sum, late_max;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what, const char *ns) {
  fprintf(stderr, "delay-line: %s (%s): %s\n", what, ns, strerror(errno));
  exit(1);
}

static void open_in(const char *ns, struct host *h) {
  char path[256];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) die("setns", ns);
  close(fd);
  h->tun = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (h->tun < 0) die("open /dev/net/tun", ns);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strcpy(ifr.ifr_name, "dl0");
  if (ioctl(h->tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF", ns);
  h->raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  int mark = DL_MARK;
  if (h->raw < 0 || setsockopt(h->raw, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) die("raw socket", ns);
  h->ring = calloc(SLOTS, sizeof(struct slot));
  if (h->ring == NULL) die("calloc", ns);
}

/** Reads every packet waiting on the TUN, each due DELAY later. */
static void take(struct host *h, uint64_t delay) {
  static unsigned char scratch[SLOT_BYTES];
  for (;;) {
    int full = h->count == SLOTS;
    struct slot *s = full ? NULL : &h->ring[(h->head + h->count) % SLOTS];
    ssize_t n = read(h->tun, full ? scratch : s->data, SLOT_BYTES);
    if (n <= 0) return;
    // Only IPv4 goes on: the lab has no IPv6 addresses, and a raw IPv4 socket cannot send the rest.
    if (full || n < 20 || (s->data[0] >> 4) != 4) {
      dropped++;
      continue;
    }
    s->len = (uint16_t)n;
    s->due = now_ns() + delay;
    h->count++;
  }
}

/** Sends the packets now due; returns when the next one is due (UINT64_MAX: none queued). */
static uint64_t give(struct host *h, uint64_t now) {
  while (h->count > 0 && h->ring[h->head].due <= now) {
    struct slot *s = &h->ring[h->head];
    struct sockaddr_in to = {.sin_family = AF_INET};
    memcpy(&to.sin_addr, s->data + 16, 4);
    if (sendto(h->raw, s->data, s->len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
      dropped++;
    } else {
      sent++;
      late_sum += now - s->due;
      if (now - s->due > late_max) late_max = now - s->due;
    }
    h->head = (h->head + 1) % SLOTS;
    h->count--;
  }
  return h->count > 0 ? h->ring[h->head].due : UINT64_MAX;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc - 2 > MAX_HOSTS) {
    fprintf(stderr, "usage: delay-line DELAY_US NS... (at most %d)\n", MAX_HOSTS);
    return 2;
  }
  uint64_t delay = strtoull(argv[1], NULL, 10) * 1000u;
  int hosts = argc - 2;
  static struct host host[MAX_HOSTS];
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  for (int i = 0; i < hosts; i++) open_in(argv[i + 2], &host[i]);
  if (home < 0 || setns(home, CLONE_NEWNET) < 0) die("setns back", "root");
  // Timer slack (50 us by default) would add that much to each wake-up.
  prctl(PR_SET_TIMERSLACK, 1UL);
  struct sched_param rt = {.sched_priority = 10};
  int realtime = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
  printf("ready%s\n", realtime ? " realtime" : "");
  fflush(stdout);

  struct pollfd fds[MAX_HOSTS + 1];
  for (int i = 0; i < hosts; i++) fds[i] = (struct pollfd){.fd = host[i].tun, .events = POLLIN};
  fds[hosts] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
  for (;;) {
    uint64_t now = now_ns();
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < hosts; i++) {
      uint64_t due = give(&host[i], now);
      if (due < next) next = due;
    }
    struct timespec wait, *timeout = NULL;
    if (next != UINT64_MAX) {
      uint64_t left = next > now ? next - now : 0;
      wait = (struct timespec){.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
      timeout = &wait;
    }
    if (ppoll(fds, (nfds_t)hosts + 1, timeout, NULL) < 0 && errno != EINTR) die("ppoll", "root");
    if (fds[hosts].revents != 0) {
      char buf[64];
      if (read(STDIN_FILENO, buf, sizeof buf) <= 0) break;
    }
    for (int i = 0; i < hosts; i++)
      if (fds[i].revents & POLLIN) take(&host[i], delay);
  }
  printf("sent %llu dropped %llu late_mean_us %.1f late_max_us %.1f\n", (unsigned long long)sent,
         (unsigned long long)dropped, sent > 0 ? late_sum / 1e3 / (double)sent : 0.0, late_max / 1e3);
  return 0;
}
