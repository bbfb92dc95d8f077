/*
 * wgts native addon: every size and limit the C code uses, in one place (DESIGN.md "C habits").
 * A limit that bounds what JavaScript may pass is checked where the argument is read, in 64-bit
 * arithmetic, and breaking it is a RangeError (DESIGN.md "Bounds"); a limit on what the network
 * hands us is a counted drop instead.
 */
#ifndef WGTS_LIMITS_H
#define WGTS_LIMITS_H

/* The most bytes of IP payload (RFC 8200 payload length, no jumbograms; RFC 791's total length
 * is smaller still): no datagram the addon sends, and no IP payload it splits or writes, is
 * longer. */
#define WGTS_MAX_PAYLOAD 65535u

/* The largest IP packet: an IPv6 header and the largest payload (an IPv4 packet stops 40 bytes
 * earlier, at its 16-bit total length). */
#define WGTS_MAX_PACKET (WGTS_MAX_PAYLOAD + 40u)

/* Bytes of struct virtio_net_hdr in front of every read and write of a TUN opened with
 * IFF_VNET_HDR (the legacy header: no num_buffers field). */
#define WGTS_VNET_LEN 10u

/* The largest slot a reader may fill: one IP packet behind its vnet header. A UDP reader's slot is
 * one datagram, or a UDP_GRO run of them, which the kernel also keeps under 64 KiB. */
#define WGTS_MAX_SLOT_CAPACITY (WGTS_MAX_PACKET + WGTS_VNET_LEN)

/* The most slots one reader may have: recvmmsg descriptors are allocated per slot, and a batch is
 * delivered to JavaScript in one call (the daemon uses 64). */
#define WGTS_MAX_SLOTS 4096u

/* WireGuard transport data (whitepaper 5.4.6): the 16-byte header (type, reserved, receiver,
 * counter) in front of each plaintext, the Poly1305 tag after it, and the padding multiple. */
#define WGTS_HEADER_LEN 16u
#define WGTS_TAG_LEN 16u
#define WGTS_PAD_MULTIPLE 16u

/* Largest batch one native send call hands to sendmmsg at once; larger batches are chunked. */
#define WGTS_SEND_CHUNK 64

/* UDP GSO (UDP_SEGMENT): the kernel takes at most 64 segments (UDP_MAX_SEGMENTS) per send, and a
 * run stays under 65000 bytes so that the superpacket with its headers fits one IP datagram. */
#define WGTS_GSO_MAX_SEGMENTS 64u
#define WGTS_GSO_MAX_BYTES 65000u

/* TCP segments joined into one TSO superpacket written to a TUN (tunWriteCoalesced). */
#define WGTS_MAX_COALESCE 64u

/* How many full UDP batches one readable event may deliver (native/reader.c explains why). */
#define WGTS_UDP_REPEAT 8

/* Bytes per address in the `addresses` arrays of a UDP reader and of sendBatch: room for an IPv6
 * address; an IPv4 one uses the first 4. */
#define WGTS_ADDRESS_RECORD 16u

/* Bytes per slot in a UDP reader's `locals`: 16 address bytes, then the interface index. */
#define WGTS_LOCAL_RECORD 20u

/* Send buffer of each end of packetPair(): room for a few 64 KB superpackets in flight (the
 * default holds about two). */
#define WGTS_PACKET_PAIR_SNDBUF (1 << 20)

/* Netlink: one RTM_GETROUTE answer fits 4 KiB; a change notification read to drain a watch fits
 * 8 KiB (a longer one is truncated, which is fine: only "something changed" is kept); one drain
 * reads at most this many notifications, so a storm cannot hold the event loop. */
#define WGTS_ROUTE_REPLY_BYTES 4096
#define WGTS_ROUTE_DRAIN_BYTES 8192
#define WGTS_ROUTE_DRAIN_MAX 64

/* Seconds a route question waits for the kernel's answer (it answers at once; this only bounds a
 * kernel that does not). */
#define WGTS_ROUTE_TIMEOUT_S 1

/* The largest message thrown with an errno (syscall name, strerror text, symbolic name). */
#define WGTS_ERROR_MESSAGE 192

/* A ChaCha20-Poly1305 transport key and an X25519 key or point (whitepaper 5.4.6, RFC 7748). */
#define WGTS_KEY_LEN 32u

/* Transport crypto on several threads (aead.c, crypto-pool.c). A batch is spread over more threads
 * only when each gets at least WGTS_THREAD_MIN_BYTES (256 KiB, ~180 packets of 1,420 bytes, ~100
 * µs of direct-engine crypto): waking a worker is a futex round trip of 5-40 µs here depending on
 * load, and on a machine with no idle CPU it only adds that. At 32 KiB (chosen for EVP's slower
 * ~0.9 µs a packet) a busy 2-CPU pair ran one TCP stream 25% slower with threads than without;
 * at 256 KiB, 1.03x as fast (bench/run.mjs, wgtsd against wgtsd-1thread). A pool runs at most
 * WGTS_POOL_MAX threads (the caller included). Its threads claim chunks of a batch that shrink as
 * the batch is used up (crypto-pool.c claim), down to WGTS_MIN_CHUNK entries (~5 µs of crypto):
 * smaller would cost more in claims than it balances. When the caller runs out of chunks it spins
 * WGTS_JOIN_SPINS pauses (~20-40 µs) for a worker still in its last chunk before it sleeps. */
#define WGTS_THREAD_MIN_BYTES 262144u
#define WGTS_POOL_MAX 64
#define WGTS_MIN_CHUNK 8u
#define WGTS_JOIN_SPINS 1000u

#endif
