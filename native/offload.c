/*
 * wgts native addon: the offloads of the fast data path (PERFORMANCE.md "What follows" 2 and 3).
 * Packet-format work only — IP/TCP/UDP headers and checksums — and no protocol state.
 *
 * TUN side (a TUN opened with IFF_VNET_HDR; every read and write starts with a 10-byte
 * struct virtio_net_hdr):
 *   tunSetOffload(fd, wantUso) -> flags    TUNSETOFFLOAD(CSUM|TSO4|TSO6[|USO4|USO6]); the flags
 *                                          the kernel took (USO is dropped if it refuses it)
 *   txSplit(src, srcOffset, srcLength, mtu, dst, cursor, offsets, lengths, first, max) -> n
 *       Splits one read (vnet header + packet, possibly a TSO/USO superpacket) into IP packets
 *       (segments of the header's gso_size, which the kernel derives from the TUN's MTU), each
 *       with complete IPv4 header, TCP and UDP checksums, zero-padded to the
 *       transport padding (whitepaper 5.4.6). Packet k lands at dst[offsets[first+k] + 16], where
 *       offsets[first+k] is 16-aligned and starts at cursor[0]; lengths[first+k] gets its padded
 *       length; 16 bytes of tag room follow; cursor[0] moves past it. Returns the number of
 *       packets, -1 for a malformed read (drop it; also a read whose IP packet is longer than 65535
 *       bytes of payload), -2 when dst or the arrays have no room (flush and call again). mtu above 65535 is
 *       a RangeError. All room arithmetic is 64-bit; a packet never starts past 2^32 - 1 (offsets
 *       are a Uint32Array), so only the first 4 GiB of dst are used.
 *   tunWriteCoalesced(fd, buf, offsets, lengths, count, status)
 *       Writes IP packets buf[offsets[i] .. + lengths[i]) to the TUN. Runs of consecutive TCP
 *       segments of one flow (contiguous sequence numbers, same ack/flags/window/options, equal
 *       sizes but for the last, valid checksums) become one TSO superpacket (what the kernel's GRO
 *       does; wireguard-go's tun/offload_linux.go does the same; the IPv4 header checksum is
 *       verified too, as the kernel's GRO does); everything else is written
 *       alone. Each packet needs 10 writable bytes in front of it (its vnet header goes there);
 *       one longer than an IPv6 header and 65535 bytes is a RangeError.
 *       status <- [packets written, packets dropped, last errno negated or 0].
 *
 * UDP side:
 *   udpSetGro(fd, on) -> bool                    setsockopt UDP_GRO (false: the kernel lacks it)
 *   sendSegments(fd, family, buf, offsets, lengths, first, count, address, port, status[, source])
 *       Sends datagrams to one destination; runs of equal-length datagrams (the last may be
 *       shorter) go out as one sendmsg with UDP_SEGMENT (UDP GSO), each run at most 64 segments
 *       and 64 KiB. A kernel that refuses GSO gets them one by one. Drop policy as sendBatch.
 *       With a `source`, each sendmsg carries it too, and a source the kernel refuses is dropped
 *       for the rest of the call with status[3] = 1, as sendList does (native/udp.c).
 */
#include "common.h"
#include "csum.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define VNET_LEN WGTS_VNET_LEN
#define HEADER_LEN WGTS_HEADER_LEN /* transport header in front of each plaintext */
#define TAG_LEN WGTS_TAG_LEN
#define MAX_COALESCE WGTS_MAX_COALESCE
#define PROTO_TCP 6
#define PROTO_UDP 17

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
/* A big-endian 16-bit value as the host-order word csum_add would have read from its bytes. */
static uint16_t wire16(uint16_t v) { return htons(v); }

/* The pseudo-header sum for an L4 segment of l4len bytes of protocol proto in packet ip. */
static uint64_t pseudo_sum(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4len) {
  uint64_t acc = v6 ? wgts_csum_add(0, ip + 8, 32) : wgts_csum_add(0, ip + 12, 8);
  acc += wire16((uint16_t)proto);
  acc += wire16((uint16_t)l4len);
  return acc;
}

static void ipv4_checksum(uint8_t *ip) {
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  ip[10] = ip[11] = 0;
  uint16_t c = (uint16_t)~wgts_csum_fold(wgts_csum_add(0, ip, ihl));
  memcpy(ip + 10, &c, 2);
}

/* Writes the full checksum of the L4 segment at ip + l4off (field at field_off within it). */
static void l4_checksum(uint8_t *ip, int v6, uint8_t proto, size_t l4off, size_t total, size_t field_off) {
  uint8_t *l4 = ip + l4off;
  l4[field_off] = l4[field_off + 1] = 0;
  uint16_t c = (uint16_t)~wgts_csum_fold(
      wgts_csum_add(pseudo_sum(ip, v6, proto, (uint32_t)(total - l4off)), l4, total - l4off));
  if (c == 0 && proto == PROTO_UDP) c = 0xffff;
  memcpy(l4 + field_off, &c, 2);
}

/* ---- TUNSETOFFLOAD ------------------------------------------------------------------------- */

static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  int32_t fd;
  bool uso = false;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (napi_get_value_bool(env, argv[1], &uso) != napi_ok)
    return wgts_throw_type(env, "wgts_native: wantUso must be a boolean");
  unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  unsigned flags = uso ? base | TUN_F_USO4 | TUN_F_USO6 : base;
  if (ioctl(fd, TUNSETOFFLOAD, flags) < 0) {
    /* Kernels before 6.2 know no USO: fall back to TCP segmentation offload alone. */
    if (!uso || errno != EINVAL || ioctl(fd, TUNSETOFFLOAD, base) < 0)
      return wgts_throw_errno(env, "ioctl TUNSETOFFLOAD", errno);
    flags = base;
  }
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, (int32_t)flags, &out));
  return out;
}

/* ---- TUN read -> MTU-sized packets --------------------------------------------------------- */

/* The length of a packet of len bytes padded to a multiple of 16 (whitepaper 5.4.6), never past
 * the MTU; for a superpacket (len > mtu) only its last segment is padded. 64-bit: with len near
 * 2^32 the 32-bit sum wrapped to a small number and the memset in split_reserve ran wild. */
static uint64_t padded_length(uint64_t len, uint64_t mtu) {
  uint64_t last = mtu > 0 && len > mtu ? len % mtu : len;
  uint64_t up = (last + (WGTS_PAD_MULTIPLE - 1)) & ~(uint64_t)(WGTS_PAD_MULTIPLE - 1);
  if (mtu > 0 && up > mtu) up = mtu;
  uint64_t padded = len + up - last;
  /* Padding never makes a packet longer than the largest IP packet (mtu 0: no MTU given). */
  if (padded > WGTS_MAX_PACKET) padded = len > WGTS_MAX_PACKET ? len : WGTS_MAX_PACKET;
  return padded;
}

typedef struct split_out {
  uint8_t *dst;
  uint64_t dst_len; /* the usable bytes of dst: at most 2^32 - 1, what an offset can name */
  uint32_t *cursor, *offs, *lens;
  uint32_t next, end; /* next index to fill, one past the last usable */
  uint32_t mtu;
} split_out;

/* Reserves room for a packet of len bytes; returns where its IP packet starts, or NULL. */
static uint8_t *split_reserve(split_out *o, uint32_t len, uint32_t *index) {
  uint64_t padded = padded_length(len, o->mtu);
  uint64_t at = ((uint64_t)*o->cursor + (WGTS_PAD_MULTIPLE - 1)) & ~(uint64_t)(WGTS_PAD_MULTIPLE - 1);
  if (o->next >= o->end || at + HEADER_LEN + padded + TAG_LEN > o->dst_len) return NULL;
  *index = o->next++;
  o->offs[*index] = (uint32_t)at;
  o->lens[*index] = (uint32_t)padded;
  *o->cursor = (uint32_t)(at + HEADER_LEN + padded + TAG_LEN);
  uint8_t *p = o->dst + at + HEADER_LEN;
  memset(p + len, 0, padded - len);
  return p;
}

/* The segments of a TSO/USO superpacket. Returns the count or -1 (malformed) / -2 (no room). */
static int split_gso(split_out *o, const uint8_t *ip, uint32_t len, int v6, int udp, uint32_t l4off,
                     uint32_t gso) {
  uint32_t l4hl;
  if (udp) {
    l4hl = 8;
    if (l4off + l4hl > len) return -1;
  } else {
    if (l4off + 20 > len) return -1;
    l4hl = (uint32_t)(ip[l4off + 12] >> 4) * 4;
    if (l4hl < 20 || l4off + l4hl > len) return -1;
  }
  uint32_t hdr = l4off + l4hl, payload = len - hdr;
  if (gso == 0 || payload == 0) return -1;
  uint32_t n = (payload + gso - 1) / gso; /* len <= 65535: no overflow here nor in k * gso */
  if (n > o->end - o->next) return -2;
  uint32_t seq0 = udp ? 0 : be32(ip + l4off + 4);
  uint16_t id0 = v6 ? 0 : be16(ip + 4);
  uint32_t start = o->next, cursor0 = *o->cursor;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t chunk = payload - k * gso < gso ? payload - k * gso : gso;
    uint32_t total = hdr + chunk, index;
    uint8_t *p = split_reserve(o, total, &index);
    if (p == NULL) {
      o->next = start; /* undo: the caller flushes and retries the whole read */
      *o->cursor = cursor0;
      return -2;
    }
    memcpy(p, ip, hdr);
    memcpy(p + hdr, ip + hdr + k * gso, chunk);
    if (v6) {
      put_be16(p + 4, (uint16_t)(total - 40));
    } else {
      put_be16(p + 2, (uint16_t)total);
      put_be16(p + 4, (uint16_t)(id0 + k));
      ipv4_checksum(p);
    }
    uint8_t *l4 = p + l4off;
    if (udp) {
      put_be16(l4 + 4, (uint16_t)(total - l4off));
      l4_checksum(p, v6, PROTO_UDP, l4off, total, 6);
    } else {
      put_be32(l4 + 4, seq0 + k * gso);
      if (k + 1 < n) l4[13] &= (uint8_t)~0x09; /* FIN and PSH only on the last segment */
      if (k > 0) l4[13] &= (uint8_t)~0x80;     /* CWR only on the first */
      l4_checksum(p, v6, PROTO_TCP, l4off, total, 16);
    }
  }
  return (int)n;
}

static int split_one(split_out *o, const uint8_t *src, uint32_t len) {
  if (len < VNET_LEN + 20) return -1;
  struct virtio_net_hdr h;
  memcpy(&h, src, sizeof h);
  const uint8_t *ip = src + VNET_LEN;
  uint32_t iplen = len - VNET_LEN;
  if (iplen > WGTS_MAX_PACKET) return -1; /* more than 65535 bytes of IP payload: dropped */
  int version = ip[0] >> 4;
  if (version != 4 && version != 6) return -1;
  int v6 = version == 6;
  if (v6 && iplen < 40) return -1;
  if (!v6 && iplen > WGTS_MAX_PAYLOAD) return -1; /* past IPv4's 16-bit total length */
  uint8_t gso_type = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (gso_type != VIRTIO_NET_HDR_GSO_NONE) {
    uint32_t l4off = h.csum_start;
    uint32_t min_l4 = v6 ? 40 : (uint32_t)(ip[0] & 0x0f) * 4;
    if (min_l4 < 20 || l4off < min_l4 || l4off >= iplen) return -1; /* IHL < 5: not IPv4 */
    uint8_t proto = v6 ? ip[6] : ip[9];
    /* Only the plain cases the kernel produces for a TUN: TCP (or UDP) right after the IP
     * header of the stated version; anything else is not something we can segment correctly. */
    if (gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && !v6 && proto == PROTO_TCP && l4off == min_l4)
      return split_gso(o, ip, iplen, 0, 0, l4off, h.gso_size);
    if (gso_type == VIRTIO_NET_HDR_GSO_TCPV6 && v6 && proto == PROTO_TCP && l4off == 40)
      return split_gso(o, ip, iplen, 1, 0, l4off, h.gso_size);
    if (gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 && proto == PROTO_UDP && l4off == min_l4)
      return split_gso(o, ip, iplen, v6, 1, l4off, h.gso_size);
    return -1;
  }
  uint32_t index, cursor0 = *o->cursor;
  uint8_t *p = split_reserve(o, iplen, &index);
  if (p == NULL) return -2;
  memcpy(p, ip, iplen);
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    /* CHECKSUM_PARTIAL: the field holds the pseudo-header sum; finish it over the rest. */
    uint32_t start = h.csum_start, field = h.csum_start + h.csum_offset;
    if (start >= iplen || (uint64_t)field + 2 > iplen) {
      o->next--;
      *o->cursor = cursor0;
      return -1;
    }
    uint16_t c = (uint16_t)~wgts_csum_fold(wgts_csum_add(0, p + start, iplen - start));
    if (c == 0 && h.csum_offset == 6) c = 0xffff; /* a UDP checksum of 0 means "none" */
    memcpy(p + field, &c, 2);
  }
  return 1;
}

static napi_value tx_split(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 10, argv);
  uint8_t *src, *dst;
  size_t src_len, dst_len, n_cursor, n_off, n_len;
  uint32_t src_off, length, mtu, first, max;
  void *cursor_v, *off_v, *len_v;
  if (wgts_arg_bytes(env, argv[0], "src", &src, &src_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[1], "srcOffset", &src_off) != 0) return NULL;
  if (wgts_arg_u32(env, argv[2], "srcLength", &length) != 0) return NULL;
  if (wgts_arg_u32(env, argv[3], "mtu", &mtu) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[4], "dst", &dst, &dst_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[5], napi_uint32_array, "cursor", &cursor_v, &n_cursor) != 0) return NULL;
  if (wgts_arg_typed(env, argv[6], napi_uint32_array, "offsets", &off_v, &n_off) != 0) return NULL;
  if (wgts_arg_typed(env, argv[7], napi_uint32_array, "lengths", &len_v, &n_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[8], "first", &first) != 0) return NULL;
  if (wgts_arg_u32(env, argv[9], "max", &max) != 0) return NULL;
  if ((uint64_t)src_off + length > src_len || n_cursor < 1 || (uint64_t)first + max > n_off ||
      (uint64_t)first + max > n_len || (uint64_t)first + max > UINT32_MAX)
    return wgts_throw_range(env, "wgts_native: txSplit arguments out of range");
  if (mtu > WGTS_MAX_PAYLOAD) return wgts_throw_range(env, "wgts_native: mtu must be at most 65535");
  uint64_t usable = dst_len < UINT32_MAX ? dst_len : UINT32_MAX;
  split_out o = {dst, usable, cursor_v, off_v, len_v, first, first + max, mtu};
  int n = split_one(&o, src + src_off, length);
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, n, &out));
  return out;
}

/* ---- decrypted packets -> TUN, TCP segments coalesced -------------------------------------- */

typedef struct tcp_seg {
  uint8_t *ip;
  uint32_t len, l4off, hdr, payload;
  int v6;
} tcp_seg;

/* Whether ip[0..len) is a TCP segment we may coalesce: plain IPv4 (no options, not a fragment)
 * or IPv6 without extension headers, a payload, and a TCP checksum that verifies (the kernel
 * trusts a coalesced packet's data, so bad ones must be left to it to drop). */
static int tcp_candidate(uint8_t *ip, uint32_t len, tcp_seg *s) {
  if (len < 40) return 0;
  int version = ip[0] >> 4;
  if (version == 4) {
    if (ip[0] != 0x45 || ip[9] != PROTO_TCP || be16(ip + 2) != len) return 0;
    if ((be16(ip + 6) & 0x3fff) != 0) return 0; /* MF or a fragment offset */
    /* The rewritten header gets a fresh checksum, so a bad one must be left to the kernel. */
    if (wgts_csum_fold(wgts_csum_add(0, ip, 20)) != 0xffff) return 0;
    s->l4off = 20;
    s->v6 = 0;
  } else if (version == 6) {
    if (len < 60 || ip[6] != PROTO_TCP || be16(ip + 4) + 40u != len) return 0;
    s->l4off = 40;
    s->v6 = 1;
  } else {
    return 0;
  }
  uint32_t thl = (uint32_t)(ip[s->l4off + 12] >> 4) * 4;
  if (thl < 20 || s->l4off + thl >= len) return 0;
  uint8_t flags = ip[s->l4off + 13];
  if ((flags & ~0x18) != 0 || !(flags & 0x10)) return 0; /* ACK, optionally PSH; nothing else */
  s->ip = ip;
  s->len = len;
  s->hdr = s->l4off + thl;
  s->payload = len - s->hdr;
  uint64_t acc = pseudo_sum(ip, s->v6, PROTO_TCP, len - s->l4off);
  if (wgts_csum_fold(wgts_csum_add(acc, ip + s->l4off, len - s->l4off)) != 0xffff) return 0;
  return 1;
}

/* Whether b continues the flow of run head a whose next sequence number is next_seq. */
static int tcp_continues(const tcp_seg *a, const tcp_seg *b, uint32_t next_seq) {
  if (a->v6 != b->v6 || a->hdr != b->hdr || b->payload > a->payload) return 0;
  const uint8_t *x = a->ip, *y = b->ip;
  if (a->v6) {
    /* version/class/flow label, next header and hop limit, addresses */
    if (memcmp(x, y, 4) != 0 || x[7] != y[7] || memcmp(x + 8, y + 8, 32) != 0) return 0;
  } else {
    /* TOS, DF, TTL, protocol, addresses */
    if (x[1] != y[1] || (x[6] & 0x40) != (y[6] & 0x40) || x[8] != y[8] || memcmp(x + 12, y + 12, 8) != 0)
      return 0;
  }
  const uint8_t *tx = x + a->l4off, *ty = y + b->l4off;
  if (memcmp(tx, ty, 4) != 0) return 0;                               /* ports */
  if (be32(ty + 4) != next_seq) return 0;                             /* contiguous */
  if (memcmp(tx + 8, ty + 8, 4) != 0) return 0;                       /* ack */
  if (tx[12] != ty[12] || memcmp(tx + 14, ty + 14, 2) != 0) return 0; /* data offset, window */
  if ((ty[13] & ~0x08) != (tx[13] & ~0x08)) return 0;                 /* flags, PSH aside */
  if (a->hdr > a->l4off + 20 && memcmp(tx + 20, ty + 20, a->hdr - a->l4off - 20) != 0) return 0;
  return 1;
}

typedef struct write_tally {
  int32_t written, dropped, last;
  int fatal;
} write_tally;

static void tally(write_tally *t, ssize_t r, uint32_t packets) {
  if (r >= 0) {
    t->written += (int32_t)packets;
    return;
  }
  t->dropped += (int32_t)packets;
  t->last = -errno;
  if (errno == EBADF || errno == EBADFD) t->fatal = 1;
}

static ssize_t write_retry(int fd, const struct iovec *iov, int n) {
  ssize_t r;
  do r = writev(fd, iov, n);
  while (r < 0 && errno == EINTR);
  return r;
}

/* Writes run[0..n) as one superpacket (n >= 2). The head's headers are rewritten in place. */
static void write_run(int fd, tcp_seg *run, uint32_t n, write_tally *t) {
  tcp_seg *h = &run[0];
  uint8_t *ip = h->ip;
  uint32_t total = h->len;
  struct iovec iov[MAX_COALESCE + 2];
  struct virtio_net_hdr vh;
  memset(&vh, 0, sizeof vh);
  iov[0].iov_base = &vh;
  iov[0].iov_len = VNET_LEN;
  iov[1].iov_base = ip;
  iov[1].iov_len = h->len;
  for (uint32_t k = 1; k < n; k++) {
    iov[k + 1].iov_base = run[k].ip + run[k].hdr;
    iov[k + 1].iov_len = run[k].payload;
    total += run[k].payload;
  }
  uint8_t *tcp = ip + h->l4off;
  tcp[13] |= (uint8_t)(run[n - 1].ip[run[n - 1].l4off + 13] & 0x08); /* the last one's PSH */
  if (h->v6) {
    put_be16(ip + 4, (uint16_t)(total - 40));
  } else {
    put_be16(ip + 2, (uint16_t)total);
    ipv4_checksum(ip);
  }
  /* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum; the kernel does the rest
   * (every segment's own checksum was verified above). */
  uint16_t partial = wgts_csum_fold(pseudo_sum(ip, h->v6, PROTO_TCP, total - h->l4off));
  memcpy(tcp + 16, &partial, 2);
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh.gso_type = h->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  vh.hdr_len = (uint16_t)h->hdr;
  vh.gso_size = (uint16_t)h->payload;
  vh.csum_start = (uint16_t)h->l4off;
  vh.csum_offset = 16;
  tally(t, write_retry(fd, iov, (int)n + 1), n);
}

static void write_single(int fd, uint8_t *ip, uint32_t len, write_tally *t) {
  uint8_t *vh = ip - VNET_LEN; /* the caller guarantees this room */
  memset(vh, 0, VNET_LEN);
  ssize_t r;
  do r = write(fd, vh, (size_t)len + VNET_LEN);
  while (r < 0 && errno == EINTR);
  tally(t, r, 1);
}

static napi_value tun_write_coalesced(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 6, argv);
  int32_t fd, *status;
  uint8_t *buf;
  size_t buf_len, n_off, n_len;
  uint32_t count;
  void *off_v, *len_v;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[1], "buffer", &buf, &buf_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[2], napi_uint32_array, "offsets", &off_v, &n_off) != 0) return NULL;
  if (wgts_arg_typed(env, argv[3], napi_uint32_array, "lengths", &len_v, &n_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[4], "count", &count) != 0) return NULL;
  if (wgts_arg_status(env, argv[5], &status) != 0) return NULL;
  const uint32_t *offs = off_v, *lens = len_v;
  if (count > n_off || count > n_len)
    return wgts_throw_range(env, "wgts_native: count exceeds offsets/lengths");
  for (uint32_t i = 0; i < count; i++) {
    if (offs[i] < VNET_LEN || (uint64_t)offs[i] + lens[i] > buf_len || lens[i] == 0)
      return wgts_throw_range(env, "wgts_native: a packet lies outside the buffer (or has no vnet room)");
    if (wgts_check_len(env, lens[i], WGTS_MAX_PACKET, "a packet") != 0) return NULL;
  }

  write_tally t = {0, 0, 0, 0};
  tcp_seg run[MAX_COALESCE];
  uint32_t i = 0;
  while (i < count && !t.fatal) {
    uint8_t *ip = buf + offs[i];
    if (!tcp_candidate(ip, lens[i], &run[0]) || (ip[run[0].l4off + 13] & 0x08)) {
      write_single(fd, ip, lens[i], &t);
      i++;
      continue;
    }
    uint32_t n = 1, total = lens[i];
    uint32_t next_seq = be32(ip + run[0].l4off + 4) + run[0].payload;
    uint32_t j = i + 1;
    while (j < count && n < MAX_COALESCE) {
      tcp_seg s;
      if (!tcp_candidate(buf + offs[j], lens[j], &s) || !tcp_continues(&run[0], &s, next_seq)) break;
      if (total + s.payload > 65535 || run[n - 1].payload != run[0].payload) break;
      run[n++] = s;
      total += s.payload;
      next_seq += s.payload;
      j++;
      if (s.ip[s.l4off + 13] & 0x08) break; /* PSH ends a run */
    }
    if (n == 1)
      write_single(fd, ip, lens[i], &t);
    else
      write_run(fd, run, n, &t);
    i = j;
  }
  if (t.fatal) t.dropped += (int32_t)(count - i);
  status[0] = t.written;
  status[1] = t.dropped;
  status[2] = t.last;
  return NULL;
}

/* ---- UDP GRO and GSO ----------------------------------------------------------------------- */

static napi_value udp_set_gro(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  int32_t fd;
  bool on = false;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok)
    return wgts_throw_type(env, "wgts_native: on must be a boolean");
  int v = on ? 1 : 0;
  napi_value out;
  WGTS_CHECK(env, napi_get_boolean(env, setsockopt(fd, SOL_UDP, UDP_GRO, &v, sizeof v) == 0, &out));
  return out;
}

static ssize_t send_retry(int fd, struct msghdr *m) {
  ssize_t r;
  do r = sendmsg(fd, m, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return r;
}

/*
 * One sendmsg of m's datagrams with UDP_SEGMENT gso (0: none) and the sticky source *source (NULL:
 * none). When the kernel refuses the source, the same message goes again without it; if that
 * works, the source was the trouble: *source becomes NULL and *refused 1. If it fails too (a
 * GSO-sized EINVAL has nothing to do with the source), the source is kept and the second error is
 * returned, so a run that then falls back to single datagrams finds out for each of them.
 */
static ssize_t send_sticky(int fd, struct msghdr *m, uint8_t *control, uint16_t gso, int af,
                           const uint8_t **source, int *refused) {
  m->msg_controllen = wgts_put_control(control, gso, af, *source);
  m->msg_control = m->msg_controllen > 0 ? control : NULL;
  ssize_t r = send_retry(fd, m);
  if (r >= 0 || *source == NULL || !wgts_source_refused(errno)) return r;
  m->msg_controllen = wgts_put_control(control, gso, af, NULL);
  m->msg_control = m->msg_controllen > 0 ? control : NULL;
  r = send_retry(fd, m);
  if (r >= 0) {
    *source = NULL;
    *refused = 1;
  }
  return r;
}

static napi_value send_segments(napi_env env, napi_callback_info info) {
  size_t argc_ = 11;
  napi_value argv[11];
  WGTS_CHECK(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL));
  if (argc_ < 10) return wgts_throw_type(env, "wgts_native: too few arguments");
  int32_t fd, family, *status;
  uint8_t *buf, *addr;
  size_t buf_len, n_off, n_len, addr_len;
  uint32_t first, count, port;
  void *off_v, *len_v;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_i32(env, argv[1], "family", &family) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[2], "buffer", &buf, &buf_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[3], napi_uint32_array, "offsets", &off_v, &n_off) != 0) return NULL;
  if (wgts_arg_typed(env, argv[4], napi_uint32_array, "lengths", &len_v, &n_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[5], "first", &first) != 0) return NULL;
  if (wgts_arg_u32(env, argv[6], "count", &count) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[7], "address", &addr, &addr_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[8], "port", &port) != 0) return NULL;
  size_t n_status;
  if (wgts_arg_status_n(env, argv[9], &status, &n_status) != 0) return NULL;
  int af = family == 4 ? AF_INET : family == 6 ? AF_INET6 : -1;
  if (af < 0 || addr_len != (af == AF_INET ? 4u : 16u) || port > 65535)
    return wgts_throw_range(env, "wgts_native: bad family, address or port");
  const uint8_t *source = NULL;
  int refused = 0;
  if (argc_ >= 11 && wgts_arg_source(env, argv[10], af, &source) != 0) return NULL;
  const uint32_t *offs = off_v, *lens = len_v;
  if ((uint64_t)first + count > n_off || (uint64_t)first + count > n_len ||
      (uint64_t)first + count > UINT32_MAX)
    return wgts_throw_range(env, "wgts_native: first + count exceeds offsets/lengths");
  for (uint32_t i = first; i < first + count; i++) {
    if ((uint64_t)offs[i] + lens[i] > buf_len || lens[i] == 0)
      return wgts_throw_range(env, "wgts_native: a datagram lies outside the buffer");
    if (wgts_check_len(env, lens[i], WGTS_MAX_PAYLOAD, "a datagram") != 0) return NULL;
  }

  struct sockaddr_in6 dest;
  socklen_t dest_len = wgts_fill_addr(&dest, af, addr, (uint16_t)port);
  struct iovec iov[WGTS_GSO_MAX_SEGMENTS];
  union {
    uint8_t buf[WGTS_SEND_CONTROL];
    struct cmsghdr align;
  } control;
  int32_t sent = 0, dropped = 0, last = 0;
  uint32_t i = first, end = first + count;
  while (i < end) {
    uint32_t seg = lens[i], n = 1, bytes = seg;
    uint32_t most = seg > 0 ? WGTS_GSO_MAX_BYTES / seg : 1;
    if (most > WGTS_GSO_MAX_SEGMENTS) most = WGTS_GSO_MAX_SEGMENTS;
    if (most < 1) most = 1;
    /* A run: equal lengths, the last one possibly shorter (it then ends the run). */
    while (i + n < end && n < most && lens[i + n] <= seg && bytes + lens[i + n] <= WGTS_GSO_MAX_BYTES) {
      bytes += lens[i + n];
      n++;
      if (lens[i + n - 1] < seg) break;
    }
    for (uint32_t k = 0; k < n; k++) {
      iov[k].iov_base = buf + offs[i + k];
      iov[k].iov_len = lens[i + k];
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &dest;
    m.msg_namelen = dest_len;
    m.msg_iov = iov;
    m.msg_iovlen = n;
    ssize_t r = send_sticky(fd, &m, control.buf, n > 1 ? (uint16_t)seg : 0, af, &source, &refused);
    if (r < 0 && n > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EMSGSIZE)) {
      /* No GSO here (or not for this route; EMSGSIZE: the segments exceed the path MTU, which
       * UDP GSO never fragments): send the run one datagram at a time, as the per-packet path
       * does, so the kernel fragments them as it would any datagram. */
      m.msg_iovlen = 1;
      uint32_t k = 0;
      for (; k < n; k++) {
        m.msg_iov = &iov[k];
        if (send_sticky(fd, &m, control.buf, 0, af, &source, &refused) < 0) break;
        sent++;
      }
      if (k < n) {
        last = -errno;
        if (wgts_send_drops_rest(errno)) {
          dropped += (int32_t)(end - i - k);
          break;
        }
        dropped += (int32_t)(n - k);
      }
      i += n;
      continue;
    }
    if (r < 0) {
      last = -errno;
      if (wgts_send_drops_rest(errno)) {
        dropped += (int32_t)(end - i);
        break;
      }
      dropped += (int32_t)n;
    } else {
      sent += (int32_t)n;
    }
    i += n;
  }
  status[0] = sent;
  status[1] = dropped;
  status[2] = last;
  if (n_status >= 4) status[3] = refused;
  return NULL;
}

napi_status wgts_init_offload(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunSetOffload", NULL, tun_set_offload, NULL, NULL, NULL, napi_enumerable, NULL},
      {"txSplit", NULL, tx_split, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tunWriteCoalesced", NULL, tun_write_coalesced, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSetGro", NULL, udp_set_gro, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendSegments", NULL, send_segments, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
