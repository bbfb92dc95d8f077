/**
 * The userspace TCP (RFC 9293 with RFC 7323 window scaling, RFC 2018 SACK, RFC 6298 RTO, RFC
 * 5681/6582 NewReno, RFC 5961 RST/SYN/ACK hardening): the public surface of src/netstack/tcp.
 */
export { TcpLayer } from './layer.js';
export type { TcpOptions } from './constants.js';
