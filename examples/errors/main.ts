// Rich error details: the server fails with a google.rpc.BadRequest naming each bad field, a
// google.rpc.RetryInfo when it is called too often, and a detail message of its own; the client
// reads them with findDetails and honours RetryInfo by waiting as long as it asks, then retrying.
//   node --import tsx examples/errors/main.ts
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import {
  BadRequest,
  RetryInfo,
  RpcError,
  StatusCode,
  createClient,
  findDetails,
  insecureChannel,
  packDetail,
  server,
  statusCodeName,
  type FieldViolation,
  type ServiceDefinition,
  type ServicerContext,
} from '../../lib/index.js';
import { loadProto, type MessageType } from '../../lib/proto/index.js';

interface CreateUserRequest {
  name: string;
  email: string;
  age: number;
}
interface User {
  id: number;
  name: string;
}
interface DuplicateUser {
  existingId: number;
}

const { users } = loadProto(new URL('./users.proto', import.meta.url).pathname) as unknown as {
  users: { v1: { Users: ServiceDefinition; DuplicateUser: MessageType<DuplicateUser> } };
};
const { Users, DuplicateUser } = users.v1;

// --- The server

const CREATE_INTERVAL_MS = 400; // at most one user created per 400 ms
let nextCreateAt = 0;
const byEmail = new Map<string, User>();

function createUser(request: CreateUserRequest, context: ServicerContext): User {
  // Every bad field at once, so the client can fix them all in one go.
  const violations: FieldViolation[] = [];
  if (request.name === '') violations.push({ field: 'name', description: 'must not be empty' });
  if (!request.email.includes('@')) violations.push({ field: 'email', description: `"${request.email}" is not an email address` });
  if (request.age <= 0) violations.push({ field: 'age', description: `must be positive, got ${request.age}` });
  if (violations.length > 0) {
    throw new RpcError(StatusCode.INVALID_ARGUMENT, `Cannot create user: ${violations.length} invalid fields`, {
      errorDetails: [packDetail(BadRequest, { fieldViolations: violations })],
    });
  }

  const existing = byEmail.get(request.email);
  if (existing !== undefined) {
    // A detail type of our own, from users.proto.
    context.abortWithStatus({
      code: StatusCode.ALREADY_EXISTS,
      details: `Cannot create user: "${request.email}" is taken`,
      errorDetails: [packDetail(DuplicateUser, { existingId: existing.id })],
    });
  }

  const now = performance.now();
  if (now < nextCreateAt) {
    // +1 ms so a client that waits exactly this long is never a hair early.
    const waitMs = Math.ceil(nextCreateAt - now) + 1;
    context.abortWithStatus({
      code: StatusCode.UNAVAILABLE,
      details: 'Cannot create user: too many requests',
      errorDetails: [packDetail(RetryInfo, { retryDelay: { seconds: Math.floor(waitMs / 1000), nanos: (waitMs % 1000) * 1_000_000 } })],
    });
  }
  nextCreateAt = now + CREATE_INTERVAL_MS;
  const user = { id: byEmail.size + 1, name: request.name };
  byEmail.set(request.email, user);
  return user;
}

const srv = server();
srv.addService(Users, { createUser });
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();

// --- The client

const channel = insecureChannel(`127.0.0.1:${port}`);
const client = createClient(Users, channel) as unknown as { createUser(request: CreateUserRequest, options?: { timeout?: number }): Promise<User> };

/**
 * Calls `call`, and when it fails with a RetryInfo, waits as long as the server asks (capped)
 * and tries again, up to `attempts` times in all.
 */
async function honouringRetryInfo<T>(call: () => Promise<T>, attempts = 3, maxWaitMs = 5_000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const [retry] = err instanceof RpcError ? findDetails(err, RetryInfo) : [];
      if (retry?.retryDelay === undefined || attempt >= attempts) throw err;
      const waitMs = Math.min(maxWaitMs, retry.retryDelay.seconds * 1000 + retry.retryDelay.nanos / 1e6);
      console.log(`rate limited: ${statusCodeName((err as RpcError).code)}, RetryInfo asks to wait ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

try {
  try {
    await client.createUser({ name: '', email: 'ada.example.com', age: -1 });
  } catch (err) {
    if (!(err instanceof RpcError) || err.code !== StatusCode.INVALID_ARGUMENT) throw err;
    console.log(`bad request: INVALID_ARGUMENT "${err.details}"`);
    for (const { fieldViolations } of findDetails(err, BadRequest)) {
      for (const violation of fieldViolations) console.log(`  ${violation.field}: ${violation.description}`);
    }
  }

  const ada = await client.createUser({ name: 'Ada', email: 'ada@example.com', age: 36 });
  console.log(`created: user ${ada.id} "${ada.name}"`);

  // Called again at once: the server asks us to wait, and we do.
  const started = performance.now();
  const grace = await honouringRetryInfo(() => client.createUser({ name: 'Grace', email: 'grace@example.com', age: 45 }));
  console.log(`created after waiting: user ${grace.id} "${grace.name}", ${Math.floor(performance.now() - started)} ms after the first try`);

  try {
    await client.createUser({ name: 'Ada again', email: 'ada@example.com', age: 36 });
  } catch (err) {
    if (!(err instanceof RpcError) || err.code !== StatusCode.ALREADY_EXISTS) throw err;
    const [duplicate] = findDetails(err, DuplicateUser);
    console.log(`duplicate: ALREADY_EXISTS, existing user ${duplicate?.existingId}`);
  }
} finally {
  channel.close();
  await srv.stop(1);
}
