/** The part of gearmanode (pure-JavaScript Gearman client, no types of its own) the fidelity tests use. */
declare module 'gearmanode' {
  import type { EventEmitter } from 'node:events';
  interface Job extends EventEmitter {
    handle?: string;
    response?: Buffer;
  }
  interface Client {
    submitJob(name: string, payload: string | Buffer, options?: { background?: boolean; priority?: 'HIGH' | 'NORMAL' | 'LOW'; unique?: string }): Job;
    close(): void;
  }
  const gearmanode: { client(options: { servers: Array<{ host: string; port: number }> }): Client };
  export default gearmanode;
}
