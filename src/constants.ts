/**
 * Every protocol and implementation constant of wgts, named as in the WireGuard whitepaper
 * (section 6, "Timers & Stateless Reaction" and section 5.4, "Messages"), with derived values
 * computed rather than written out. The spec block comes first, then the values that are ours.
 */

// ---- Spec: the whitepaper and wireguard.com/protocol -------------------------------------------

/** Noise construction name, hashed into the chaining key (the paper's C_i := HASH(CONSTRUCTION)). */
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
/** Prologue mixed into the hash (the paper's IDENTIFIER). */
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
/** Label for the mac1 key: HASH(LABEL_MAC1 ‖ S_pub). */
export const LABEL_MAC1 = 'mac1----';
/** Label for the cookie-reply key: HASH(LABEL_COOKIE ‖ S_pub). */
export const LABEL_COOKIE = 'cookie--';

export const REKEY_AFTER_MESSAGES = 1n << 60n;
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;
/** Seconds, expressed in milliseconds because every clock in wgts is monotonic milliseconds. */
export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
/** Retransmissions of an initiation add up to this much random jitter (wireguard-go and kernel). */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 333;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Number of initiations sent before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
/** All key material of a peer is zeroed after 3 × REJECT_AFTER_TIME without a new handshake. */
export const KEY_ZEROING_AFTER_MS = REJECT_AFTER_TIME_MS * 3;
/** A new handshake is started when data was sent but nothing came back within this time. */
export const NEW_HANDSHAKE_AFTER_MS = KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS;
/** An initiator rekeys on receive when its current keypair is this old (kernel: REJECT − KEEPALIVE − REKEY_TIMEOUT). */
export const REKEY_ON_RECEIVE_AFTER_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;

export const COOKIE_SECRET_MAX_AGE_MS = 120_000;
export const COOKIE_SECRET_LATENCY_MS = 5_000;

/** Initiations are not sent to (or accepted from) one peer more often than 50 per second. */
export const INITIATIONS_PER_SECOND = 50;
export const HANDSHAKE_INITIATION_RATE_MS = 1000 / INITIATIONS_PER_SECOND;

/** Replay window (RFC 6479 layout): 8192 bits of ring, one 64-bit word held back, so 8128 usable. */
export const REPLAY_WINDOW_RING_BITS = 8192;
export const REPLAY_WINDOW_WORD_BITS = 64;
export const REPLAY_WINDOW_SIZE = REPLAY_WINDOW_RING_BITS - REPLAY_WINDOW_WORD_BITS;

/** Plaintext is padded with zeros to a multiple of this (capped at the MTU). */
export const PADDING_MULTIPLE = 16;

export const MESSAGE_TYPE_INITIATION = 1;
export const MESSAGE_TYPE_RESPONSE = 2;
export const MESSAGE_TYPE_COOKIE_REPLY = 3;
export const MESSAGE_TYPE_TRANSPORT = 4;

export const KEY_LENGTH = 32;
export const HASH_LENGTH = 32;
export const MAC_LENGTH = 16;
export const AEAD_TAG_LENGTH = 16;
export const TIMESTAMP_LENGTH = 12;
export const XNONCE_LENGTH = 24;
export const COOKIE_LENGTH = 16;

/** type(1) reserved(3) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16) */
export const INITIATION_SIZE =
  4 + 4 + KEY_LENGTH + (KEY_LENGTH + AEAD_TAG_LENGTH) + (TIMESTAMP_LENGTH + AEAD_TAG_LENGTH) + 2 * MAC_LENGTH;
/** type(1) reserved(3) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16) */
export const RESPONSE_SIZE = 4 + 4 + 4 + KEY_LENGTH + AEAD_TAG_LENGTH + 2 * MAC_LENGTH;
/** type(1) reserved(3) receiver(4) nonce(24) cookie(16+16) */
export const COOKIE_REPLY_SIZE = 4 + 4 + XNONCE_LENGTH + COOKIE_LENGTH + AEAD_TAG_LENGTH;
/** type(1) reserved(3) receiver(4) counter(8) */
export const TRANSPORT_HEADER_SIZE = 16;
/** A keepalive is a transport message with an empty payload: header plus tag. */
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + AEAD_TAG_LENGTH;

// ---- Implementation: wgts's own choices (wireguard-go's values where it has one) ----------------

export const DEFAULT_MTU = 1420;
/** IPv6 header (40) + UDP (8) + transport header (16) + tag (16): what wg-quick subtracts. */
export const TUNNEL_OVERHEAD = 80;

/** Handshake rate limit per source address (IPv6 per /64): a bucket of 5, refilled at 20 per second. */
export const RATELIMIT_PACKETS_PER_SECOND = 20;
export const RATELIMIT_PACKETS_BURSTABLE = 5;
/** Rate-limiter entries untouched for this long are forgotten. */
export const RATELIMIT_GC_INTERVAL_MS = 1_000;
/** Upper bound on the rate limiter's table, so a spoofed-source flood cannot grow memory. */
export const RATELIMIT_MAX_ENTRIES = 65_536;

/** Handshake queue capacity (wireguard-go's QueueHandshakeSize); "under load" at 1/8 of it. */
export const HANDSHAKE_QUEUE_SIZE = 1024;
export const UNDER_LOAD_QUEUE_THRESHOLD = HANDSHAKE_QUEUE_SIZE / 8;
/** Once under load, the device stays there this long after the queue drains. */
export const UNDER_LOAD_AFTER_MS = 1_000;

/**
 * Endpoint hostnames (src/device/endpoint-name.ts, docs/uapi-extensions.md): a peer configured
 * with `Endpoint = host:port` through wgts re-resolves the name every WGTS_RESOLVE_INTERVAL
 * seconds (0 = never), and sooner when its handshake stalls: RESOLVE_STALL_ATTEMPTS initiations
 * in a row went unanswered (REKEY_TIMEOUT each, so one lost datagram is not enough), then at most
 * once per RESOLVE_STALL_GAP_MS while the attempt lasts. A failed lookup is retried after
 * RESOLVE_RETRY_MIN_MS, doubling up to RESOLVE_RETRY_MAX_MS; one lookup may run
 * RESOLVE_TIMEOUT_MS (getaddrinfo's own default is 5 s a try, two tries) and at most
 * RESOLVE_MAX_IN_FLIGHT run at once (each holds one of libuv's four pool threads until it ends).
 */
export const RESOLVE_INTERVAL_DEFAULT_S = 120;
export const RESOLVE_STALL_ATTEMPTS = 2;
export const RESOLVE_STALL_GAP_MS = 2 * REKEY_TIMEOUT_MS;
export const RESOLVE_RETRY_MIN_MS = 1_000;
export const RESOLVE_RETRY_MAX_MS = 60_000;
export const RESOLVE_TIMEOUT_MS = 10_000;
export const RESOLVE_MAX_IN_FLIGHT = 2;
