/**
 * A Node service calls a DIPS function with a plain NATS request (nats.js
 * alone, no DipsClient).
 *
 *   node plain-call.js nats://127.0.0.1:4222,nats://127.0.0.1:4223
 */
import { writeFileSync } from 'node:fs';
import { connect, ErrorCode, headers, NatsError } from 'nats';

const servers = (process.argv[2] ?? 'nats://127.0.0.1:4222').split(',');
const nc = await connect({ servers, timeout: 2000 }).catch((err: Error) => {
  console.error(`cannot reach NATS: ${err.message}`);
  process.exit(69);
});

const timeoutMs = 5000;
const h = headers();
h.set('Dips-Encoding', 'json');
// the worker stops working for us when we stop waiting
h.set('Dips-Deadline', String(Date.now() + timeoutMs));
const body = JSON.stringify({ pSN: '42', pData: Array.from({ length: 80 }, (_, i) => (i * 37) % 100) });

try {
  const reply = await nc.request('dips.fn.ecard', body, { timeout: timeoutMs, headers: h });
  const code = reply.headers?.get('Nats-Service-Error-Code');
  if (code) {
    console.error(`DIPS error ${code}: ${reply.headers?.get('Nats-Service-Error')}`);
    process.exitCode = 1;
  } else {
    writeFileSync('card.png', reply.data);
    console.log(`card.png: ${reply.headers?.get('Content-Type')}, ${reply.data.length} bytes`);
  }
} catch (err) {
  const noWorker = err instanceof NatsError && err.code === ErrorCode.NoResponders;
  console.error(noWorker ? 'no worker serves ecard' : `no reply: ${(err as Error).message}`);
  process.exitCode = 69;
} finally {
  await nc.close();
}
