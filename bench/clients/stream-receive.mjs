// One client library reading one server stream (StreamingFromServer, `size`-byte payloads) as fast
// as the server sends it; counts the messages consumed in the measured window, after a warm-up.
//   node stream-receive.mjs <library> <port> <seconds> <size>  → RECEIVE <messages> <seconds>
import { clientFor } from './libraries.mjs';

const [library, portText, secondsText, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const client = await clientFor(library, portText);
const stop = new AbortController();
let messages = 0;
let wrong = 0;
let first;
const flowing = new Promise((resolve) => (first = resolve));
const reading = client.receive(client.request({ responseSize: size, payload: { body: new Uint8Array(size) } }), stop.signal, (response) => {
  if (messages++ === 0) first();
  if (response.payload.body.length !== size) wrong++;
});
let over = false;
void reading.finally(() => (over = true)).catch(() => undefined);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Warm up from the first message (connecting is not what is measured). The count is read by
// timers, which run between the reader's turns; their own times are used. The window lasts on
// until it holds ten messages (bounded to 10 s, and over if the call ends): a short window inside
// a stall of the server would otherwise come out empty.
await Promise.race([flowing, reading]);
await sleep(Math.min(300, Number(secondsText) * 500));
const [from, start] = [messages, process.hrtime.bigint()];
await sleep(Number(secondsText) * 1000);
for (const until = Date.now() + 10_000; messages - from < 10 && !over && Date.now() < until; ) await sleep(10);
const [to, end] = [messages, process.hrtime.bigint()];
stop.abort();
await reading;
client.close();
if (wrong > 0) throw new Error(`${wrong} responses of the wrong size`);
console.log(`RECEIVE ${to - from} ${Number(end - start) / 1e9}`);
