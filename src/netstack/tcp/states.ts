/**
 * RFC 9293 section 3.3.2's state diagram as one table: for each state, the events that move it
 * and where to. The connection changes state only through this table, so a transition the RFC
 * does not draw cannot happen silently. RST, abort and timeouts lead to CLOSED from every state
 * and are not listed per state.
 */
import type { TcpStateName } from '../types.js';

export type TcpEvent =
  | 'active-open'
  | 'passive-open'
  | 'rcv-syn'
  | 'rcv-syn-ack'
  | 'rcv-ack-of-syn'
  | 'close'
  | 'rcv-fin'
  | 'rcv-ack-of-fin'
  | 'rcv-fin-ack-of-fin'
  | 'timeout-2msl';

export const TRANSITIONS: Readonly<Record<TcpStateName, Readonly<Partial<Record<TcpEvent, TcpStateName>>>>> =
  {
    CLOSED: { 'active-open': 'SYN-SENT', 'passive-open': 'LISTEN' },
    LISTEN: { 'rcv-syn': 'SYN-RECEIVED', close: 'CLOSED' },
    'SYN-SENT': { 'rcv-syn-ack': 'ESTABLISHED', 'rcv-syn': 'SYN-RECEIVED', close: 'CLOSED' },
    'SYN-RECEIVED': { 'rcv-ack-of-syn': 'ESTABLISHED', close: 'FIN-WAIT-1', 'rcv-fin': 'CLOSE-WAIT' },
    ESTABLISHED: { close: 'FIN-WAIT-1', 'rcv-fin': 'CLOSE-WAIT' },
    'FIN-WAIT-1': { 'rcv-ack-of-fin': 'FIN-WAIT-2', 'rcv-fin': 'CLOSING', 'rcv-fin-ack-of-fin': 'TIME-WAIT' },
    'FIN-WAIT-2': { 'rcv-fin': 'TIME-WAIT' },
    'CLOSE-WAIT': { close: 'LAST-ACK' },
    CLOSING: { 'rcv-ack-of-fin': 'TIME-WAIT' },
    'LAST-ACK': { 'rcv-ack-of-fin': 'CLOSED' },
    'TIME-WAIT': { 'timeout-2msl': 'CLOSED', 'rcv-fin': 'TIME-WAIT' },
  };

/** The state after `event`, or null when the diagram has no such edge. */
export function nextState(state: TcpStateName, event: TcpEvent): TcpStateName | null {
  return TRANSITIONS[state][event] ?? null;
}

/** RFC 9293's synchronized states: everything after the handshake started being answered. */
export function isSynchronized(state: TcpStateName): boolean {
  return state !== 'CLOSED' && state !== 'LISTEN' && state !== 'SYN-SENT';
}
