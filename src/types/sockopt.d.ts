// sockopt ships no types: the two calls DIPS uses (integer options only, as the package documents).
declare module 'sockopt' {
  import type { Server, Socket } from 'node:net';
  export function setsockopt(socket: Server | Socket, level: number, option: number, value: number): void;
  export function getsockopt(socket: Server | Socket, level: number, option: number): number;
}
